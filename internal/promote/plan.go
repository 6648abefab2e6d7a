package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Kinds of manifests, by why they are copied.
const (
	kindImage       = "image"
	kindSignature   = "sig"
	kindAttestation = "att"
	kindSBOM        = "sbom"
	kindReferrer    = "referrer"
)

// cosignSuffixes are the tag suffixes cosign attaches to a digest.
var cosignSuffixes = []string{kindSignature, kindAttestation, kindSBOM}

// maxReferrerDepth bounds referrers of referrers (a signature of an SBOM).
const maxReferrerDepth = 3

// node is one manifest to copy into one destination repository.
type node struct {
	src, dst  name.Repository
	digest    v1.Hash
	mediaType types.MediaType
	raw       []byte
	// rank orders the puts: children and subjects have lower ranks.
	rank    int
	present bool // the destination holds it already
	// listed is false for a referrer the destination does not list for
	// its subject yet: it is put even when present, so that the
	// registry (or the fallback tag index) records it.
	listed bool
	kind   string
	owner  int // index of the image it is copied for
}

func (n *node) needsPut() bool { return !n.present || !n.listed }

// blobCopy is one blob to make present in one destination repository.
type blobCopy struct {
	src, dst name.Repository
	desc     v1.Descriptor
	present  bool
	owner    int
	// outcome is "streamed" or "mounted" once copied.
	outcome string
}

func (b *blobCopy) mount() bool { return b.src.RegistryStr() == b.dst.RegistryStr() }

// tagWrite is one destination tag.
type tagWrite struct {
	ref   name.Tag
	node  *node
	has   *v1.Hash // what the tag points at now; nil when absent
	image bool     // an image tag (written last), else an attachment's
	owner int
}

func (t *tagWrite) unchanged() bool { return t.has != nil && *t.has == t.node.digest }

// plan is everything a run copies, read before the first write.
type plan struct {
	images []Image
	tops   []*node
	// platforms per image: os/arch → digest.
	platforms []map[string]string
	nodes     []*node
	blobs     []*blobCopy
	tags      []*tagWrite
	// signed per image: the subject digests that carry a .sig at the source.
	signed [][]v1.Hash

	copied   []counts // filled by execute
	verified bool     // the signatures were checked at the destination
	executed bool     // every tag is written and read back
}

type counts struct {
	uploaded, mounted, skipped int
	bytes                      int64
}

type planner struct {
	opts   Options
	puller *remote.Puller
	pusher *remote.Pusher
	ropts  []remote.Option

	mu     sync.Mutex
	byKey  map[string]*node
	blobOf map[string]*blobCopy
}

func newPlanner(ctx context.Context, opts Options) (*planner, error) {
	ropts := append(slices.Clone(opts.Remote), remote.WithContext(ctx), remote.WithJobs(opts.jobs()))
	pl, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	pu, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, err
	}
	ropts = append(ropts, remote.Reuse(pl))
	return &planner{opts: opts, puller: pl, pusher: pu, ropts: ropts,
		byKey: map[string]*node{}, blobOf: map[string]*blobCopy{}}, nil
}

func (p *planner) progressf(format string, args ...any) {
	if p.opts.Progress != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		fmt.Fprintf(p.opts.Progress, format+"\n", args...)
	}
}

// manifestBody is the part of any manifest or index that names what it
// depends on.
type manifestBody struct {
	MediaType types.MediaType `json:"mediaType"`
	Config    *v1.Descriptor  `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
	Manifests []v1.Descriptor `json:"manifests"`
	Subject   *v1.Descriptor  `json:"subject"`
}

func (p *planner) plan(ctx context.Context, images []Image) (*plan, error) {
	pl := &plan{images: images, platforms: make([]map[string]string, len(images)), signed: make([][]v1.Hash, len(images))}
	for i, img := range images {
		if err := p.planImage(ctx, pl, i, img); err != nil {
			return nil, fmt.Errorf("reading %s: %w", img.Source, err)
		}
	}
	// Destination state, all at once: which manifests, blobs and tags exist.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.jobs() * 2)
	for _, n := range pl.nodes {
		g.Go(func() error {
			ok, err := p.manifestExists(gctx, n.dst.Digest(n.digest.String()))
			if err != nil {
				return fmt.Errorf("checking %s@%s: %w", n.dst, n.digest, err)
			}
			n.present = ok
			return nil
		})
	}
	for _, b := range pl.blobs {
		g.Go(func() error {
			ok, err := p.blobExists(gctx, b.dst.Digest(b.desc.Digest.String()))
			if err != nil {
				return fmt.Errorf("checking blob %s in %s: %w", b.desc.Digest, b.dst, err)
			}
			b.present = ok
			return nil
		})
	}
	for _, t := range pl.tags {
		g.Go(func() error {
			desc, err := p.puller.Head(gctx, t.ref)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("checking %s: %w", t.ref, err)
			}
			t.has = &desc.Digest
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// A referrer already in the destination must also be listed there.
	for _, n := range pl.nodes {
		if n.kind != kindReferrer || !n.present {
			continue
		}
		var sub manifestBody
		if err := json.Unmarshal(n.raw, &sub); err != nil || sub.Subject == nil {
			continue
		}
		idx, err := remote.Referrers(n.dst.Digest(sub.Subject.Digest.String()), p.ropts...)
		if err != nil {
			return nil, fmt.Errorf("listing referrers of %s@%s: %w", n.dst, sub.Subject.Digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("listing referrers of %s@%s: %w", n.dst, sub.Subject.Digest, err)
		}
		n.listed = slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Digest == n.digest })
	}
	return pl, nil
}

func (p *planner) planImage(ctx context.Context, pl *plan, i int, img Image) error {
	top, err := p.manifest(ctx, pl, i, img.Source.Context(), img.Dest, img.Source, kindImage, 0)
	if err != nil {
		return err
	}
	pl.tops = append(pl.tops, top)
	pl.platforms[i] = map[string]string{}
	subjects := []*node{top}
	var body manifestBody
	if err := json.Unmarshal(top.raw, &body); err != nil {
		return fmt.Errorf("reading manifest %s: %w", top.digest, err)
	}
	for _, d := range body.Manifests {
		if pf := d.Platform; pf != nil && pf.OS != "" && pf.OS != "unknown" {
			pl.platforms[i][pf.String()] = d.Digest.String()
		}
		if n := p.byKey[key(img.Dest, d.Digest)]; n != nil {
			subjects = append(subjects, n)
		}
	}
	for _, t := range dedupe(img.Tags) {
		tag := img.Dest.Tag(t)
		pl.tags = append(pl.tags, &tagWrite{ref: tag, node: top, image: true, owner: i})
	}
	return p.attachments(ctx, pl, i, subjects, 0)
}

func dedupe(tags []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// attachments adds the cosign attachments and OCI referrers of subjects.
func (p *planner) attachments(ctx context.Context, pl *plan, i int, subjects []*node, depth int) error {
	var next []*node
	for _, s := range subjects {
		sigs := s.src
		if p.opts.SignatureRepository.RepositoryStr() != "" {
			sigs = p.opts.SignatureRepository
		}
		for _, suffix := range cosignSuffixes {
			t := fmt.Sprintf("%s-%s.%s", s.digest.Algorithm, s.digest.Hex, suffix)
			desc, err := p.puller.Head(ctx, sigs.Tag(t))
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("looking for %s: %w", sigs.Tag(t), err)
			}
			n, err := p.manifest(ctx, pl, i, sigs, s.dst, sigs.Digest(desc.Digest.String()), suffix, s.rank+1)
			if err != nil {
				return err
			}
			pl.tags = append(pl.tags, &tagWrite{ref: s.dst.Tag(t), node: n, owner: i})
			// Only the image's own signatures are the release's; a
			// referrer may be signed by someone else's key.
			if suffix == kindSignature && depth == 0 {
				pl.signed[i] = append(pl.signed[i], s.digest)
			}
		}
		if depth >= maxReferrerDepth {
			continue
		}
		idx, err := remote.Referrers(s.src.Digest(s.digest.String()), p.ropts...)
		if err != nil {
			return fmt.Errorf("listing referrers of %s@%s: %w", s.src, s.digest, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("listing referrers of %s@%s: %w", s.src, s.digest, err)
		}
		for _, d := range im.Manifests {
			if p.byKey[key(s.dst, d.Digest)] != nil {
				continue
			}
			n, err := p.manifest(ctx, pl, i, s.src, s.dst, s.src.Digest(d.Digest.String()), kindReferrer, s.rank+1)
			if err != nil {
				return err
			}
			next = append(next, n)
		}
	}
	if len(next) == 0 {
		return nil
	}
	return p.attachments(ctx, pl, i, next, depth+1)
}

func key(repo name.Repository, d v1.Hash) string { return repo.String() + "@" + d.String() }

// manifest reads ref from src with everything below it, and adds it to the
// plan for dst with a rank of at least minRank.
func (p *planner) manifest(ctx context.Context, pl *plan, i int, src, dst name.Repository, ref name.Digest, kind string, minRank int) (*node, error) {
	h, err := v1.NewHash(ref.DigestStr())
	if err != nil {
		return nil, err
	}
	if n := p.byKey[key(dst, h)]; n != nil {
		return n, nil
	}
	desc, err := p.puller.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", ref, err)
	}
	if desc.Digest != h {
		return nil, fmt.Errorf("reading manifest %s: the registry served %s", ref, desc.Digest)
	}
	var body manifestBody
	if err := json.Unmarshal(desc.Manifest, &body); err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", ref, err)
	}
	if desc.MediaType.IsSchema1() {
		return nil, fmt.Errorf("manifest %s: schema 1 manifests are not supported", ref)
	}
	n := &node{src: src, dst: dst, digest: h, mediaType: desc.MediaType, raw: desc.Manifest,
		rank: minRank, listed: true, kind: kind, owner: i}
	p.byKey[key(dst, h)] = n
	for _, d := range body.Manifests {
		child, err := p.manifest(ctx, pl, i, src, dst, src.Digest(d.Digest.String()), kind, 0)
		if err != nil {
			return nil, err
		}
		n.rank = max(n.rank, child.rank+1)
	}
	if body.Config != nil && body.Config.Digest.Hex != "" {
		p.blob(pl, i, src, dst, *body.Config)
	}
	for _, l := range body.Layers {
		if !l.MediaType.IsDistributable() {
			continue // foreign layers are fetched from their URLs
		}
		p.blob(pl, i, src, dst, l)
	}
	pl.nodes = append(pl.nodes, n)
	return n, nil
}

func (p *planner) blob(pl *plan, i int, src, dst name.Repository, d v1.Descriptor) {
	k := key(dst, d.Digest)
	if p.blobOf[k] != nil {
		return
	}
	b := &blobCopy{src: src, dst: dst, desc: d, owner: i}
	p.blobOf[k] = b
	pl.blobs = append(pl.blobs, b)
}

func (p *planner) manifestExists(ctx context.Context, ref name.Digest) (bool, error) {
	_, err := p.puller.Head(ctx, ref)
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (p *planner) blobExists(ctx context.Context, ref name.Digest) (bool, error) {
	l, err := p.puller.Layer(ctx, ref)
	if err != nil {
		return false, err
	}
	if ml, ok := l.(*remote.MountableLayer); ok {
		l = ml.Layer
	}
	ok, err := partial.Exists(l)
	if isNotFound(err) {
		return false, nil
	}
	return ok, err
}

func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.BlobUnknownErrorCode:
			return true
		}
	}
	return false
}

// conflicts refuses destination tags that point elsewhere, unless force.
func (pl *plan) conflicts(force bool) error {
	if force {
		return nil
	}
	var e TagConflictError
	for _, t := range pl.tags {
		if t.has != nil && *t.has != t.node.digest {
			e.Tags = append(e.Tags, TagConflict{Tag: t.ref, Has: *t.has, Want: t.node.digest})
		}
	}
	if len(e.Tags) == 0 {
		return nil
	}
	return &e
}
