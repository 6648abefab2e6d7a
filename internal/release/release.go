package release

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/manifest"
	"github.com/slipway-build/slipway/pusher"
)

// Release runs plan → build → push → sign → bump. Manifests are written
// only after every image is pushed to every registry and, when sign: is
// set, signed; on any failure no manifest is touched. What happened is in
// rep either way. With dryRun nothing is built, pushed, signed or written:
// the returned changes show the manifest edits the release would make
// (by tag; the digest is known only after the build).
func Release(ctx context.Context, cfg *project.Config, plan *Plan, opts Options, rep *report.Report, dryRun bool) (*manifest.Changes, error) {
	RecordPlan(plan, rep)
	rep.DryRun = dryRun
	targets, err := ManifestTargets(cfg, opts.Pin)
	if err != nil {
		return nil, err
	}
	// Read and parse every manifest now, so that a broken file stops the
	// release before anything is published.
	var changes *manifest.Changes
	if len(targets) > 0 {
		images, err := BumpImages(rep)
		if err != nil {
			return nil, err
		}
		if changes, err = manifest.PlanTargets(ctx, targets, images); err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
	}
	if dryRun {
		if changes != nil {
			RecordEdits(changes, rep)
		}
		return changes, nil
	}

	var signer *sign.Signer
	var so sign.Options
	if cfg.Sign != nil {
		if signer, err = LoadSigner(ctx, cfg, opts); err != nil {
			return nil, err
		}
		if so, err = SignOptions(cfg, plan, opts); err != nil {
			return nil, err
		}
	}
	if err := rep.Time("build", func() error {
		_, err := Build(ctx, cfg, plan, opts, rep)
		return err
	}); err != nil {
		return nil, err
	}
	if err := rep.Time("push", func() error {
		_, err := Push(ctx, cfg, plan, opts, rep)
		return err
	}); err != nil {
		return nil, err
	}
	if signer != nil {
		if err := rep.Time("sign", func() error {
			targets, err := SignTargets(rep)
			if err != nil {
				return err
			}
			_, err = Sign(ctx, signer, targets, so, rep)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if len(targets) == 0 {
		return nil, nil
	}
	err = rep.Time("bump", func() error {
		images, err := BumpImages(rep)
		if err != nil {
			return err
		}
		if changes, err = manifest.PlanTargets(ctx, targets, images); err != nil {
			return fmt.Errorf("reading manifests: %w", err)
		}
		if err := changes.Apply(ctx); err != nil {
			return fmt.Errorf("writing manifests: %w", err)
		}
		RecordEdits(changes, rep)
		return nil
	})
	return changes, err
}

// SignTargets are the pushed digests of rep's images, in their primary
// repository.
func SignTargets(rep *report.Report) ([]SignTarget, error) {
	var out []SignTarget
	for _, img := range rep.Images {
		if img.Digest == "" || img.Repository == "" {
			continue
		}
		d, err := name.NewDigest(img.Repository + "@" + img.Digest)
		if err != nil {
			return nil, fmt.Errorf("report: image %s: %w", img.Name, err)
		}
		out = append(out, SignTarget{Name: img.Name, Digest: d})
	}
	return out, nil
}

// Resolve fills rep with the digests the registry holds for the plan's
// primary references: what the last push published, for sign and bump run
// without a report.
func Resolve(ctx context.Context, cfg *project.Config, plan *Plan, opts Options, rep *report.Report) error {
	RecordPlan(plan, rep)
	ro, err := pusher.RemoteOptions(PushOptions(cfg, opts))
	if err != nil {
		return err
	}
	ro = append(ro, remote.WithContext(ctx))
	for _, img := range plan.Images {
		ref := img.Primary()
		desc, err := remote.Head(ref, ro...)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", ref, err)
		}
		r := rep.Upsert(img.Name)
		r.Digest, r.MediaType = desc.Digest.String(), string(desc.MediaType)
		r.Pushed = []string{ref.String() + "@" + r.Digest}
	}
	return nil
}

// PlanFromReport rebuilds the plan a report was written for, so that a
// later job pushes, signs or bumps exactly the references an earlier job
// planned, whatever the git state of its own checkout.
func PlanFromReport(cfg *project.Config, rep *report.Report, only []string) (*Plan, error) {
	selected, err := Select(cfg, only)
	if err != nil {
		return nil, err
	}
	plan := &Plan{}
	if rep.Git != nil {
		plan.Facts.Commit, plan.Facts.Tag, plan.Facts.Branch, plan.Facts.Dirty = rep.Git.Commit, rep.Git.Tag, rep.Git.Branch, rep.Git.Dirty
	}
	for _, img := range selected {
		r := rep.Image(img.Name)
		if r == nil || len(r.Refs) == 0 {
			return nil, fmt.Errorf("the report has no references for image %s", img.Name)
		}
		pi := PlannedImage{Name: img.Name, Tags: r.Tags, Config: img, Registries: cfg.RegistriesFor(img)}
		seen := map[string]bool{}
		for _, s := range r.Refs {
			t, err := name.NewTag(s)
			if err != nil {
				return nil, fmt.Errorf("report: image %s: %w", img.Name, err)
			}
			pi.Refs = append(pi.Refs, t)
			if repo := t.Repository.String(); !seen[repo] {
				seen[repo] = true
				pi.Repositories = append(pi.Repositories, t.Repository)
			}
		}
		plan.Images = append(plan.Images, pi)
	}
	return plan, nil
}
