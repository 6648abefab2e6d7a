package promote

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-build/slipway/internal/sign"
)

// rawManifest puts a manifest's bytes as they are: copying by digest.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func (p *planner) execute(ctx context.Context, pl *plan) error {
	pl.copied = make([]counts, len(pl.images))
	if err := p.copyBlobs(ctx, pl); err != nil {
		return err
	}
	if err := p.putManifests(ctx, pl); err != nil {
		return err
	}
	// Attachments' tags before the image tags: whoever resolves a
	// promoted tag finds its signatures already there. The signatures are
	// checked in between, so that a failed check moves no image tag.
	if err := p.putTags(ctx, pl, false); err != nil {
		return err
	}
	if p.opts.Verifier != nil {
		if err := p.verify(ctx, pl); err != nil {
			return err
		}
	}
	if err := p.putTags(ctx, pl, true); err != nil {
		return err
	}
	if err := p.readBack(ctx, pl); err != nil {
		return err
	}
	pl.executed = true
	return nil
}

// copyBlobs makes every blob present, biggest first.
func (p *planner) copyBlobs(ctx context.Context, pl *plan) error {
	blobs := slices.Clone(pl.blobs)
	slices.SortStableFunc(blobs, func(a, b *blobCopy) int { return cmp.Compare(b.desc.Size, a.desc.Size) })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.jobs())
	for _, b := range blobs {
		if b.present {
			continue
		}
		g.Go(func() error {
			src := b.src.Digest(b.desc.Digest.String())
			l, err := p.puller.Layer(gctx, src)
			if err != nil {
				return fmt.Errorf("reading blob %s: %w", src, err)
			}
			// A mountable layer is mounted when it comes from the same
			// registry, streamed from its source otherwise.
			sl := &sizedLayer{desc: b.desc}
			if ml, ok := l.(*remote.MountableLayer); ok {
				sl.Layer = ml.Layer
				l = &remote.MountableLayer{Layer: sl, Reference: ml.Reference}
			} else {
				sl.Layer = l
				l = sl
			}
			if err := p.pusher.Upload(gctx, b.dst, l); err != nil {
				return fmt.Errorf("copying blob %s to %s: %w", b.desc.Digest, b.dst, err)
			}
			// Only a stream reads the blob: anything else was a mount.
			b.outcome = "mounted"
			if sl.opened.Load() {
				b.outcome = "streamed"
			}
			p.progressf("%s: blob %s (%s) %s", b.dst, b.desc.Digest, humanBytes(b.desc.Size), b.outcome)
			return nil
		})
	}
	err := g.Wait()
	for _, b := range pl.blobs {
		k := &pl.copied[b.owner]
		switch {
		case b.present:
			k.skipped++
		case b.outcome == "streamed":
			k.uploaded++
			k.bytes += b.desc.Size
		case b.outcome == "mounted":
			k.mounted++
		}
	}
	return err
}

// sizedLayer gives a remote layer the size and media type its manifest
// names, so that the upload needs no extra request to learn them.
// It also records whether the blob was read from the source.
type sizedLayer struct {
	v1.Layer
	desc   v1.Descriptor
	opened atomic.Bool
}

func (l *sizedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *sizedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *sizedLayer) Compressed() (io.ReadCloser, error) {
	l.opened.Store(true)
	return l.Layer.Compressed()
}

// putManifests puts every manifest by digest, rank by rank.
func (p *planner) putManifests(ctx context.Context, pl *plan) error {
	top := 0
	for _, n := range pl.nodes {
		top = max(top, n.rank)
	}
	for rank := 0; rank <= top; rank++ {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(p.opts.jobs())
		for _, n := range pl.nodes {
			if n.rank != rank || !n.needsPut() {
				continue
			}
			g.Go(func() error {
				ref := n.dst.Digest(n.digest.String())
				if err := p.pusher.Put(gctx, ref, rawManifest{raw: n.raw, mt: n.mediaType}); err != nil {
					return fmt.Errorf("putting manifest %s: %w", ref, err)
				}
				p.progressf("%s: manifest %s (%s)", n.dst, n.digest, n.kind)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) putTags(ctx context.Context, pl *plan, image bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.jobs())
	for _, t := range pl.tags {
		if t.image != image || t.unchanged() {
			continue
		}
		g.Go(func() error {
			if err := p.pusher.Put(gctx, t.ref, rawManifest{raw: t.node.raw, mt: t.node.mediaType}); err != nil {
				return fmt.Errorf("tagging %s: %w", t.ref, err)
			}
			p.progressf("%s: tagged %s", t.ref, t.node.digest)
			return nil
		})
	}
	return g.Wait()
}

// readBack checks that every tag resolves to what was put.
func (p *planner) readBack(ctx context.Context, pl *plan) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.jobs() * 2)
	for _, t := range pl.tags {
		g.Go(func() error {
			desc, err := p.puller.Head(gctx, t.ref)
			if err != nil {
				return fmt.Errorf("checking %s: %w", t.ref, err)
			}
			if desc.Digest != t.node.digest {
				return fmt.Errorf("checking %s: it resolves to %s, not %s (something else moved it)", t.ref, desc.Digest, t.node.digest)
			}
			return nil
		})
	}
	return g.Wait()
}

// verify checks the signatures at the destination: of the image and of
// every platform manifest signed at the source.
func (p *planner) verify(ctx context.Context, pl *plan) error {
	so := sign.Options{RemoteOptions: p.opts.Remote}
	for i, img := range pl.images {
		if !slices.Contains(pl.signed[i], pl.tops[i].digest) {
			return fmt.Errorf("checking the copied signatures: %s: %w", img.Source, sign.ErrUnsigned)
		}
		for _, d := range pl.signed[i] {
			ref := img.Dest.Digest(d.String())
			if _, err := p.opts.Verifier.Verify(ctx, ref, so); err != nil {
				return fmt.Errorf("checking the copied signatures: %w", err)
			}
			p.progressf("%s: signature verified", ref)
		}
	}
	pl.verified = true
	return nil
}
