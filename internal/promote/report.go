package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/manifest"
)

// Destination parses REGISTRY[/PATH] (--to); names of images are joined to it.
func Destination(to string, insecure []string) (string, error) {
	to = strings.TrimSuffix(to, "/")
	if _, err := name.NewRepository(to+"/x", nameOptions(to+"/x", insecure)...); err != nil || strings.ContainsAny(to, "@") {
		return "", fmt.Errorf("%q is not a registry or registry/path", to)
	}
	return to, nil
}

// FromReport lists the images of rep to promote to to (REGISTRY[/PATH]):
// each image NAME goes to to/NAME under the report's tags, or under tags
// when given. only, when not empty, picks images by name. Registries
// listed in insecure are reached over plain HTTP.
func FromReport(rep *report.Report, to string, only, tags, insecure []string) ([]Image, error) {
	for _, n := range only {
		if rep.Image(n) == nil {
			return nil, fmt.Errorf("image %s is not in the report", n)
		}
	}
	var out []Image
	for _, r := range rep.Images {
		if len(only) > 0 && !slices.Contains(only, r.Name) {
			continue
		}
		if r.Digest == "" || r.Repository == "" {
			if len(only) > 0 {
				return nil, fmt.Errorf("the report has no pushed digest for image %s", r.Name)
			}
			continue
		}
		if len(r.Pushed) == 0 {
			// A build report names digests that no registry holds yet.
			return nil, fmt.Errorf("the report does not say image %s was pushed (a report of push, release or promote is needed)", r.Name)
		}
		src := r.Repository + "@" + r.Digest
		img, err := NewImage(src, to+"/"+r.Name, insecure)
		if err != nil {
			return nil, fmt.Errorf("report: image %s: %w", r.Name, err)
		}
		img.Name = r.Name
		img.Tags = slices.Clone(r.Tags)
		if len(tags) > 0 {
			img.Tags = slices.Clone(tags)
		}
		out = append(out, img)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the report has no pushed image to promote")
	}
	return out, nil
}

// NewImage is one image to copy from src (REPO@DIGEST, or REPO:TAG@DIGEST)
// to the repository dst, without tags.
func NewImage(src, dst string, insecure []string) (Image, error) {
	d, err := name.NewDigest(src, nameOptions(src, insecure)...)
	if err != nil {
		return Image{}, fmt.Errorf("source %q: want REPO@sha256:...: %w", src, err)
	}
	repo, err := name.NewRepository(dst, nameOptions(dst+":x", insecure)...)
	if err != nil {
		return Image{}, fmt.Errorf("destination %q: %w", dst, err)
	}
	return Image{Source: d, Dest: repo}, nil
}

// nameOptions parse ref for plain HTTP when its registry is listed in
// insecure (host or host:port); loopback registries need no listing.
func nameOptions(ref string, insecure []string) []name.Option {
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

// Record puts the promoted images in rep as a push would: repository,
// tags, refs and digest at the destination, so that bump --from and
// verify act on the promoted copies.
func (r *Result) Record(rep *report.Report) {
	rep.DryRun = r.DryRun
	for _, c := range r.Images {
		n := c.Name
		if n == "" {
			n = c.Dest.RepositoryStr()
		}
		ri := rep.Upsert(n)
		ri.Repository = c.Dest.String()
		ri.Tags = slices.Clone(c.Tags)
		ri.Refs = ri.Refs[:0]
		for _, t := range c.Tags {
			ri.Refs = append(ri.Refs, c.Dest.Tag(t).String())
		}
		ri.Digest, ri.MediaType, ri.PlatformDigests = c.Digest.String(), c.MediaType, c.PlatformDigests
		ri.Registries = []string{c.Dest.RegistryStr()}
		ri.Source = c.Source.String()
		// Only a finished copy is on record as pushed.
		if r.Done() {
			ri.Pushed = c.Pushed
			ri.Signatures = c.Signatures
			ri.Attestations = append(slices.Clone(c.Attestations), c.SBOMs...)
			ri.Referrers = c.Referrers
		}
		ri.BytesUploaded, ri.BlobsUploaded, ri.BlobsSkipped, ri.BlobsMounted = c.BytesUploaded, c.BlobsUploaded, c.BlobsSkipped, c.BlobsMounted
	}
}

// bumpImages are the new manifest values: references to the destination
// repository get the promoted tag and digest. For the images in moved,
// references to the source repository move to the destination instead.
func (r *Result) bumpImages(moved map[string]bool) []manifest.Image {
	var out []manifest.Image
	for _, c := range r.Images {
		img := manifest.Image{Repository: c.Dest.Name(), Digest: c.Digest.String()}
		if len(c.Tags) > 0 {
			img.Tag = c.Tags[0]
		}
		if moved[c.Dest.Name()] {
			img.Match = c.Source.Context().Name()
		}
		out = append(out, img)
	}
	return out
}

// planBump reads and rewrites targets in memory, and names the promoted
// repositories no reference matched. A file that names an image by its
// destination repository gets the new tag and digest; when no file does,
// references to the source repository move to the destination.
func (r *Result) planBump(ctx context.Context, targets []manifest.Target) (*manifest.Changes, []string, error) {
	ch, err := manifest.PlanTargets(ctx, targets, r.bumpImages(nil))
	if err != nil {
		return nil, nil, fmt.Errorf("reading manifests: %w", err)
	}
	moved := map[string]bool{}
	for _, img := range ch.Unmatched {
		for _, c := range r.Images {
			if c.Dest.Name() == img.Repository && c.Source.Context().Name() != c.Dest.Name() {
				moved[img.Repository] = true
			}
		}
	}
	if len(moved) > 0 {
		if ch, err = manifest.PlanTargets(ctx, targets, r.bumpImages(moved)); err != nil {
			return nil, nil, fmt.Errorf("reading manifests: %w", err)
		}
	}
	var unmatched []string
	for _, img := range ch.Unmatched {
		unmatched = append(unmatched, img.Repository)
	}
	return ch, unmatched, nil
}

// ResolveSource is one image to copy from src to the repository dst. src
// is REPO@DIGEST, or REPO:TAG, which is resolved to its digest now and
// gives the copy its tag.
func ResolveSource(ctx context.Context, src, dst string, insecure []string, ropts []remote.Option) (Image, error) {
	ref, err := name.ParseReference(src, nameOptions(src, insecure)...)
	if err != nil {
		return Image{}, fmt.Errorf("source %q: %w", src, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return NewImage(d.String(), dst, insecure)
	}
	desc, err := remote.Head(ref, append(slices.Clone(ropts), remote.WithContext(ctx))...)
	if err != nil {
		return Image{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	img, err := NewImage(ref.Context().Digest(desc.Digest.String()).String(), dst, insecure)
	if err != nil {
		return Image{}, err
	}
	img.Tags = []string{ref.Identifier()}
	return img, nil
}
