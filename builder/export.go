package builder

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/internal/store"
)

// exportStore is the content store the oci exporter writes into over the
// session. New blobs are written to the staging area (temp file, digest
// checked, renamed into place); blobs the store already has are refused as
// "already exists", which makes BuildKit skip sending them.
//
// It is a minimal content.Store: enough for the exporter, with no labels
// and no resumable writes.
type exportStore struct {
	stage *store.Staging

	mu      sync.Mutex
	writers map[string]*blobWriter // by ref
}

func newExportStore(stage *store.Staging) *exportStore {
	return &exportStore{stage: stage, writers: map[string]*blobWriter{}}
}

var _ content.Store = (*exportStore)(nil)

func (e *exportStore) stagedPath(d digest.Digest) string {
	return filepath.Join(e.stage.Dir(), "blobs", d.Algorithm().String(), d.Encoded())
}

// find returns where blob d is: staged, or already in the store.
func (e *exportStore) find(d digest.Digest) (string, bool) {
	if err := d.Validate(); err != nil {
		return "", false
	}
	if p := e.stagedPath(d); fileExists(p) {
		return p, true
	}
	h := v1.Hash{Algorithm: d.Algorithm().String(), Hex: d.Encoded()}
	if st := e.stage.Store(); st.HasBlob(h) {
		return st.BlobPath(h), true
	}
	return "", false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (e *exportStore) Info(ctx context.Context, d digest.Digest) (content.Info, error) {
	p, ok := e.find(d)
	if !ok {
		return content.Info{}, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return content.Info{}, err
	}
	return content.Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}, nil
}

// Update keeps no labels: it returns the blob's info unchanged.
func (e *exportStore) Update(ctx context.Context, info content.Info, fieldpaths ...string) (content.Info, error) {
	return e.Info(ctx, info.Digest)
}

func (e *exportStore) Walk(ctx context.Context, fn content.WalkFunc, filters ...string) error {
	root := filepath.Join(e.stage.Dir(), "blobs")
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if de.IsDir() {
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(filepath.Base(filepath.Dir(p))), de.Name())
		info, err := e.Info(ctx, d)
		if err != nil {
			return nil
		}
		return fn(info)
	})
}

func (e *exportStore) Delete(ctx context.Context, d digest.Digest) error {
	err := os.Remove(e.stagedPath(d))
	if os.IsNotExist(err) {
		return fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return err
}

func (e *exportStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	p, ok := e.find(desc.Digest)
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, errdefs.ErrNotFound)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return fileReaderAt{f, fi.Size()}, nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (f fileReaderAt) Size() int64 { return f.size }

func (e *exportStore) Status(ctx context.Context, ref string) (content.Status, error) {
	e.mu.Lock()
	w, ok := e.writers[ref]
	e.mu.Unlock()
	if !ok {
		return content.Status{}, fmt.Errorf("write %s: %w", ref, errdefs.ErrNotFound)
	}
	return w.Status()
}

func (e *exportStore) ListStatuses(ctx context.Context, filters ...string) ([]content.Status, error) {
	e.mu.Lock()
	ws := make([]*blobWriter, 0, len(e.writers))
	for _, w := range e.writers {
		ws = append(ws, w)
	}
	e.mu.Unlock()
	var out []content.Status
	for _, w := range ws {
		if s, err := w.Status(); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (e *exportStore) Abort(ctx context.Context, ref string) error {
	e.mu.Lock()
	w, ok := e.writers[ref]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("write %s: %w", ref, errdefs.ErrNotFound)
	}
	return w.Close()
}

func (e *exportStore) Writer(ctx context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	var wo content.WriterOpts
	for _, o := range opts {
		if err := o(&wo); err != nil {
			return nil, err
		}
	}
	if wo.Desc.Digest != "" {
		if _, ok := e.find(wo.Desc.Digest); ok {
			return nil, fmt.Errorf("blob %s: %w", wo.Desc.Digest, errdefs.ErrAlreadyExists)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, busy := e.writers[wo.Ref]; busy && wo.Ref != "" {
		return nil, fmt.Errorf("write %s: %w", wo.Ref, errdefs.ErrUnavailable)
	}
	f, err := os.CreateTemp(e.stage.Dir(), "ingest-")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	w := &blobWriter{
		e: e, f: f, ref: wo.Ref,
		total: wo.Desc.Size, expected: wo.Desc.Digest,
		digester: digest.Canonical.Digester(),
		started:  now, updated: now,
	}
	if wo.Ref != "" {
		e.writers[wo.Ref] = w
	}
	return w, nil
}

// blobWriter writes one blob to a temp file of the staging area and, on
// Commit, checks its size and digest and renames it into blobs/.
type blobWriter struct {
	e        *exportStore
	f        *os.File
	ref      string
	total    int64
	expected digest.Digest
	digester digest.Digester
	offset   int64
	started  time.Time
	updated  time.Time

	mu     sync.Mutex
	closed bool
}

func (w *blobWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	w.updated = time.Now()
	return n, err
}

func (w *blobWriter) Digest() digest.Digest { return w.digester.Digest() }

func (w *blobWriter) Status() (content.Status, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return content.Status{
		Ref: w.ref, Offset: w.offset, Total: w.total, Expected: w.expected,
		StartedAt: w.started, UpdatedAt: w.updated,
	}, nil
}

// Truncate supports starting over (size 0) only.
func (w *blobWriter) Truncate(size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if size != 0 {
		return fmt.Errorf("truncate to %d: %w", size, errdefs.ErrNotImplemented)
	}
	if err := w.f.Truncate(0); err != nil {
		return err
	}
	if _, err := w.f.Seek(0, 0); err != nil {
		return err
	}
	w.digester = digest.Canonical.Digester()
	w.offset = 0
	return nil
}

func (w *blobWriter) Commit(ctx context.Context, size int64, expected digest.Digest, opts ...content.Opt) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	defer w.closeLocked()
	if err := w.f.Close(); err != nil {
		return err
	}
	if size > 0 && size != w.offset {
		return fmt.Errorf("blob size %d, expected %d: %w", w.offset, size, errdefs.ErrFailedPrecondition)
	}
	got := w.digester.Digest()
	if expected == "" {
		expected = w.expected
	}
	if expected != "" && expected != got {
		return fmt.Errorf("blob digest %s, expected %s: %w", got, expected, errdefs.ErrFailedPrecondition)
	}
	if _, ok := w.e.find(got); ok {
		return fmt.Errorf("blob %s: %w", got, errdefs.ErrAlreadyExists)
	}
	dst := w.e.stagedPath(got)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(w.f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(w.f.Name(), dst)
}

func (w *blobWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeLocked()
}

// closeLocked drops an uncommitted temp file (after a commit it is gone already).
func (w *blobWriter) closeLocked() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.f.Close()
	os.Remove(w.f.Name())
	w.e.mu.Lock()
	if w.e.writers[w.ref] == w {
		delete(w.e.writers, w.ref)
	}
	w.e.mu.Unlock()
	return nil
}

func ocispecPlatform(p v1.Platform) ocispec.Platform {
	return ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}
