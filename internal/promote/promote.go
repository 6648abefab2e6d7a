// Package promote copies released images from one registry to another by
// digest, with what is attached to them, so that a build made once reaches
// production (or an air-gapped mirror) byte for byte, still signed.
//
// For every image it copies the manifest or index and every manifest and
// blob below it, never re-encoded; the signatures, attestations and SBOMs
// stored the cosign way (tags sha256-<hex>.sig, .att and .sbom) of the index
// and of each platform manifest; and the OCI 1.1 referrers of each (found
// through the referrers API or its sha256-<hex> tag fallback, and written so
// that the destination lists them the same way).
//
// The order is the one slipway push keeps: every blob first (skipped when
// present, mounted within one registry, else streamed from the source and
// never written to disk), then the manifests by digest, children before
// parents and subjects before what refers to them, then the tags of the
// attachments, and the image tags last; every tag is then read back. A
// destination tag that points at another digest is refused before anything
// is written, unless Force is set.
package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/manifest"
)

// Image is one image to promote.
type Image struct {
	// Name is the project's name for the image; empty for a single
	// reference copied without a report.
	Name string
	// Source is the image where it is now, by digest.
	Source name.Digest
	// Dest is the repository it is copied to.
	Dest name.Repository
	// Tags are given to it in Dest; none copies it by digest only.
	Tags []string
}

// Options tune Run. The zero value copies with go-containerregistry's
// defaults, 4 transfers at a time, silently.
type Options struct {
	// Remote reach the registries, source and destination: credentials,
	// TLS roots, plain-HTTP rule, retries (pusher.RemoteOptions).
	Remote []remote.Option
	// Jobs is how many blobs or manifests are copied at once. Default 4.
	Jobs int
	// SignatureRepository is where the source keeps the cosign
	// attachments (sign.repository, COSIGN_REPOSITORY); they are copied
	// next to the image at the destination. Default (zero value): next to
	// the image at the source too.
	SignatureRepository name.Repository
	// Force lets destination tags that point at other digests be moved.
	Force bool
	// DryRun reads both registries and writes nothing.
	DryRun bool
	// Verifier, when set, checks after the copy that each promoted image
	// (and each platform manifest signed at the source) has a signature at
	// the destination that verifies with its key.
	Verifier *sign.Verifier
	// Bump are manifests rewritten to the promoted references after a
	// successful copy, all files or none; they are read and checked
	// before anything is copied. Default: none.
	Bump []manifest.Target
	// Progress receives one line per step; nil means silent.
	Progress io.Writer
}

func (o Options) jobs() int {
	if o.Jobs <= 0 {
		return 4
	}
	return o.Jobs
}

// Result is what a run copied (or, with DryRun, would copy).
type Result struct {
	Images []Copied
	// DryRun marks a result of a plan: nothing was written.
	DryRun bool
	// Changes are the manifest edits of Options.Bump (planned only, with
	// DryRun); Unmatched the promoted repositories no reference named.
	Changes   *manifest.Changes
	Unmatched []string
	plan      *plan
}

// Copied is one promoted image.
type Copied struct {
	Image
	// Digest and MediaType are the image's, the same at both ends.
	Digest    v1.Hash
	MediaType string
	// PlatformDigests maps os/arch[/variant] to a platform manifest digest.
	PlatformDigests map[string]string
	// Pushed are the destination tags as REF@DIGEST, in the order of Tags.
	Pushed []string
	// Signatures, Attestations and SBOMs are the destination tags of the
	// cosign attachments copied, of the image and its platform manifests.
	Signatures, Attestations, SBOMs []string
	// Referrers are the OCI 1.1 referrers copied, as DEST@DIGEST.
	Referrers []string
	// Manifests counts the manifests copied; ManifestsPresent those the
	// destination already held.
	Manifests, ManifestsPresent int
	// BlobsUploaded (streamed from the source), BlobsMounted and
	// BlobsSkipped (present) count blobs; BytesUploaded the bytes streamed.
	BlobsUploaded, BlobsMounted, BlobsSkipped int
	BytesUploaded                             int64
	// Verified is set when the destination's signatures were checked.
	Verified bool
}

// TagConflict is a destination tag that points at another digest.
type TagConflict struct {
	Tag       name.Tag
	Has, Want v1.Hash
}

// TagConflictError lists the destination tags that would move.
type TagConflictError struct{ Tags []TagConflict }

func (e *TagConflictError) Error() string {
	parts := make([]string, len(e.Tags))
	for i, c := range e.Tags {
		parts[i] = fmt.Sprintf("%s points at %s, not %s", c.Tag, c.Has, c.Want)
	}
	return "refusing to move tags: " + strings.Join(parts, "; ")
}

// Hint says how to go on.
func (e *TagConflictError) Hint() string {
	return "give other tags with --tag, or move the tag with --force"
}

// Run promotes images: it reads everything it will copy from the sources
// and checks the destinations, then (unless DryRun) copies, tags, reads the
// tags back and verifies the signatures.
func Run(ctx context.Context, images []Image, opts Options) (*Result, error) {
	if len(images) == 0 {
		return nil, errors.New("promoting: no image given")
	}
	p, err := newPlanner(ctx, opts)
	if err != nil {
		return nil, err
	}
	pl, err := p.plan(ctx, images)
	if err != nil {
		return nil, err
	}
	res := pl.result()
	res.DryRun = opts.DryRun
	if err := pl.conflicts(opts.Force); err != nil {
		return res, err
	}
	var changes *manifest.Changes
	var unmatched []string
	if len(opts.Bump) > 0 {
		if changes, unmatched, err = res.planBump(ctx, opts.Bump); err != nil {
			return res, err
		}
		res.Changes, res.Unmatched = changes, unmatched
	}
	if opts.DryRun {
		return res, nil
	}
	if err := p.execute(ctx, pl); err != nil {
		res = pl.result()
		res.Changes, res.Unmatched = changes, unmatched
		return res, err
	}
	res = pl.result()
	res.Changes, res.Unmatched = changes, unmatched
	if changes != nil {
		if err := changes.Apply(ctx); err != nil {
			return res, fmt.Errorf("writing manifests: %w", err)
		}
	}
	return res, nil
}

// Done reports whether the copy finished: every tag written and read back.
func (r *Result) Done() bool { return r.plan != nil && r.plan.executed }
