package pusher

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// recorder keeps the requests of one or more fake registries in one order.
type recorder struct {
	mu   sync.Mutex
	reqs []record
}

type record struct {
	seq    int
	host   string
	method string
	path   string
	query  string
	status int
	at     time.Time
}

func (r *recorder) add(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.seq = len(r.reqs)
	r.reqs = append(r.reqs, rec)
}

func (r *recorder) all() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.reqs...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// kind names what a request does in the distribution protocol.
func (rec record) kind() string {
	switch {
	case rec.path == "/v2/" || rec.path == "/v2":
		return "ping"
	case strings.Contains(rec.path, "/blobs/uploads/") && rec.method == http.MethodPost:
		if strings.Contains(rec.query, "mount=") {
			return "blob-mount"
		}
		return "blob-start"
	case strings.Contains(rec.path, "/blobs/uploads/") && rec.method == http.MethodPatch:
		return "blob-patch"
	case strings.Contains(rec.path, "/blobs/uploads/") && rec.method == http.MethodPut:
		return "blob-commit"
	case strings.Contains(rec.path, "/blobs/") && rec.method == http.MethodHead:
		return "blob-head"
	case strings.Contains(rec.path, "/manifests/"):
		ref := rec.path[strings.LastIndex(rec.path, "/")+1:]
		by := "tag"
		if strings.HasPrefix(ref, "sha256:") {
			by = "digest"
		}
		return "manifest-" + strings.ToLower(rec.method) + "-" + by
	}
	return "other"
}

func count(recs []record, kinds ...string) int {
	n := 0
	for _, r := range recs {
		for _, k := range kinds {
			if r.kind() == k {
				n++
			}
		}
	}
	return n
}

// fakeRegistry is go-containerregistry's in-memory registry made stricter,
// to check the pusher's order: blobs are kept per repository, cross-repo
// mounts work (when mount is set), and a manifest whose blobs or children
// are not in its repository is refused and noted as a violation, the way
// the distribution registry refuses it.
type fakeRegistry struct {
	t     testing.TB
	rec   *recorder
	inner http.Handler
	blobs *repoBlobs
	mount bool
	srv   *httptest.Server
	host  string

	mu         sync.Mutex
	manifests  map[string]map[string]v1.Hash // repo → digest or tag → digest
	violations []string

	// wrap, when set, sees each request before the registry does (faults).
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)

	// proxy, when set, serves instead of the in-memory registry: a
	// reverse proxy to a real one.
	proxy http.Handler
}

func newFakeRegistry(t testing.TB, rec *recorder) *fakeRegistry {
	t.Helper()
	if rec == nil {
		rec = &recorder{}
	}
	f := &fakeRegistry{t: t, rec: rec, blobs: &repoBlobs{m: map[string][]byte{}}, mount: true, manifests: map[string]map[string]v1.Hash{}}
	f.inner = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(f.blobs))
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.host = strings.TrimPrefix(f.srv.URL, "http://")
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, v := range f.violations {
			t.Errorf("order violation in %s: %s", f.host, v)
		}
	})
	return f
}

func (f *fakeRegistry) ref(t testing.TB, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(f.host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Hijack lets fault injectors cut connections; the record shows status -1.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status = -1
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rec := record{host: f.host, method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, at: time.Now()}
	defer func() {
		rec.status = sw.status
		f.rec.add(rec)
	}()
	next := http.Handler(http.HandlerFunc(f.registry))
	if f.proxy != nil {
		next = f.proxy
	}
	if f.wrap != nil {
		f.wrap(sw, r, next)
		return
	}
	next.ServeHTTP(sw, r)
}

func repoOf(path, marker string) string {
	p := strings.TrimPrefix(path, "/v2/")
	i := strings.LastIndex(p, marker)
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (f *fakeRegistry) registry(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") && r.URL.Query().Get("mount") != "":
		repo := repoOf(r.URL.Path, "/blobs/uploads/")
		d, err := v1.NewHash(r.URL.Query().Get("mount"))
		if err == nil && f.mount && f.blobs.copy(r.URL.Query().Get("from"), repo, d) {
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d.String())
			w.Header().Set("Docker-Content-Digest", d.String())
			w.WriteHeader(http.StatusCreated)
			return
		}
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
		repo := repoOf(r.URL.Path, "/manifests/")
		ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h, _, _ := v1.SHA256(bytes.NewReader(body))
		if msg := f.check(repo, types.MediaType(r.Header.Get("Content-Type")), body); msg != "" {
			f.mu.Lock()
			f.violations = append(f.violations, fmt.Sprintf("PUT %s: %s", r.URL.Path, msg))
			f.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":%q}]}`, msg)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		f.inner.ServeHTTP(sw, r)
		if sw.status == http.StatusCreated {
			f.mu.Lock()
			if f.manifests[repo] == nil {
				f.manifests[repo] = map[string]v1.Hash{}
			}
			f.manifests[repo][ref] = h
			f.manifests[repo][h.String()] = h
			f.mu.Unlock()
		}
		return
	}
	f.inner.ServeHTTP(w, r)
}

// check says what a manifest lacks in repo, or "".
func (f *fakeRegistry) check(repo string, mt types.MediaType, body []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case mt.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return err.Error()
		}
		for _, d := range im.Manifests {
			if _, ok := f.manifests[repo][d.Digest.String()]; !ok {
				return "child " + d.Digest.String() + " missing"
			}
		}
	case mt.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(body))
		if err != nil {
			return err.Error()
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !f.blobs.has(repo, d.Digest) {
				return "blob " + d.Digest.String() + " missing"
			}
		}
	default:
		return "unknown media type " + string(mt)
	}
	return ""
}

// resolveTag says where tag points in repo.
func (f *fakeRegistry) resolveTag(repo, tag string) (v1.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.manifests[repo][tag]
	return h, ok
}

// repoBlobs is a blob store that keeps blobs per repository.
type repoBlobs struct {
	mu sync.Mutex
	m  map[string][]byte // repo@digest
}

// key names a blob of a repository. The in-memory registry names the
// repository of an upload commit with a "/blobs" suffix: drop it.
func (b *repoBlobs) key(repo string, h v1.Hash) string {
	return strings.TrimSuffix(repo, "/blobs") + "@" + h.String()
}

func (b *repoBlobs) has(repo string, h v1.Hash) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.m[b.key(repo, h)]
	return ok
}

func (b *repoBlobs) copy(from, to string, h v1.Hash) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[b.key(from, h)]
	if ok {
		b.m[b.key(to, h)] = data
	}
	return ok
}

func (b *repoBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[b.key(repo, h)]
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *repoBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[b.key(repo, h)]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(data)), nil
}

func (b *repoBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[b.key(repo, h)] = data
	return nil
}

// validateTags checks, with go-containerregistry, that every tag of repo
// points at complete content: every manifest, config and layer present
// with the right digest. It returns the tags.
func validateTags(t testing.TB, repo name.Repository, opts ...remote.Option) []string {
	t.Helper()
	tags, err := remote.List(repo, opts...)
	if err != nil {
		t.Fatalf("listing %s: %v", repo, err)
	}
	for _, tag := range tags {
		ref := repo.Tag(tag)
		desc, err := remote.Get(ref, opts...)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if err := complete(desc); err != nil {
			t.Errorf("%s points at incomplete content: %v", ref, err)
		}
	}
	return tags
}

func complete(desc *remote.Descriptor) error {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			if err := completeImage(img); err != nil {
				return fmt.Errorf("%s: %w", d.Digest, err)
			}
		}
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return completeImage(img)
}

func completeImage(img v1.Image) error {
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(raw)); h != m.Config.Digest {
		return fmt.Errorf("config digest %s, want %s", h, m.Config.Digest)
	}
	for _, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.Digest, err)
		}
		if h != d.Digest || n != d.Size {
			return fmt.Errorf("layer %s reads as %s (%d bytes)", d.Digest, h, n)
		}
	}
	return nil
}
