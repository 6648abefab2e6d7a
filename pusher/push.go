package pusher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// Published is what a push put where.
type Published struct {
	// Digest is the digest of the pushed manifest or index.
	Digest string
	// MediaType is its media type.
	MediaType string
	// PlatformDigests maps "os/arch[/variant]" to the digest of that
	// platform's image manifest; a single image maps its own platform.
	PlatformDigests map[string]string
	// Refs holds "REF@DIGEST" for every reference, in the order given.
	Refs []string
	// Registries lists the registries written to, in order of first use.
	Registries []string
	// BytesUploaded counts the bytes of the blobs sent (not skipped or mounted).
	BytesUploaded int64
	// BlobsUploaded, BlobsSkipped and BlobsMounted count blobs per
	// repository: sent, already present, or mounted from another
	// repository of the same registry.
	BlobsUploaded, BlobsSkipped, BlobsMounted int
}

// Push publishes artifact, a v1.Image or a v1.ImageIndex (for example from
// pkg/v1/layout), under every reference of refs.
//
// In every registry and repository it uploads the missing blobs (each once,
// Jobs at a time, streamed from their source; a blob already present is
// skipped, and one already pushed to another repository of the same
// registry is mounted), then the manifests by digest, children before the
// index. Only when all content is present everywhere does it write the
// tags, and then it checks that every reference resolves to the pushed
// digest. An error before the tags leaves every existing tag untouched; an
// error while tagging may leave some tags moved, always to complete content.
//
// A tag that already points at the artifact's digest is left as it is, its
// lookup standing for the read-back; when every tag does, the registry holds
// the whole artifact (it accepted the manifest) and nothing else is sent.
func Push(ctx context.Context, artifact remote.Taggable, refs []name.Tag, opts Options) (Published, error) {
	o := opts.withDefaults()
	if len(refs) == 0 {
		return Published{}, errors.New("pushing: no reference given")
	}
	p, err := readArtifact(artifact)
	if err != nil {
		return Published{}, fmt.Errorf("reading the artifact to push: %w", err)
	}
	regs, err := o.targets(refs)
	if err != nil {
		return Published{}, err
	}
	s, err := newSession(o)
	if err != nil {
		return Published{}, err
	}
	defer s.prog.close()

	ctx, cancel := context.WithTimeoutCause(ctx, o.Deadline, fmt.Errorf("%w (%s)", errDeadline, o.Deadline))
	defer cancel()

	for _, phase := range []func(context.Context, *plan, []*regTarget) error{s.connect, s.lookTags} {
		if err := phase(ctx, p, regs); err != nil {
			return Published{}, err
		}
	}
	if allTagged(regs) {
		for _, rt := range regs {
			s.skipped.Add(int64(len(p.blobs) * len(rt.repos)))
		}
	} else {
		for _, phase := range []func(context.Context, *plan, []*regTarget) error{
			s.pushBlobs, s.pushManifests, s.pushTags, s.verify,
		} {
			if err := phase(ctx, p, regs); err != nil {
				return Published{}, err
			}
		}
	}

	pub := Published{
		Digest:          p.top.digest.String(),
		MediaType:       string(p.top.mediaType),
		PlatformDigests: p.platforms,
		BytesUploaded:   s.bytes.Load(),
		BlobsUploaded:   int(s.uploaded.Load()),
		BlobsSkipped:    int(s.skipped.Load()),
		BlobsMounted:    int(s.mounted.Load()),
	}
	seen := map[string]bool{}
	for _, ref := range refs {
		r := ref.String() + "@" + pub.Digest
		if !seen[r] {
			seen[r] = true
			pub.Refs = append(pub.Refs, r)
		}
	}
	for _, rt := range regs {
		pub.Registries = append(pub.Registries, rt.reg.RegistryStr())
	}
	return pub, nil
}

// regTarget is one registry and the repositories to push to in it.
type regTarget struct {
	reg   name.Registry
	repos []*repoTarget
}

type repoTarget struct {
	repo name.Repository
	tags []string
	c    *repoClient
	// tagged marks the tags found pointing at the digest before the push
	// (same order as tags); they are neither written nor read back again.
	tagged []bool
}

// allTagged reports whether every tag already points at the digest.
func allTagged(regs []*regTarget) bool {
	for _, rt := range regs {
		for _, pt := range rt.repos {
			for i := range pt.tags {
				if !pt.tagged[i] {
					return false
				}
			}
		}
	}
	return true
}

// targets groups refs by registry and repository, in the order given, and
// marks registries listed in InsecureRegistries so that plain HTTP is tried.
func (o Options) targets(refs []name.Tag) ([]*regTarget, error) {
	var regs []*regTarget
	byReg := map[string]*regTarget{}
	byRepo := map[string]*repoTarget{}
	for _, ref := range refs {
		repoName := ref.Context().Name()
		var nopts []name.Option
		if o.isInsecure(ref.Context().RegistryStr()) {
			nopts = append(nopts, name.Insecure)
		}
		repo, err := name.NewRepository(repoName, nopts...)
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", ref, err)
		}
		rt := byReg[repo.RegistryStr()]
		if rt == nil {
			rt = &regTarget{reg: repo.Registry}
			byReg[repo.RegistryStr()] = rt
			regs = append(regs, rt)
		}
		pt := byRepo[repo.String()]
		if pt == nil {
			pt = &repoTarget{repo: repo}
			byRepo[repo.String()] = pt
			rt.repos = append(rt.repos, pt)
		}
		if !slices.Contains(pt.tags, ref.TagStr()) {
			pt.tags = append(pt.tags, ref.TagStr())
		}
	}
	return regs, nil
}

func (o Options) isInsecure(host string) bool {
	host = strings.ToLower(host)
	for _, h := range o.InsecureRegistries {
		h = strings.ToLower(h)
		if h == host || (!strings.Contains(h, ":") && strings.Split(host, ":")[0] == h) {
			return true
		}
	}
	return false
}

// session is the state of one Push.
type session struct {
	o     Options
	ua    http.RoundTripper
	retry *retrier
	prog  *progress

	bytes                      atomic.Int64
	uploaded, skipped, mounted atomic.Int64
}

func newSession(o Options) (*session, error) {
	base, err := newBaseTransport(o)
	if err != nil {
		return nil, err
	}
	return &session{
		o:     o,
		ua:    transport.NewUserAgent(base, "slipway"),
		retry: &retrier{attempts: o.Retries, base: o.backoff, debug: base.debug},
		prog:  newProgress(o.Progress, o.ProgressMode),
	}, nil
}

// connect authenticates to every repository: a ping, then a token for the
// repository (push) and its siblings in the same registry (pull, to mount).
func (s *session) connect(ctx context.Context, _ *plan, regs []*regTarget) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, rt := range regs {
		for _, pt := range rt.repos {
			scopes := []string{pt.repo.Scope(transport.PushScope)}
			for _, other := range rt.repos {
				if other != pt {
					scopes = append(scopes, other.repo.Scope(transport.PullScope))
				}
			}
			g.Go(func() error {
				c, err := s.client(ctx, pt.repo, scopes)
				if err != nil {
					return fmt.Errorf("connecting to %s: %w", pt.repo, classify(err, pt.repo.RegistryStr()))
				}
				pt.c = c
				return nil
			})
		}
	}
	return g.Wait()
}

func (s *session) client(ctx context.Context, repo name.Repository, scopes []string) (*repoClient, error) {
	auth, err := authn.Resolve(ctx, s.o.Keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("finding credentials: %w", err)
	}
	var tr http.RoundTripper
	err = s.retry.do(ctx, "connecting to "+repo.String(), func(ctx context.Context) error {
		var err error
		tr, err = transport.NewWithContext(ctx, repo.Registry, auth, s.ua, scopes)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &repoClient{repo: repo, client: &http.Client{Transport: tr}}, nil
}

// lookTags finds the tags that already point at the digest, one lookup each,
// without retries: a failed lookup only means the tag is written as usual.
func (s *session) lookTags(ctx context.Context, p *plan, regs []*regTarget) error {
	var mu sync.Mutex
	var moves []Move
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Jobs)
	for _, rt := range regs {
		for _, pt := range rt.repos {
			pt.tagged = make([]bool, len(pt.tags))
			for i, tag := range pt.tags {
				g.Go(func() error {
					got, err := pt.c.resolve(gctx, tag)
					pt.tagged[i] = err == nil && got == p.top.digest
					if err == nil && got != p.top.digest && s.o.Guard != nil {
						mu.Lock()
						moves = append(moves, Move{Ref: pt.repo.Tag(tag), Old: got.String(), New: p.top.digest.String()})
						mu.Unlock()
					}
					return gctx.Err()
				})
			}
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(moves) > 0 {
		sort.Slice(moves, func(i, j int) bool { return moves[i].Ref.String() < moves[j].Ref.String() })
		return s.o.Guard(moves)
	}
	return nil
}

// pushBlobs makes every blob present in every repository. Blobs go in
// parallel, biggest first; within one registry a blob goes to its first
// repository, then is mounted into the others.
func (s *session) pushBlobs(ctx context.Context, p *plan, regs []*regTarget) error {
	blobs := slices.Clone(p.blobs)
	slices.SortStableFunc(blobs, func(a, b *blob) int { return cmp.Compare(b.size, a.size) })
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Jobs)
	for _, b := range blobs {
		for _, rt := range regs {
			g.Go(func() error {
				for i, pt := range rt.repos {
					var from *repoTarget
					if i > 0 {
						from = rt.repos[0]
					}
					if err := s.pushBlob(ctx, pt, b, from); err != nil {
						return fmt.Errorf("uploading blob %s to %s: %w", b.digest, pt.repo, classify(err, pt.repo.RegistryStr()))
					}
				}
				return nil
			})
		}
	}
	return g.Wait()
}

type outcome int

const (
	skipped outcome = iota
	mounted
	uploaded
)

func (s *session) pushBlob(ctx context.Context, pt *repoTarget, b *blob, from *repoTarget) error {
	task := s.prog.start(pt.repo.String(), b.digest, b.size)
	var how outcome
	err := s.retry.do(ctx, "uploading "+b.digest.String()+" to "+pt.repo.String(), func(ctx context.Context) error {
		task.reset()
		var err error
		how, err = s.tryBlob(ctx, pt, b, from, task.add)
		return err
	})
	if err != nil {
		task.fail()
		return err
	}
	switch how {
	case skipped:
		s.skipped.Add(1)
		task.done("exists")
	case mounted:
		s.mounted.Add(1)
		task.done("mounted from " + from.repo.RepositoryStr())
	case uploaded:
		s.uploaded.Add(1)
		s.bytes.Add(b.size)
		task.done("uploaded")
	}
	return nil
}

// tryBlob is one attempt at one blob: HEAD, then mount or upload in a
// new session.
func (s *session) tryBlob(ctx context.Context, pt *repoTarget, b *blob, from *repoTarget, count func(int64)) (outcome, error) {
	exists, err := pt.c.blobExists(ctx, b.digest)
	if err != nil {
		return 0, err
	}
	if exists {
		return skipped, nil
	}
	var loc string
	if from != nil {
		var ok bool
		loc, ok, err = pt.c.startUpload(ctx, b.digest, from.repo.RepositoryStr())
		if ok {
			return mounted, nil
		}
		if err != nil && !transient(err) {
			// Some registries refuse mount requests outright: upload instead.
			loc, err = "", nil
		}
		if err != nil {
			return 0, err
		}
	}
	if loc == "" {
		if loc, _, err = pt.c.startUpload(ctx, b.digest, ""); err != nil {
			return 0, err
		}
	}
	if loc, err = pt.c.upload(ctx, loc, b, count); err != nil {
		return 0, err
	}
	if err := pt.c.commit(ctx, loc, b.digest); err != nil {
		return 0, err
	}
	return uploaded, nil
}

// pushManifests puts every manifest by digest into every repository, one
// level at a time: images, then the indexes that list them.
func (s *session) pushManifests(ctx context.Context, p *plan, regs []*regTarget) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, rt := range regs {
		for _, pt := range rt.repos {
			g.Go(func() error {
				for level := range p.levels {
					lg, lctx := errgroup.WithContext(ctx)
					lg.SetLimit(s.o.Jobs)
					for _, m := range p.manifests {
						if m.level != level {
							continue
						}
						lg.Go(func() error {
							err := s.retry.do(lctx, "pushing manifest "+m.digest.String()+" to "+pt.repo.String(), func(ctx context.Context) error {
								ok, err := pt.c.manifestExists(ctx, m.digest)
								if err != nil || ok {
									return err
								}
								return pt.c.putManifest(ctx, m.digest.String(), m)
							})
							if err != nil {
								return fmt.Errorf("pushing manifest %s to %s: %w", m.digest, pt.repo, classify(err, pt.repo.RegistryStr()))
							}
							return nil
						})
					}
					if err := lg.Wait(); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// pushTags points every tag at the top manifest.
func (s *session) pushTags(ctx context.Context, p *plan, regs []*regTarget) error {
	return s.eachTag(ctx, regs, func(ctx context.Context, pt *repoTarget, tag string) error {
		ref := pt.repo.Tag(tag)
		err := s.retry.do(ctx, "tagging "+ref.String(), func(ctx context.Context) error {
			return pt.c.putManifest(ctx, tag, p.top)
		})
		if err != nil {
			return fmt.Errorf("tagging %s: %w", ref, classify(err, pt.repo.RegistryStr()))
		}
		s.prog.linef("%s: tagged %s", ref, p.top.digest)
		return nil
	})
}

// verify reads every tag back from its registry.
func (s *session) verify(ctx context.Context, p *plan, regs []*regTarget) error {
	return s.eachTag(ctx, regs, func(ctx context.Context, pt *repoTarget, tag string) error {
		ref := pt.repo.Tag(tag)
		var got v1.Hash
		err := s.retry.do(ctx, "checking "+ref.String(), func(ctx context.Context) error {
			var err error
			got, err = pt.c.resolve(ctx, tag)
			return err
		})
		if err != nil {
			return fmt.Errorf("checking %s: %w", ref, classify(err, pt.repo.RegistryStr()))
		}
		if got != p.top.digest {
			return fmt.Errorf("checking %s: %w", ref, &hostError{host: pt.repo.RegistryStr(), kind: ErrMismatch,
				err: fmt.Errorf("%w: %s, not %s", ErrMismatch, got, p.top.digest)})
		}
		return nil
	})
}

// eachTag runs f for every tag not already found pointing at the digest.
func (s *session) eachTag(ctx context.Context, regs []*regTarget, f func(context.Context, *repoTarget, string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Jobs)
	for _, rt := range regs {
		for _, pt := range rt.repos {
			for i, tag := range pt.tags {
				if pt.tagged != nil && pt.tagged[i] {
					continue
				}
				g.Go(func() error { return f(ctx, pt, tag) })
			}
		}
	}
	return g.Wait()
}
