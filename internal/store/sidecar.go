package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sidecars are files kept beside the layout for one image digest: what a
// later stage needs to know about an image that is not part of it, such
// as the scanner's report or the build's provenance. They live in
// sidecars/<algorithm>-<hex>.<kind> and are replaced whole.

func (s *Store) sidecarPath(d v1.Hash, kind string) (string, error) {
	if d.Algorithm == "" || d.Hex == "" || strings.ContainsAny(d.Hex+d.Algorithm+kind, `/\`) || kind == "" {
		return "", fmt.Errorf("sidecar %s of %s: bad name", kind, d)
	}
	return filepath.Join(s.dir, "sidecars", d.Algorithm+"-"+d.Hex+"."+kind), nil
}

// PutSidecar stores data as the sidecar kind of digest d.
func (s *Store) PutSidecar(d v1.Hash, kind string, data []byte) error {
	p, err := s.sidecarPath(d, kind)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("storing %s of %s: %w", kind, d, err)
	}
	if err := writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("storing %s of %s: %w", kind, d, err)
	}
	return nil
}

// Sidecar returns the sidecar kind of digest d; an error wrapping
// ErrNotFound when there is none.
func (s *Store) Sidecar(d v1.Hash, kind string) ([]byte, error) {
	p, err := s.sidecarPath(d, kind)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%s of %s: %w", kind, d, ErrNotFound)
	}
	return b, err
}
