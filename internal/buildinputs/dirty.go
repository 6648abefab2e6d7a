package buildinputs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Dirty lists, for each input, its uncommitted changes: files among its
// build inputs that differ from HEAD, untracked files included (files git
// ignores are not). Paths are absolute. One git status serves every input.
// dir is any folder of the work tree; outside a work tree nothing is dirty.
func Dirty(ctx context.Context, dir string, ins []Input) ([][]string, error) {
	out := make([][]string, len(ins))
	topOut, err := gitOutput(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		if strings.Contains(err.Error(), "not a git repository") {
			return out, nil
		}
		return nil, err
	}
	top := resolve(strings.TrimSpace(string(topOut)))

	args := []string{"status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--"}
	n := 0
	for _, in := range ins {
		for _, p := range []string{in.Context, in.Dockerfile, in.IgnoreFile()} {
			if p == "" {
				continue
			}
			// git refuses pathspecs outside the work tree; such inputs are
			// not the commit's to claim.
			if _, ok := within(top, resolve(p)); ok {
				args = append(args, resolve(p))
				n++
			}
		}
	}
	if n == 0 {
		return out, nil
	}
	raw, err := gitOutput(ctx, top, args...)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, rec := range bytes.Split(raw, []byte{0}) {
		if len(rec) < 4 {
			continue
		}
		changed = append(changed, filepath.Join(top, filepath.FromSlash(string(rec[3:]))))
	}
	for i, in := range ins {
		m, err := in.matcher()
		if err != nil {
			return nil, err
		}
		for _, p := range changed {
			sent, err := in.Sends(m, p)
			if err != nil {
				return nil, err
			}
			if sent && (in.OwnFile == nil || !in.OwnFile(p)) {
				out[i] = append(out[i], p)
			}
		}
	}
	return out, nil
}

func gitOutput(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
