package tagging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Source is the commit an image's own inputs come from: the last commit
// that changed them, or HEAD when they have uncommitted changes. An image
// whose inputs did not change keeps the same Source however far HEAD moves,
// so that its build (file times, "created" and "revision") does not change.
type Source struct {
	// Commit is the full hash; empty outside git or before the first commit.
	Commit string
	// Time is the commit's committer time, UTC.
	Time time.Time
	// Dirty reports uncommitted changes among the inputs; Commit and Time
	// are then HEAD's.
	Dirty bool
}

// LastChange finds the last commit, from HEAD back, that changed a file
// under paths (folders or files, absolute or relative to dir) other than
// those under exclude, in the git work tree of dir whose HEAD facts are f.
// Outside git, when a path is outside the work tree, or when no commit
// touches the paths, HEAD's commit and time stand in.
func LastChange(ctx context.Context, dir string, f Facts, paths, exclude []string) (Source, error) {
	head := Source{Commit: f.Commit, Time: f.CommitTime}
	if !f.InRepo || f.Commit == "" || len(paths) == 0 {
		return head, nil
	}
	abs := func(p string) string {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
	args := []string{"log", "-1", "--no-show-signature", "--format=%H %ct", f.Commit, "--"}
	for _, p := range paths {
		args = append(args, abs(p))
	}
	for _, p := range exclude {
		args = append(args, ":(exclude)"+abs(p))
	}
	out, err := git{dir: dir}.run(ctx, args...)
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.stderr, "outside repository") {
			return head, nil
		}
		return Source{}, fmt.Errorf("finding the last commit of %s: %w", strings.Join(paths, ", "), err)
	}
	hash, ct, ok := strings.Cut(out, " ")
	if !ok {
		return head, nil
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return Source{}, fmt.Errorf("commit time %q: %w", ct, err)
	}
	return Source{Commit: hash, Time: time.Unix(secs, 0).UTC()}, nil
}

// LastChanges is LastChange for several images at once: sets[i] are the
// paths of image i. One git log walks back from HEAD over all the paths
// and stops as soon as every image has its commit, instead of one git
// process per image. When that walk cannot be made (a path outside the
// work tree), each image is looked up on its own.
func LastChanges(ctx context.Context, dir string, f Facts, sets [][]string, exclude []string) ([]Source, error) {
	out := make([]Source, len(sets))
	head := Source{Commit: f.Commit, Time: f.CommitTime}
	for i := range out {
		out[i] = head
	}
	if !f.InRepo || f.Commit == "" || len(sets) == 0 {
		return out, nil
	}
	if len(sets) > 1 {
		if found, err := walkChanges(ctx, dir, f, sets, exclude); err == nil {
			return found, nil
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	for i, paths := range sets {
		s, err := LastChange(ctx, dir, f, paths, exclude)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func walkChanges(ctx context.Context, dir string, f Facts, sets [][]string, exclude []string) ([]Source, error) {
	topOut, err := git{dir: dir}.run(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	top := realDir(topOut)
	rel := func(p string) (string, bool) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		r, err := filepath.Rel(top, realDir(p))
		if err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return "", false
		}
		return filepath.ToSlash(r), true
	}
	relSets := make([][]string, len(sets))
	args := []string{"-c", "core.quotePath=false", "log", "--no-show-signature", "--no-renames", "--name-only", "--format=\x01%H %ct", f.Commit, "--"}
	for i, paths := range sets {
		for _, p := range paths {
			r, ok := rel(p)
			if !ok {
				return nil, fmt.Errorf("%s is outside the work tree", p)
			}
			relSets[i] = append(relSets[i], r)
			args = append(args, ":(top)"+r)
		}
	}
	for _, p := range exclude {
		if r, ok := rel(p); ok {
			args = append(args, ":(top,exclude)"+r)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running git: %w", err)
	}
	out := make([]Source, len(sets))
	done := make([]bool, len(sets))
	left := len(sets)
	var cur Source
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for left > 0 && sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "\x01"); ok {
			hash, ct, _ := strings.Cut(rest, " ")
			secs, err := strconv.ParseInt(ct, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("commit time %q: %w", ct, err)
			}
			cur = Source{Commit: hash, Time: time.Unix(secs, 0).UTC()}
			continue
		}
		if line == "" || cur.Commit == "" {
			continue
		}
		for i, paths := range relSets {
			if done[i] {
				continue
			}
			for _, p := range paths {
				if p == "." || line == p || strings.HasPrefix(line, p+"/") {
					out[i], done[i] = cur, true
					left--
					break
				}
			}
		}
	}
	scanErr := sc.Err()
	cancel() // every image found: the rest of history is not needed
	waitErr := cmd.Wait()
	if left > 0 && (scanErr != nil || waitErr != nil) {
		return nil, fmt.Errorf("walking the history: %v %v", scanErr, waitErr)
	}
	head := Source{Commit: f.Commit, Time: f.CommitTime}
	for i := range out {
		if !done[i] {
			out[i] = head // no commit touches the paths
		}
	}
	return out, nil
}

// realDir resolves the symbolic links of the existing part of p.
func realDir(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	d, base := filepath.Split(filepath.Clean(p))
	if d == "" || filepath.Clean(d) == filepath.Clean(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(realDir(filepath.Clean(d)), base)
}
