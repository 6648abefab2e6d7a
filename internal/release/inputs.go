package release

import (
	"context"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slipway-build/slipway/internal/buildinputs"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
)

// OwnFiles are slipway's own files of the project, absolute: the state
// folder and store, the signing key pair, the manifests that manifests:
// names, and the report being written. They are never part of a build
// context, so they never make an image dirty or change its digest (an
// image holding the manifest that names its own digest would be circular).
func OwnFiles(cfg *project.Config, storeDir, reportPath string) []string {
	own := []string{filepath.Join(cfg.Dir, ".slipway")}
	if storeDir != "" {
		own = append(own, storeDir)
	}
	// keygen's default pair, and the configured key with its public half.
	own = append(own, filepath.Join(cfg.Dir, "cosign.key"), filepath.Join(cfg.Dir, "cosign.pub"))
	if cfg.Sign != nil && cfg.Sign.Key != "" && !strings.Contains(cfg.Sign.Key, "://") {
		key := cfg.Sign.Key
		if !filepath.IsAbs(key) {
			key = filepath.Join(cfg.Dir, key)
		}
		own = append(own, key, strings.TrimSuffix(key, filepath.Ext(key))+".pub")
	}
	for _, m := range cfg.Manifests {
		for _, p := range m.Paths {
			if matches, err := filepath.Glob(p); err == nil && len(matches) > 0 {
				own = append(own, matches...)
			} else {
				own = append(own, p)
			}
		}
		if m.Kustomization != "" {
			own = append(own, m.Kustomization)
		}
	}
	if reportPath != "" && reportPath != "-" {
		own = append(own, reportPath)
	}
	sort.Strings(own)
	return dedupe(own)
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Inputs are the build inputs of each image of the plan, in plan order.
func Inputs(cfg *project.Config, images []project.Image, own []string) []buildinputs.Input {
	var out []buildinputs.Input
	for _, img := range images {
		df := img.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(img.Context, df)
		}
		out = append(out, buildinputs.Input{Context: img.Context, Dockerfile: df, Own: own, OwnFile: report.IsReport})
	}
	return out
}

// dirtyFiles judges each image on its own inputs: the uncommitted changes
// among the files its build is sent.
func dirtyFiles(ctx context.Context, cfg *project.Config, images []project.Image, own []string) (map[string][]string, error) {
	lists, err := buildinputs.Dirty(ctx, cfg.Dir, Inputs(cfg, images, own))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i, img := range images {
		if len(lists[i]) > 0 {
			out[img.Name] = lists[i]
		}
	}
	return out, nil
}
