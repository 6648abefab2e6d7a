package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/pusher"
)

// Existing is an image the primary registry already holds for an input
// digest: a release writes its new tags to it instead of building.
type Existing struct {
	// Ref is the image by digest in the primary repository.
	Ref  name.Digest
	Desc *remote.Descriptor
}

func normalizedPlatform(p string) string {
	sp, err := platforms.Parse(p)
	if err != nil {
		return p
	}
	return platforms.Format(platforms.Normalize(sp))
}

// PrepareInputs sets each image's Source and InputDigest (see
// inputDigest), once per plan. An image whose digest cannot be computed
// (a base image that does not resolve) gets none, with a warning, and is
// built as usual.
func PrepareInputs(ctx context.Context, cfg *project.Config, plan *Plan, opts Options) (warnings []string, err error) {
	if plan.inputsDone {
		return nil, nil
	}
	if err := FindSources(ctx, cfg, plan, opts); err != nil {
		return nil, err
	}
	reqs := Requests(ctx, cfg, plan, opts)
	ins := Inputs(cfg, configsOf(plan), OwnFiles(cfg, opts.storeDir(cfg), opts.ReportPath))
	resolve, err := baseResolver(cfg, opts)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	err = eachImage(ctx, len(plan.Images), 8, func(ctx context.Context, i int) error {
		d, err := inputDigest(ctx, ins[i], reqs[i], resolve)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			warnings = append(warnings, fmt.Sprintf("image %s: no input digest, so it is built: %v", plan.Images[i].Name, err))
			mu.Unlock()
			return nil
		}
		plan.Images[i].InputDigest = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	plan.inputsDone = true
	return warnings, nil
}

func configsOf(plan *Plan) []project.Image {
	out := make([]project.Image, len(plan.Images))
	for i, img := range plan.Images {
		out[i] = img.Config
	}
	return out
}

// baseResolver resolves base images with the registry settings of the
// project; each reference is asked once per run.
func baseResolver(cfg *project.Config, opts Options) (resolveFunc, error) {
	po := PushOptions(cfg, opts)
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	cache := map[string]string{}
	return func(ctx context.Context, ref string) (string, error) {
		mu.Lock()
		d, ok := cache[ref]
		mu.Unlock()
		if ok {
			return d, nil
		}
		remember := func(d string) string {
			mu.Lock()
			defer mu.Unlock()
			cache[ref] = d
			return d
		}
		r, err := name.ParseReference(ref, nameOptions(po.InsecureRegistries, ref)...)
		if err != nil {
			return "", err
		}
		if d, ok := r.(name.Digest); ok {
			return remember(d.DigestStr()), nil
		}
		desc, err := remote.Head(r, append(ro, remote.WithContext(ctx))...)
		if err != nil {
			return "", err
		}
		return remember(desc.Digest.String()), nil
	}, nil
}

// SkipEnabled says whether a release skips unchanged images: by default
// yes; not with --no-skip, --no-cache, or skip_unchanged: false.
func SkipEnabled(cfg *project.Config, opts Options) bool {
	return !opts.NoSkip && !opts.NoCache && (cfg.SkipUnchanged == nil || *cfg.SkipUnchanged)
}

// Unchanged finds the images of the plan that the primary registry already
// holds under their input tag, with the same input digest annotated.
func Unchanged(ctx context.Context, cfg *project.Config, plan *Plan, opts Options) (map[string]Existing, error) {
	warnings, err := PrepareInputs(ctx, cfg, plan, opts)
	if err != nil {
		return nil, err
	}
	warn := func(w string) {
		if opts.Warn != nil {
			opts.Warn(w)
		}
	}
	for _, w := range warnings {
		warn(w)
	}
	po := PushOptions(cfg, opts)
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return nil, err
	}
	found := map[string]Existing{}
	var mu sync.Mutex
	err = eachImage(ctx, len(plan.Images), 8, func(ctx context.Context, i int) error {
		img := plan.Images[i]
		if img.InputDigest == "" || len(img.Repositories) == 0 {
			return nil
		}
		repo := img.Repositories[0].String()
		tag, err := name.NewTag(repo+":"+InputTag(img.InputDigest), nameOptions(po.InsecureRegistries, repo+":x")...)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		desc, err := remote.Get(tag, append(ro, remote.WithContext(ctx))...)
		if err != nil {
			var te *transport.Error
			if errors.As(err, &te) && (te.StatusCode == http.StatusNotFound || te.StatusCode == http.StatusUnauthorized) {
				return nil // never built, or a repository not created yet
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			warn(fmt.Sprintf("image %s: looking up %s: %v; building it", img.Name, tag, err))
			mu.Unlock()
			return nil
		}
		if annotation(desc) != img.InputDigest {
			return nil // a shorter digest's collision, or a tag moved by hand
		}
		mu.Lock()
		found[img.Name] = Existing{Ref: tag.Context().Digest(desc.Digest.String()), Desc: desc}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// annotation reads the input digest annotation of a manifest or index.
func annotation(desc *remote.Descriptor) string {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return ""
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return ""
		}
		return im.Annotations[AnnotationInputDigest]
	}
	img, err := desc.Image()
	if err != nil {
		return ""
	}
	m, err := img.Manifest()
	if err != nil {
		return ""
	}
	return m.Annotations[AnnotationInputDigest]
}

// Retag gives each skipped image of the plan its new references, pushed
// from the primary repository's copy as a build would be (blobs that are
// there are skipped, then manifests, tags and the read-back check), and
// records it in rep.
func Retag(ctx context.Context, cfg *project.Config, plan *Plan, found map[string]Existing, opts Options, rep *report.Report) error {
	po := PushOptions(cfg, opts)
	// Tags that name one commit or version move no more silently than in a push.
	arts := make([]remote.Taggable, len(plan.Images))
	for i, img := range plan.Images {
		ex, ok := found[img.Name]
		if !ok {
			return fmt.Errorf("image %s: not among the unchanged images", img.Name)
		}
		var err error
		if ex.Desc.MediaType.IsIndex() {
			arts[i], err = ex.Desc.ImageIndex()
		} else {
			arts[i], err = ex.Desc.Image()
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", ex.Ref, err)
		}
	}
	if err := checkMoves(ctx, cfg, plan, arts, po, opts); err != nil {
		return err
	}
	var mu sync.Mutex
	return eachImage(ctx, len(plan.Images), opts.jobs(), func(ctx context.Context, i int) error {
		img := plan.Images[i]
		ex, ok := found[img.Name]
		if !ok {
			return nil
		}
		r := rep.Image(img.Name)
		if pushed, ok, err := retagInPlace(ctx, img, ex, po); err != nil {
			return fmt.Errorf("tagging %s: %w", img.Name, err)
		} else if ok {
			mu.Lock()
			defer mu.Unlock()
			r.Skipped, r.InputDigest = true, img.InputDigest
			r.Digest, r.MediaType = ex.Desc.Digest.String(), string(ex.Desc.MediaType)
			r.Pushed, r.Registries = pushed, []string{ex.Ref.RegistryStr()}
			r.PlatformDigests = platformDigests(ex.Desc)
			return nil
		}
		pub, err := pusher.Push(ctx, arts[i], img.Refs, po)
		if err != nil {
			return fmt.Errorf("tagging %s: %w", img.Name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		r = rep.Upsert(img.Name)
		r.Skipped = true
		r.InputDigest = img.InputDigest
		r.Digest, r.MediaType, r.PlatformDigests = pub.Digest, pub.MediaType, pub.PlatformDigests
		r.Pushed, r.Registries = pub.Refs, pub.Registries
		r.BytesUploaded, r.BlobsUploaded, r.BlobsSkipped, r.BlobsMounted = pub.BytesUploaded, pub.BlobsUploaded, pub.BlobsSkipped, pub.BlobsMounted
		return nil
	})
}

// signed reports whether cosign's signature tag for d exists.
func signed(ctx context.Context, d name.Digest, so sign.Options) bool {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return false
	}
	repo := d.Context()
	if so.Repository != (name.Repository{}) {
		repo = so.Repository
	}
	_, err = remote.Head(repo.Tag(h.Algorithm+"-"+h.Hex+".sig"), append(so.RemoteOptions, remote.WithContext(ctx))...)
	return err == nil
}

// withoutImages is plan without the images in skip.
func withoutImages(plan *Plan, skip map[string]Existing) *Plan {
	out := *plan
	out.Images = nil
	for _, img := range plan.Images {
		if _, ok := skip[img.Name]; !ok {
			out.Images = append(out.Images, img)
		}
	}
	return &out
}

// onlyImages is plan with the images in keep only.
func onlyImages(plan *Plan, keep map[string]Existing) *Plan {
	out := *plan
	out.Images = nil
	for _, img := range plan.Images {
		if _, ok := keep[img.Name]; ok {
			out.Images = append(out.Images, img)
		}
	}
	return &out
}

// withInputTags adds to each image that has an input digest its input tag
// in the primary repository, for the push.
func withInputTags(plan *Plan, insecure []string) *Plan {
	out := *plan
	out.Images = make([]PlannedImage, len(plan.Images))
	for i, img := range plan.Images {
		if img.InputDigest != "" && len(img.Repositories) > 0 {
			repo := img.Repositories[0].String()
			if t, err := name.NewTag(repo+":"+InputTag(img.InputDigest), nameOptions(insecure, repo+":x")...); err == nil {
				img.Refs = append(append([]name.Tag{}, img.Refs...), t)
			}
		}
		out.Images[i] = img
	}
	return &out
}

// hideInputTags drops the input tags from what rep says was pushed: they
// are slipway's bookkeeping, not references anyone deploys.
func hideInputTags(plan *Plan, rep *report.Report) {
	for _, img := range plan.Images {
		if img.InputDigest == "" {
			continue
		}
		r := rep.Image(img.Name)
		if r == nil {
			continue
		}
		tag := ":" + InputTag(img.InputDigest) + "@"
		kept := r.Pushed[:0]
		for _, p := range r.Pushed {
			if !strings.Contains(p, tag) {
				kept = append(kept, p)
			}
		}
		r.Pushed = kept
	}
}

// retagInPlace writes the tags of an image whose references are all in the
// repository that holds it: each tag is a manifest put of the bytes already
// there, then read back. ok is false when some reference is elsewhere (the
// caller then pushes as usual).
func retagInPlace(ctx context.Context, img PlannedImage, ex Existing, po pusher.Options) (pushed []string, ok bool, err error) {
	for _, ref := range img.Refs {
		if ref.Context().String() != ex.Ref.Context().String() {
			return nil, false, nil
		}
	}
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return nil, false, err
	}
	ro = append(ro, remote.WithContext(ctx))
	want := ex.Desc.Digest.String()
	for _, ref := range img.Refs {
		tag := ex.Ref.Context().Tag(ref.TagStr())
		if err := remote.Tag(tag, ex.Desc, ro...); err != nil {
			return nil, false, fmt.Errorf("tagging %s: %w", tag, err)
		}
		got, err := remote.Head(tag, ro...)
		if err != nil {
			return nil, false, fmt.Errorf("reading back %s: %w", tag, err)
		}
		if got.Digest.String() != want {
			return nil, false, fmt.Errorf("reading back %s: it is %s, not %s", tag, got.Digest, want)
		}
		pushed = append(pushed, ref.String()+"@"+want)
	}
	return pushed, true, nil
}

// platformDigests maps the platforms of an index to their manifests; nil
// for a single image (its platform is in its config, not worth a fetch).
func platformDigests(desc *remote.Descriptor) map[string]string {
	if !desc.MediaType.IsIndex() {
		return nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue
		}
		out[m.Platform.String()] = m.Digest.String()
	}
	return out
}
