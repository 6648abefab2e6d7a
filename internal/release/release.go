package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/manifest"
	"github.com/slipway-build/slipway/pusher"
)

// PlaceholderDigest stands for a digest not known yet (a dry run).
const PlaceholderDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Stages are the steps Release strings together, each recording what it
// did in the report. Real ones come from DefaultStages; tests swap in
// fakes for the stages they are not about.
type Stages struct {
	// OpenSigner opens the signing key, before anything is built, so that
	// a wrong password stops the release before anything is published.
	// Nil when the project does not sign.
	OpenSigner func(ctx context.Context, plan *Plan) (Signer, error)
	// Build builds every image of the plan into the store.
	Build func(ctx context.Context, plan *Plan, rep *report.Report) error
	// Push publishes every built image to all its references.
	Push func(ctx context.Context, plan *Plan, rep *report.Report) error
	// Unchanged finds the images the registry already holds for their
	// input digests, before anything is built; nil when releases do not
	// skip. Retag gives those images their new references.
	Unchanged func(ctx context.Context, plan *Plan, rep *report.Report) (map[string]Existing, error)
	Retag     func(ctx context.Context, plan *Plan, found map[string]Existing, rep *report.Report) error
	// Lint checks the Dockerfiles and manifests before anything is built;
	// an error stops the release (a dry run shows it and goes on). Nil
	// when lint.on-release is false.
	Lint func(ctx context.Context, plan *Plan) error
	// OpenScanner finds the scanner, before anything is built. Nil when
	// the project does not scan.
	OpenScanner func(ctx context.Context) (Scanner, error)
}

// Signer signs pushed images.
type Signer interface {
	Sign(ctx context.Context, targets []SignTarget, rep *report.Report) error
}

// DefaultStages are the real stages for cfg: BuildKit, the pusher, cosign.
func DefaultStages(cfg *project.Config, opts Options) Stages {
	st := Stages{
		Build: func(ctx context.Context, plan *Plan, rep *report.Report) error {
			_, err := Build(ctx, cfg, plan, opts, rep)
			return err
		},
		// Each built image also gets its input tag, for later releases to skip by.
		Push: func(ctx context.Context, plan *Plan, rep *report.Report) error {
			_, err := Push(ctx, cfg, withInputTags(plan, PushOptions(cfg, opts).InsecureRegistries), opts, rep)
			hideInputTags(plan, rep)
			return err
		},
	}
	if SkipEnabled(cfg, opts) {
		st.Unchanged = func(ctx context.Context, plan *Plan, rep *report.Report) (map[string]Existing, error) {
			return Unchanged(ctx, cfg, plan, opts)
		}
		st.Retag = func(ctx context.Context, plan *Plan, found map[string]Existing, rep *report.Report) error {
			return Retag(ctx, cfg, plan, found, opts, rep)
		}
	}
	if cfg.LintOnRelease() {
		st.Lint = LintStage(cfg, opts)
	}
	if cfg.Scanning() {
		st.OpenScanner = func(ctx context.Context) (Scanner, error) {
			so, err := FindScanner(cfg, opts)
			if err != nil {
				return nil, err
			}
			return &trivyScanner{cfg: cfg, opts: opts, options: so}, nil
		}
	}
	if cfg.Sign != nil {
		st.OpenSigner = func(ctx context.Context, plan *Plan) (Signer, error) {
			s, err := LoadSigner(ctx, cfg, opts)
			if err != nil {
				return nil, err
			}
			so, err := SignOptions(cfg, plan, opts)
			if err != nil {
				return nil, err
			}
			return &cosignSigner{signer: s, options: so, cfg: cfg, opts: opts}, nil
		}
	}
	return st
}

// cosignSigner signs with a key opened by LoadSigner, then attests.
type cosignSigner struct {
	signer  *sign.Signer
	options sign.Options
	cfg     *project.Config
	opts    Options
}

func (c *cosignSigner) Sign(ctx context.Context, targets []SignTarget, rep *report.Report) error {
	// A skipped image is signed only when its signature is not there yet.
	var todo []SignTarget
	for _, t := range targets {
		if r := rep.Image(t.Name); r != nil && r.Skipped && signed(ctx, t.Digest, c.options) {
			continue
		}
		todo = append(todo, t)
	}
	if _, err := Sign(ctx, c.signer, todo, c.options, rep); err != nil {
		return err
	}
	return Attest(ctx, c.cfg, c.signer, todo, c.options, c.opts, rep)
}

// Release runs plan → build → push → sign → bump with the real stages.
// See Stages.Release.
func Release(ctx context.Context, cfg *project.Config, plan *Plan, opts Options, rep *report.Report, dryRun bool) (*manifest.Changes, error) {
	insecure := PushOptions(cfg, opts).InsecureRegistries
	return DefaultStages(cfg, opts).release(ctx, cfg, plan, opts.Pin, insecure, rep, dryRun)
}

// Release runs plan → build → scan → push → sign → bump. Manifests are written
// only after every image is pushed to every registry and, when the project
// signs, signed; on any failure no manifest is touched. What happened is
// in rep either way. Every manifest is read and parsed before anything is
// built, so a broken file stops the release before anything is published.
// With dryRun nothing is built, pushed, signed or written: the returned
// changes show the manifest edits the release would make, with
// PlaceholderDigest where the digest will be. pin, when set, overrides the
// pin of every manifests entry.
func (st Stages) Release(ctx context.Context, cfg *project.Config, plan *Plan, pin string, rep *report.Report, dryRun bool) (*manifest.Changes, error) {
	return st.release(ctx, cfg, plan, pin, nil, rep, dryRun)
}

func (st Stages) release(ctx context.Context, cfg *project.Config, plan *Plan, pin string, insecure []string, rep *report.Report, dryRun bool) (*manifest.Changes, error) {
	RecordPlan(plan, rep)
	rep.DryRun = dryRun
	var lintErr error
	if st.Lint != nil {
		if lintErr = rep.Time("lint", func() error { return st.Lint(ctx, plan) }); lintErr != nil && !dryRun {
			return nil, lintErr
		}
	}
	targets, err := ManifestTargets(cfg, pin)
	if err != nil {
		return nil, err
	}
	var changes *manifest.Changes
	if len(targets) > 0 {
		images, err := BumpImages(rep)
		if err != nil {
			return nil, err
		}
		// The digest is known only after the build: stand in zeros, so
		// that every pin mode can be checked and shown.
		for i := range images {
			if images[i].Digest == "" {
				images[i].Digest = PlaceholderDigest
			}
		}
		if changes, err = manifest.PlanTargets(ctx, targets, images); err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
	}
	if dryRun {
		if changes != nil {
			RecordEdits(changes, rep)
		}
		return changes, lintErr
	}

	var scanner Scanner
	if st.OpenScanner != nil {
		if scanner, err = st.OpenScanner(ctx); err != nil {
			return nil, err
		}
	}
	var signer Signer
	if st.OpenSigner != nil {
		if signer, err = st.OpenSigner(ctx, plan); err != nil {
			return nil, err
		}
	}
	var found map[string]Existing
	if st.Unchanged != nil {
		if err := rep.Time("skip", func() (err error) { found, err = st.Unchanged(ctx, plan, rep); return err }); err != nil {
			return nil, err
		}
	}
	// The unchanged images are tagged while the others build; when nothing
	// changed, no BuildKit is reached.
	var retagErr error
	var retagSecs float64
	retagDone := make(chan struct{})
	retag := len(found) > 0 && st.Retag != nil
	if retag {
		go func() {
			defer close(retagDone)
			start := time.Now()
			retagErr = st.Retag(ctx, onlyImages(plan, found), found, rep)
			retagSecs = time.Since(start).Seconds()
		}()
	} else {
		close(retagDone)
	}
	buildErr := func() error {
		build := withoutImages(plan, found)
		if len(build.Images) == 0 {
			return nil
		}
		if err := rep.Time("build", func() error { return st.Build(ctx, build, rep) }); err != nil {
			return err
		}
		if scanner != nil {
			if err := rep.Time("scan", func() error { return scanner.Scan(ctx, build, rep) }); err != nil {
				return err
			}
		}
		return rep.Time("push", func() error { return st.Push(ctx, build, rep) })
	}()
	<-retagDone
	if retag {
		rep.Stages = append(rep.Stages, report.Stage{Name: "retag", Seconds: retagSecs})
	}
	if buildErr != nil {
		return nil, buildErr
	}
	if retagErr != nil {
		return nil, retagErr
	}
	if signer != nil {
		if err := rep.Time("sign", func() error {
			targets, err := SignTargets(rep, insecure)
			if err != nil {
				return err
			}
			return signer.Sign(ctx, targets, rep)
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
// repository; registries in insecure are reached over plain HTTP.
func SignTargets(rep *report.Report, insecure []string) ([]SignTarget, error) {
	var out []SignTarget
	for _, img := range rep.Images {
		if img.Digest == "" || img.Repository == "" {
			continue
		}
		s := img.Repository + "@" + img.Digest
		d, err := name.NewDigest(s, nameOptions(insecure, s)...)
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
	po := PushOptions(cfg, opts)
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return err
	}
	ro = append(ro, remote.WithContext(ctx))
	for _, img := range plan.Images {
		ref, err := name.NewTag(img.Primary().String(), nameOptions(po.InsecureRegistries, img.Primary().String())...)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", img.Primary(), err)
		}
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
		pi := PlannedImage{Name: img.Name, Tags: r.Tags, Config: img, Registries: cfg.RegistriesFor(img), Digest: r.Digest, Store: r.Store}
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

// nameOptions parse ref so that go-containerregistry reaches its registry
// over plain HTTP when it is listed in insecure (host or host:port), as
// the pusher does; loopback registries need no listing.
func nameOptions(insecure []string, ref string) []name.Option {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return nil
	}
	host := r.Context().RegistryStr()
	hostOnly, _, _ := strings.Cut(host, ":")
	for _, h := range insecure {
		if strings.EqualFold(h, host) || strings.EqualFold(h, hostOnly) {
			return []name.Option{name.Insecure}
		}
	}
	return nil
}
