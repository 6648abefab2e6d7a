package pusher

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blob is one distributable blob (layer or config) of the artifact. open
// streams it from its source, typically a file of the OCI layout.
type blob struct {
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
	open      func() (io.ReadCloser, error)
}

// manifest is one manifest of the artifact. level is 0 for an image and one
// more than its highest child for an index, so that pushing level by level
// puts children before their index.
type manifest struct {
	digest    v1.Hash
	mediaType types.MediaType
	raw       []byte
	level     int
}

// plan is everything Push sends, read before the first request so that a
// broken store fails the push before anything reaches a registry.
type plan struct {
	blobs     []*blob
	manifests []*manifest // children before parents; top is last
	top       *manifest
	platforms map[string]string
	levels    int
}

func readArtifact(t remote.Taggable) (*plan, error) {
	p := &plan{platforms: map[string]string{}}
	seenBlobs := map[v1.Hash]bool{}
	seenManifests := map[v1.Hash]*manifest{}
	var top *manifest
	var err error
	switch a := t.(type) {
	case v1.ImageIndex:
		top, err = p.addIndex(a, seenBlobs, seenManifests)
	case v1.Image:
		top, err = p.addImage(a, seenBlobs, seenManifests)
		if err == nil {
			if cf, cerr := a.ConfigFile(); cerr == nil && cf.OS != "" && cf.OS != "unknown" {
				p.platforms[cf.Platform().String()] = top.digest.String()
			}
		}
	default:
		return nil, fmt.Errorf("pushing a %T: not an image or an image index", t)
	}
	if err != nil {
		return nil, err
	}
	p.top = top
	p.levels = top.level + 1
	return p, nil
}

func (p *plan) addManifest(m *manifest, seen map[v1.Hash]*manifest) *manifest {
	if old, ok := seen[m.digest]; ok {
		return old
	}
	seen[m.digest] = m
	p.manifests = append(p.manifests, m)
	return m
}

func (p *plan) addImage(img v1.Image, seenBlobs map[v1.Hash]bool, seenManifests map[v1.Hash]*manifest) (*manifest, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading image digest: %w", err)
	}
	if m, ok := seenManifests[d]; ok {
		return m, nil
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type of %s: %w", d, err)
	}
	if mt.IsSchema1() {
		return nil, fmt.Errorf("image %s: schema 1 manifests are not supported", d)
	}
	mf, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d, err)
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", d, err)
	}
	p.addBlob(mf.Config, cl.Compressed, seenBlobs)
	for _, desc := range mf.Layers {
		if !desc.MediaType.IsDistributable() {
			continue // foreign layers are fetched from their URLs, not pushed
		}
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %s: %w", d, desc.Digest, err)
		}
		p.addBlob(desc, l.Compressed, seenBlobs)
	}
	return p.addManifest(&manifest{digest: d, mediaType: mt, raw: raw}, seenManifests), nil
}

func (p *plan) addBlob(desc v1.Descriptor, open func() (io.ReadCloser, error), seen map[v1.Hash]bool) {
	if seen[desc.Digest] {
		return
	}
	seen[desc.Digest] = true
	p.blobs = append(p.blobs, &blob{digest: desc.Digest, size: desc.Size, mediaType: desc.MediaType, open: open})
}

func (p *plan) addIndex(idx v1.ImageIndex, seenBlobs map[v1.Hash]bool, seenManifests map[v1.Hash]*manifest) (*manifest, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading index digest: %w", err)
	}
	if m, ok := seenManifests[d]; ok {
		return m, nil
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d, err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading media type of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", d, err)
	}
	level := 1
	for _, desc := range im.Manifests {
		var child *manifest
		switch {
		case desc.MediaType.IsIndex():
			ci, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("index %s: child %s: %w", d, desc.Digest, err)
			}
			if child, err = p.addIndex(ci, seenBlobs, seenManifests); err != nil {
				return nil, err
			}
		case desc.MediaType.IsImage():
			img, err := idx.Image(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("index %s: child %s: %w", d, desc.Digest, err)
			}
			if child, err = p.addImage(img, seenBlobs, seenManifests); err != nil {
				return nil, err
			}
			if pl := desc.Platform; pl != nil && pl.OS != "" && pl.OS != "unknown" {
				p.platforms[pl.String()] = desc.Digest.String()
			}
		default:
			return nil, fmt.Errorf("index %s: child %s has media type %q, which is not an image or an index", d, desc.Digest, desc.MediaType)
		}
		if child.digest != desc.Digest {
			return nil, fmt.Errorf("index %s: child %s reads back as %s", d, desc.Digest, child.digest)
		}
		level = max(level, child.level+1)
	}
	return p.addManifest(&manifest{digest: d, mediaType: mt, raw: raw, level: level}, seenManifests), nil
}
