package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// Target is a set of files rewritten with the same options: one entry of
// the manifests of slipway.yaml.
type Target struct {
	Files   []string
	Options Options
	// Skipped are the Helm chart templates folders that Discover left
	// out of the folders it walked.
	Skipped []string
}

// FileChange is the plan for one file.
type FileChange struct {
	Path  string
	Old   []byte // the file as read
	New   []byte // the file as it will be written; Old itself when unchanged
	Edits []Edit

	read fs.FileInfo // the file when it was read; nil when not read by Plan
}

// Changed reports whether the file's bytes change.
func (f *FileChange) Changed() bool { return !bytes.Equal(f.Old, f.New) }

// Changes is the outcome of a plan: every file with its old and new bytes.
// Nothing is written until Apply.
type Changes struct {
	Files []FileChange // sorted by path
	// Unmatched are the images that no file references, up to date or
	// not: a bump that finds nothing to do for them.
	Unmatched []Image
}

// Plan reads files and computes every edit before anything is written. It
// fails, naming each bad file (file:line where known), when any file cannot
// be read or parsed, or when an image is invalid; the error then holds a
// *FileError per file. Files are read in parallel.
func Plan(ctx context.Context, files []string, images []Image, opts Options) (*Changes, error) {
	return PlanTargets(ctx, []Target{{Files: files, Options: opts}}, images)
}

// PlanTargets is Plan with options per set of files. A file that belongs to
// several targets is rewritten by each in turn, in the order given.
func PlanTargets(ctx context.Context, targets []Target, images []Image) (*Changes, error) {
	byFile := map[string][]*compiled{}
	var files []string
	for i, t := range targets {
		c, err := compile(images, t.Options)
		if err != nil {
			if len(targets) > 1 {
				return nil, fmt.Errorf("manifests entry %d: %w", i+1, err)
			}
			return nil, err
		}
		for _, f := range t.Files {
			f = filepath.Clean(f)
			if _, ok := byFile[f]; !ok {
				files = append(files, f)
			}
			byFile[f] = append(byFile[f], c)
		}
	}
	sort.Strings(files)
	ch := &Changes{Files: make([]FileChange, len(files))}
	errs := make([]error, len(files))
	matched := make([]map[string]bool, len(files))
	parallel(ctx, len(files), func(i int) {
		f := &ch.Files[i]
		f.Path = files[i]
		src, fi, err := readFile(f.Path)
		if err != nil {
			errs[i] = &FileError{File: f.Path, Err: fmt.Errorf("reading: %w", unwrapPath(err))}
			return
		}
		f.read = fi
		f.Old, f.New = src, src
		matched[i] = map[string]bool{}
		for _, c := range byFile[f.Path] {
			out, edits, m, err := c.rewriteMatched(f.Path, f.New)
			if err != nil {
				errs[i] = err
				return
			}
			f.New = out
			f.Edits = append(f.Edits, edits...)
			for k := range m {
				matched[i][k] = true
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	any := map[string]bool{}
	for _, m := range matched {
		for k := range m {
			any[k] = true
		}
	}
	for _, img := range images {
		match := img.Match
		if match == "" {
			match = img.Repository
		}
		if r, err := name.NewRepository(match, name.WeakValidation); err == nil && !any[r.Name()] {
			ch.Unmatched = append(ch.Unmatched, img)
		}
	}
	return ch, nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines, stopping early when ctx
// is done.
func parallel(ctx context.Context, n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Edits returns every edit of every file, in file order.
func (c *Changes) Edits() []Edit {
	var out []Edit
	for _, f := range c.Files {
		out = append(out, f.Edits...)
	}
	return out
}

// Changed returns the files whose bytes would change.
func (c *Changes) Changed() []string {
	var out []string
	for i := range c.Files {
		if c.Files[i].Changed() {
			out = append(out, c.Files[i].Path)
		}
	}
	return out
}
