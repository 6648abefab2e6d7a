// Package store is the local image store shared by the builder and the
// pusher: an OCI image layout directory (oci-layout, index.json, blobs/) in
// which each image is found by name.
//
// The index holds one entry per image name, the newest build of it; an
// entry's name is kept in the annotations org.opencontainers.image.ref.name
// and io.containerd.image.name. Blobs that no entry reaches are removed by
// [Store.GC], which [Staging.Commit] runs after replacing an entry.
//
// A Store is safe for use by several goroutines and several processes at
// once: index.json is rewritten whole (temp file and rename) under an
// exclusive file lock, blobs are renamed into place whole, and a build that
// is writing blobs holds a shared lock that keeps GC away until its entry is
// in the index.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations that carry an image's name on its index entry.
const (
	AnnotationRefName        = "org.opencontainers.image.ref.name"
	AnnotationContainerdName = "io.containerd.image.name"
)

// ErrNotFound is returned (wrapped) when no image of the given name is in the store.
var ErrNotFound = errors.New("image not in store")

const (
	indexFile   = "index.json"
	layoutFile  = "oci-layout"
	ignoreFile  = ".gitignore"
	indexLock   = ".index.lock" // exclusive while index.json is read, changed and rewritten
	gcLock      = ".gc.lock"    // shared while blobs are staged, exclusive during GC
	stagingDir  = ".staging"
	blobsDir    = "blobs"
	layoutValue = `{"imageLayoutVersion":"1.0.0"}`
)

// Store is an OCI image layout on disk. Create one with [Open].
type Store struct {
	dir string

	indexMu sync.Mutex // index updates within this process (flock covers other processes)

	// stageMu is read-held by every open Staging of this process and
	// write-held by GC, so that GC never runs under a staging of its own process.
	stageMu sync.RWMutex
	// shared holds the shared flock on .gc.lock while this process has at
	// least one open Staging; sharedN counts them.
	sharedMu sync.Mutex
	shared   *os.File
	sharedN  int
}

// Entry is one image of the store.
type Entry struct {
	Name       string
	Descriptor v1.Descriptor
}

// Open opens the store in dir, creating the directory, an empty OCI layout
// and a .gitignore that ignores everything (so the store never shows up as
// a change in a git work tree) when they are absent.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	return s, nil
}

func (s *Store) init() error {
	if err := os.MkdirAll(filepath.Join(s.dir, blobsDir, "sha256"), 0o755); err != nil {
		return err
	}
	if err := writeIfAbsent(filepath.Join(s.dir, ignoreFile), "*\n"); err != nil {
		return err
	}
	if err := writeIfAbsent(filepath.Join(s.dir, layoutFile), layoutValue); err != nil {
		return err
	}
	return s.withIndexLock(func() error {
		_, err := os.Stat(filepath.Join(s.dir, indexFile))
		if errors.Is(err, fs.ErrNotExist) {
			return s.writeIndex(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex})
		}
		return err
	})
}

func writeIfAbsent(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Dir returns the store's directory (absolute).
func (s *Store) Dir() string { return s.dir }

// BlobPath returns where the blob h is, or would be, in the store.
func (s *Store) BlobPath(h v1.Hash) string {
	return filepath.Join(s.dir, blobsDir, h.Algorithm, h.Hex)
}

// HasBlob reports whether the store holds the blob h.
func (s *Store) HasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.BlobPath(h))
	return err == nil
}

// Entries returns every image of the store, in index order.
func (s *Store) Entries() ([]Entry, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range idx.Manifests {
		if n := entryName(d); n != "" {
			out = append(out, Entry{Name: n, Descriptor: d})
		}
	}
	return out, nil
}

// Lookup returns the index entry of the image called name: a manifest's
// descriptor, or an index's for a multi-platform image. It returns an error
// wrapping [ErrNotFound] when there is none.
func (s *Store) Lookup(name string) (v1.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if entryName(d) == name || d.Annotations[AnnotationContainerdName] == name {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%s: %w", name, ErrNotFound)
}

// Taggable returns the image called name as a v1.ImageIndex when it is a
// multi-platform image, else as a v1.Image: what remote.Write,
// remote.WriteIndex and remote.Tag take.
func (s *Store) Taggable(name string) (remote.Taggable, error) {
	d, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	if d.MediaType.IsIndex() {
		return s.indexByDigest(d.Digest)
	}
	return s.imageByDigest(d.Digest)
}

// Image returns the single-platform image called name.
func (s *Store) Image(name string) (v1.Image, error) {
	d, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("image %s is %s, not a single-platform image", name, d.MediaType)
	}
	return s.imageByDigest(d.Digest)
}

// Index returns the multi-platform image called name.
func (s *Store) Index(name string) (v1.ImageIndex, error) {
	d, err := s.Lookup(name)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("image %s is %s, not a multi-platform image", name, d.MediaType)
	}
	return s.indexByDigest(d.Digest)
}

func (s *Store) imageByDigest(h v1.Hash) (v1.Image, error) {
	img, err := layout.Path(s.dir).Image(h)
	if err != nil {
		return nil, fmt.Errorf("reading image %s from store: %w", h, err)
	}
	return img, nil
}

func (s *Store) indexByDigest(h v1.Hash) (v1.ImageIndex, error) {
	root, err := layout.Path(s.dir).ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading store index: %w", err)
	}
	idx, err := root.ImageIndex(h)
	if err != nil {
		return nil, fmt.Errorf("reading index %s from store: %w", h, err)
	}
	return idx, nil
}

// Remove drops the entry called name from the index; its blobs go at the next GC.
// Removing a name that is absent is not an error.
func (s *Store) Remove(name string) error {
	return s.updateIndex(func(idx *v1.IndexManifest) {
		idx.Manifests = without(idx.Manifests, name)
	})
}

func entryName(d v1.Descriptor) string {
	if n := d.Annotations[AnnotationRefName]; n != "" {
		return n
	}
	return d.Annotations[AnnotationContainerdName]
}

func without(ds []v1.Descriptor, name string) []v1.Descriptor {
	out := ds[:0:0]
	for _, d := range ds {
		if entryName(d) != name && d.Annotations[AnnotationContainerdName] != name {
			out = append(out, d)
		}
	}
	return out
}

// setEntry puts d in the index under name, replacing the older entry of that name.
func (s *Store) setEntry(name string, d v1.Descriptor) error {
	ann := make(map[string]string, len(d.Annotations)+2)
	for k, v := range d.Annotations {
		ann[k] = v
	}
	ann[AnnotationRefName] = name
	ann[AnnotationContainerdName] = name
	d.Annotations = ann
	return s.updateIndex(func(idx *v1.IndexManifest) {
		idx.Manifests = append(without(idx.Manifests, name), d)
	})
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, indexFile))
	if err != nil {
		return nil, fmt.Errorf("reading store index: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("reading store index %s: %w", filepath.Join(s.dir, indexFile), err)
	}
	return &idx, nil
}

func (s *Store) updateIndex(change func(*v1.IndexManifest)) error {
	err := s.withIndexLock(func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		change(idx)
		return s.writeIndex(idx)
	})
	if err != nil {
		return fmt.Errorf("updating store index: %w", err)
	}
	return nil
}

// writeIndex replaces index.json whole, so that a reader never sees half of it.
func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, indexFile), b)
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func (s *Store) withIndexLock(fn func() error) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, indexLock), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking store index: %w", err)
	}
	return fn()
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// acquireShared takes this process's share of the GC lock.
func (s *Store) acquireShared() error {
	s.stageMu.RLock()
	s.sharedMu.Lock()
	defer s.sharedMu.Unlock()
	if s.sharedN == 0 {
		f, err := os.OpenFile(filepath.Join(s.dir, gcLock), os.O_RDWR|os.O_CREATE, 0o644)
		if err == nil {
			err = flock(f, syscall.LOCK_SH)
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			s.stageMu.RUnlock()
			return fmt.Errorf("locking store: %w", err)
		}
		s.shared = f
	}
	s.sharedN++
	return nil
}

func (s *Store) releaseShared() {
	s.sharedMu.Lock()
	s.sharedN--
	if s.sharedN == 0 {
		s.shared.Close() // closing the last descriptor drops the flock
		s.shared = nil
	}
	s.sharedMu.Unlock()
	s.stageMu.RUnlock()
}

// GC removes the blobs that no index entry reaches, and staging areas left
// behind by processes that died. It does nothing, and returns nil, while a
// build in this or another process is writing into the store: the last
// commit of a run collects what is left.
func (s *Store) GC() error {
	if !s.stageMu.TryLock() {
		return nil
	}
	defer s.stageMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.dir, gcLock), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("collecting store garbage: %w", err)
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil
		}
		return fmt.Errorf("collecting store garbage: %w", err)
	}
	if err := s.gc(); err != nil {
		return fmt.Errorf("collecting store garbage: %w", err)
	}
	return nil
}

func (s *Store) gc() error {
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	keep := map[v1.Hash]bool{}
	for _, d := range idx.Manifests {
		if err := s.walk(d, func(d v1.Descriptor) error {
			keep[d.Digest] = true
			return nil
		}); err != nil {
			return err
		}
	}
	algs, err := os.ReadDir(filepath.Join(s.dir, blobsDir))
	if err != nil {
		return err
	}
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		blobs, err := os.ReadDir(filepath.Join(s.dir, blobsDir, alg.Name()))
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if !keep[v1.Hash{Algorithm: alg.Name(), Hex: b.Name()}] {
				if err := os.Remove(filepath.Join(s.dir, blobsDir, alg.Name(), b.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
	}
	// No staging is open anywhere (we hold the GC lock exclusively), so what
	// is left under .staging belongs to processes that are gone.
	if err := os.RemoveAll(filepath.Join(s.dir, stagingDir)); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(s.dir, "ingest"))
}

// walk calls fn for d and every descriptor d reaches (manifests of an index,
// config and layers of a manifest), reading the store's blobs.
func (s *Store) walk(d v1.Descriptor, fn func(v1.Descriptor) error) error {
	return walkBlobs(d, func(h v1.Hash) (string, bool) {
		p := s.BlobPath(h)
		_, err := os.Stat(p)
		return p, err == nil
	}, fn)
}

// walkBlobs visits d and its children; find says where a blob is.
// A manifest or index that cannot be found is an error; a missing config or
// layer is passed to fn, which decides.
func walkBlobs(d v1.Descriptor, find func(v1.Hash) (string, bool), fn func(v1.Descriptor) error) error {
	if err := fn(d); err != nil {
		return err
	}
	if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
		return nil
	}
	p, ok := find(d.Digest)
	if !ok {
		return fmt.Errorf("blob %s (%s) is missing", d.Digest, d.MediaType)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if d.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(b, &idx); err != nil {
			return fmt.Errorf("parsing index %s: %w", d.Digest, err)
		}
		for _, c := range idx.Manifests {
			if err := walkBlobs(c, find, fn); err != nil {
				return err
			}
		}
		return nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	if err := fn(m.Config); err != nil {
		return err
	}
	for _, l := range m.Layers {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// isForeign reports whether a layer may be absent: non-distributable layers
// are fetched from elsewhere by whoever runs the image.
func isForeign(d v1.Descriptor) bool {
	return !d.MediaType.IsDistributable() || strings.Contains(string(d.MediaType), "foreign")
}

// ByDigest returns the image (or multi-platform index) whose manifest has
// digest h, when the store holds it whole: the manifest and every blob it
// reaches. What a report names is pushed by this, never by name, so that a
// later build of the same name cannot slip in. It returns an error wrapping
// [ErrNotFound] when any part is gone.
func (s *Store) ByDigest(h v1.Hash) (remote.Taggable, error) {
	raw, err := os.ReadFile(s.BlobPath(h))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", h, ErrNotFound)
		}
		return nil, err
	}
	var head struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("%s is not a manifest: %w", h, err)
	}
	mt := head.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
		if head.Manifests != nil {
			mt = types.OCIImageIndex
		}
	}
	d := v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw))}
	if err := s.walk(d, func(c v1.Descriptor) error {
		if c.Digest == h || isForeign(c) || s.HasBlob(c.Digest) {
			return nil
		}
		return fmt.Errorf("blob %s of %s: %w", c.Digest, h, ErrNotFound)
	}); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %v: %w", h, err, ErrNotFound)
	}
	if mt.IsIndex() {
		return s.indexByDigest(h)
	}
	return s.imageByDigest(h)
}
