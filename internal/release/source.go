package release

import (
	"context"
	"fmt"

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
	dirty, err := dirtyFiles(ctx, cfg, images, own)
	if err != nil {
		return fmt.Errorf("reading the state of the build inputs: %w", err)
	}
	ins := Inputs(cfg, images, own)
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
		if img.Source, err = tagging.LastChange(ctx, cfg.Dir, f, paths, own); err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
	}
	return nil
}
