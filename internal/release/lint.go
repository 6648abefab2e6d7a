package release

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/lint"
	"github.com/slipway-build/slipway/internal/project"
)

// LintError stops a release: a finding at error, or a file lint cannot read.
type LintError struct {
	Findings []lint.Finding // those at error
	Err      error          // a file that could not be read, or nil
}

func (e *LintError) Error() string {
	if e.Err != nil {
		return "linting: " + e.Err.Error()
	}
	var first []string
	for i, f := range e.Findings {
		if i == 3 {
			first = append(first, "...")
			break
		}
		first = append(first, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Rule))
	}
	return fmt.Sprintf("linting: %s at error: the release stops before the build (%s)", plural(len(e.Findings), "finding"), strings.Join(first, ", "))
}

func (e *LintError) Unwrap() error { return e.Err }

func (e *LintError) Hint() string {
	return "fix them, or turn a rule off with lint: {skip: [RULE]} (docs/lint.md); lint: {on-release: false} skips the lint"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// IsLintError reports whether err is a release stopped by its lint.
func IsLintError(err error) bool {
	var le *LintError
	return errors.As(err, &le)
}

// LintStage lints the Dockerfiles of the plan's images and the project's
// manifests (not the store: nothing is built yet), writing the findings to
// opts.Progress. References to the plan's own repositories are left out:
// the release rewrites them.
func LintStage(cfg *project.Config, opts Options) func(ctx context.Context, plan *Plan) error {
	return func(ctx context.Context, plan *Plan) error {
		lc, err := lint.ConfigFrom(cfg.Lint, cfg.File)
		if err != nil {
			return err
		}
		rel := func(p string) string { return lint.Rel(cfg.Dir, p) }
		var images []project.Image
		repos := map[string]bool{}
		for _, img := range plan.Images {
			images = append(images, img.Config)
			for _, r := range img.Repositories {
				repos[r.Name()] = true
			}
		}
		req := lint.Request{
			Dockerfiles:    lint.ProjectDockerfiles(cfg, images, rel),
			Config:         lc,
			SkipRepository: func(r name.Repository) bool { return repos[r.Name()] },
		}
		if req.Manifests, err = lint.ProjectManifests(cfg, rel); err != nil {
			return &LintError{Err: err}
		}
		res, err := lint.Run(ctx, req)
		if res != nil && opts.Progress != nil {
			if werr := lint.WriteText(opts.Progress, res.Findings); werr != nil {
				return werr
			}
		}
		if err != nil {
			return &LintError{Err: err}
		}
		var failing []lint.Finding
		for _, f := range res.Findings {
			if f.Severity >= lint.Error {
				failing = append(failing, f)
			}
		}
		if len(failing) > 0 {
			return &LintError{Findings: failing}
		}
		return nil
	}
}
