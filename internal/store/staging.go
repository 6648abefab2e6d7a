package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Staging is a private area of the store where one export writes the blobs
// the store lacks, in the OCI layout's blobs/<alg>/<hex> scheme. While it is
// open, GC leaves the store alone (in every process), so blobs an export
// skipped because the store had them are still there at Commit.
type Staging struct {
	s    *Store
	dir  string
	done bool
}

// Stage opens a staging area. Close it with Commit or Discard.
func (s *Store) Stage() (*Staging, error) {
	if err := s.acquireShared(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.dir, stagingDir), 0o755); err != nil {
		s.releaseShared()
		return nil, fmt.Errorf("staging in store: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Join(s.dir, stagingDir), "stage-")
	if err != nil {
		s.releaseShared()
		return nil, fmt.Errorf("staging in store: %w", err)
	}
	return &Staging{s: s, dir: dir}, nil
}

// Dir is the staging directory; blobs written under Dir()/blobs/<alg>/<hex>
// become the store's at Commit.
func (t *Staging) Dir() string { return t.dir }

// Store returns the store this area belongs to.
func (t *Staging) Store() *Store { return t.s }

func (t *Staging) stagedPath(h v1.Hash) string {
	return filepath.Join(t.dir, blobsDir, h.Algorithm, h.Hex)
}

func (t *Staging) find(h v1.Hash) (string, bool) {
	if p := t.stagedPath(h); exists(p) {
		return p, true
	}
	if p := t.s.BlobPath(h); exists(p) {
		return p, true
	}
	return "", false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Commit moves the staged blobs that d reaches into the store, checks that
// every blob d needs is there, makes d the index entry called name
// (replacing the older one), closes the area and collects garbage.
func (t *Staging) Commit(name string, d v1.Descriptor) error {
	if t.done {
		return errors.New("staging area already closed")
	}
	if name == "" {
		return errors.New("storing image: empty name")
	}
	if err := t.commit(name, d); err != nil {
		t.Discard()
		return fmt.Errorf("storing image %s: %w", name, err)
	}
	return t.s.GC()
}

func (t *Staging) commit(name string, d v1.Descriptor) error {
	err := walkBlobs(d, t.find, func(c v1.Descriptor) error {
		staged := t.stagedPath(c.Digest)
		if exists(staged) {
			dst := t.s.BlobPath(c.Digest)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			// Same content under the same name: replacing a blob another
			// process put there meanwhile changes nothing.
			return os.Rename(staged, dst)
		}
		if t.s.HasBlob(c.Digest) || isForeign(c) {
			return nil
		}
		return fmt.Errorf("blob %s (%s) is missing", c.Digest, c.MediaType)
	})
	if err != nil {
		return err
	}
	if err := t.s.setEntry(name, d); err != nil {
		return err
	}
	return t.close()
}

// Discard drops the area and what was staged in it. It is a no-op on a
// closed area, so it can be deferred.
func (t *Staging) Discard() error {
	if t.done {
		return nil
	}
	return t.close()
}

func (t *Staging) close() error {
	t.done = true
	err := os.RemoveAll(t.dir)
	t.s.releaseShared()
	return err
}

// Add imports the image of the OCI layout in layoutDir (as the oci exporter
// writes it with tar=false) under name, replacing the older entry of that
// name. The layout's index must hold one image, or one whose ref.name
// annotation is name. It returns the new entry's descriptor.
func (s *Store) Add(name, layoutDir string) (v1.Descriptor, error) {
	d, err := pickEntry(layoutDir, name)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("adding %s to store: %w", layoutDir, err)
	}
	t, err := s.Stage()
	if err != nil {
		return v1.Descriptor{}, err
	}
	defer t.Discard()
	src := func(h v1.Hash) (string, bool) {
		p := filepath.Join(layoutDir, blobsDir, h.Algorithm, h.Hex)
		return p, exists(p)
	}
	find := func(h v1.Hash) (string, bool) {
		if p, ok := src(h); ok {
			return p, true
		}
		return s.BlobPath(h), s.HasBlob(h)
	}
	err = walkBlobs(d, find, func(c v1.Descriptor) error {
		if s.HasBlob(c.Digest) {
			return nil
		}
		p, ok := src(c.Digest)
		if !ok {
			if isForeign(c) {
				return nil
			}
			return fmt.Errorf("blob %s (%s) is missing", c.Digest, c.MediaType)
		}
		return linkOrCopy(p, t.stagedPath(c.Digest))
	})
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("adding %s to store: %w", layoutDir, err)
	}
	if err := t.Commit(name, d); err != nil {
		return v1.Descriptor{}, err
	}
	return s.Lookup(name)
}

func pickEntry(layoutDir, name string) (v1.Descriptor, error) {
	b, err := os.ReadFile(filepath.Join(layoutDir, indexFile))
	if err != nil {
		return v1.Descriptor{}, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing %s: %w", indexFile, err)
	}
	switch len(idx.Manifests) {
	case 0:
		return v1.Descriptor{}, errors.New("layout holds no image")
	case 1:
		return idx.Manifests[0], nil
	}
	for _, d := range idx.Manifests {
		if entryName(d) == name {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("layout holds %d images, none called %s", len(idx.Manifests), name)
}

func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ReadBlob returns the bytes of blob h, staged in the area or already in
// the store.
func (t *Staging) ReadBlob(h v1.Hash) ([]byte, error) {
	p, ok := t.find(h)
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", h, fs.ErrNotExist)
	}
	return os.ReadFile(p)
}

// CommitIndex writes an OCI image index of manifests, with annotations,
// into the area and commits it under name as Commit does: the image built
// one platform at a time (on several BuildKit daemons) becomes one
// multi-platform image. Every manifest must be staged or in the store.
// It returns the index's descriptor.
func (t *Staging) CommitIndex(name string, manifests []v1.Descriptor, annotations map[string]string) (v1.Descriptor, error) {
	if t.done {
		return v1.Descriptor{}, errors.New("staging area already closed")
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: manifests}
	if len(annotations) > 0 {
		idx.Annotations = annotations
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("storing image %s: %w", name, err)
	}
	h, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	p := t.stagedPath(h)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return v1.Descriptor{}, fmt.Errorf("storing image %s: %w", name, err)
	}
	if err := writeFileAtomic(p, raw); err != nil {
		return v1.Descriptor{}, fmt.Errorf("storing image %s: %w", name, err)
	}
	d := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: size}
	return d, t.Commit(name, d)
}
