package lint

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client/llb/sourceresolver"

	"github.com/slipway-build/slipway/internal/store"
)

// Request is what to lint and how.
type Request struct {
	Dockerfiles []Dockerfile
	// Store holds the built images; Images names those to check.
	Store  *store.Store
	Images []StoreImage
	// Manifests are Kubernetes files to check.
	Manifests []Manifest
	Config    Config
	// Registry, when set, answers what only a registry knows: the base
	// images' configs for BuildKit's checks and their sizes for base-size.
	// Nil means offline: bases are described without their settings and
	// base-size is skipped with a note.
	Registry Registry
	// SkipRepository, when set, leaves out manifest references to the
	// repositories it reports (those a release is about to rewrite).
	SkipRepository func(name.Repository) bool
}

// Registry is what lint asks a registry.
type Registry interface {
	sourceresolver.ImageMetaResolver
	// BaseSize is the compressed size of ref for platform ("" for the
	// machine's own).
	BaseSize(ctx context.Context, ref, platform string) (int64, error)
}

// Result is every finding, sorted, and notes about what was not checked.
type Result struct {
	Findings []Finding
	Notes    []string
	// Checked counts what was read.
	Dockerfiles, Images, Manifests int
}

// Fails reports whether a finding is at or above sev.
func (r *Result) Fails(sev Severity) bool {
	for _, f := range r.Findings {
		if f.Severity >= sev {
			return true
		}
	}
	return false
}

// Count returns how many findings have severity sev.
func (r *Result) Count(sev Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == sev {
			n++
		}
	}
	return n
}

// Run lints everything req names. A Dockerfile that does not parse, or a
// manifest that is not YAML, does not stop the others: its error comes
// back joined with the rest, beside the findings of the files that could
// be read.
func Run(ctx context.Context, req Request) (*Result, error) {
	res := &Result{}
	var errs []error
	var resolver sourceresolver.ImageMetaResolver
	if req.Registry != nil {
		resolver = req.Registry
	}
	var bases []BaseImage
	var baseFiles []string
	for _, df := range req.Dockerfiles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs, bs, err := lintDockerfile(ctx, df, req.Config, resolver)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Dockerfiles++
		res.Findings = append(res.Findings, fs...)
		for _, b := range bs {
			bases = append(bases, b)
			baseFiles = append(baseFiles, df.Shown)
		}
	}
	if len(bases) > 0 && !req.Config.skipped(RuleBaseSize) {
		if req.Registry == nil {
			res.Notes = append(res.Notes, "base-size not checked: offline (--online asks the registries)")
		} else {
			fs, notes := baseSize(ctx, req.Registry, bases, baseFiles, req.Config)
			res.Findings = append(res.Findings, fs...)
			res.Notes = append(res.Notes, notes...)
		}
	}
	for _, img := range req.Images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs, err := lintStoreImage(ctx, req.Store, img, req.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("checking image %s: %w", img.Name, err))
			continue
		}
		res.Images++
		res.Findings = append(res.Findings, fs...)
	}
	for _, m := range req.Manifests {
		fs, err := lintManifest(m, req.SkipRepository)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Manifests++
		res.Findings = append(res.Findings, fs...)
	}
	res.Findings = req.Config.apply(res.Findings)
	Sort(res.Findings)
	return res, errors.Join(errs...)
}
