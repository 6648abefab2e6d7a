package tagging

import (
	"context"
	"errors"
	"fmt"
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
