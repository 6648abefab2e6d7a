package release

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/tagging"
)

// FindSources sets each planned image's Source: HEAD when its build inputs
// have uncommitted changes, else the last commit that changed its context,
// Dockerfile or .dockerignore, slipway's own files (manifests bumped by
// releases, reports, the store) left out, so that a bump commit does not
// move the images it names.
func FindSources(ctx context.Context, cfg *project.Config, plan *Plan, opts Options) error {
	f := plan.Facts
	if !f.InRepo || f.Commit == "" || len(plan.Images) == 0 {
		return nil
	}
	own := OwnFiles(cfg, opts.storeDir(cfg), opts.ReportPath)
	images := make([]project.Image, len(plan.Images))
	for i, img := range plan.Images {
		images[i] = img.Config
	}
	dirty := map[string][]string{}
	if plan.dirtyKnown {
		for _, img := range plan.Images {
			dirty[img.Name] = img.DirtyFiles
		}
	} else {
		var err error
		if dirty, err = dirtyFiles(ctx, cfg, images, own); err != nil {
			return fmt.Errorf("reading the state of the build inputs: %w", err)
		}
	}
	ins := Inputs(cfg, images, own)
	// git refuses pathspecs outside the work tree (a report in /tmp).
	var exclude []string
	for _, p := range own {
		if rel, err := filepath.Rel(cfg.Dir, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			exclude = append(exclude, p)
		}
	}
	// Dirty images take HEAD; the others' last commits come from one walk.
	var sets [][]string
	var which []int
	for i := range plan.Images {
		img := &plan.Images[i]
		if len(dirty[img.Name]) > 0 {
			img.Source = tagging.Source{Commit: f.Commit, Time: f.CommitTime, Dirty: true}
			continue
		}
		paths := []string{ins[i].Context, ins[i].Dockerfile}
		if ig := ins[i].IgnoreFile(); ig != "" {
			paths = append(paths, ig)
		}
		sets = append(sets, paths)
		which = append(which, i)
	}
	srcs, err := tagging.LastChanges(ctx, cfg.Dir, f, sets, exclude)
	if err != nil {
		return fmt.Errorf("finding the commits of the build inputs: %w", err)
	}
	for j, i := range which {
		plan.Images[i].Source = srcs[j]
	}
	return nil
}

// eachImage runs fn for 0..n-1, at most jobs at once; the first error
// cancels the rest and is returned.
func eachImage(ctx context.Context, n, jobs int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i := 0; i < n; i++ {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}
