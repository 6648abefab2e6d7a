// Command mkimage writes an OCI image layout holding one linux/amd64 image
// for the push benchmark: a layer of random bytes and a layer of
// compressible text, each a tar of one file, streamed to disk (nothing is
// held in memory). With -name, the index entry carries the image's name in
// the annotations org.opencontainers.image.ref.name and
// io.containerd.image.name, as in slipway's store, so that `slipway push
// --store DIR` finds it; crane ignores them.
//
//	mkimage -out DIR [-name NAME] [-random-mb 300] [-compressible-mb 300] [-gzip]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/slipway-build/slipway/internal/store"
)

func main() {
	out := flag.String("out", "", "layout folder to create")
	randomMB := flag.Int64("random-mb", 300, "size of the random layer in MiB (0: none)")
	textMB := flag.Int64("compressible-mb", 300, "size of the compressible layer in MiB (0: none)")
	gz := flag.Bool("gzip", false, "gzip the layers (default: plain tar, so every byte goes over the wire)")
	imageName := flag.String("name", "", "image name annotated on the index entry (default: none)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *imageName, *randomMB<<20, *textMB<<20, *gz); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

type layer struct {
	desc   v1.Descriptor
	diffID v1.Hash
}

func run(dir, imageName string, randomSize, textSize int64, gz bool) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	var layers []layer
	if randomSize > 0 {
		l, err := writeLayer(dir, "random.bin", randomSize, rand.NewChaCha8([32]byte{42}), gz)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	if textSize > 0 {
		l, err := writeLayer(dir, "text.txt", textSize, &textReader{}, gz)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}

	cfg := v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: time.Unix(0, 0).UTC()},
		RootFS:       v1.RootFS{Type: "layers"},
		Config:       v1.Config{Cmd: []string{"/bin/sh"}},
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
		m.Layers = append(m.Layers, l.desc)
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	m.Config, err = writeBlob(p, types.OCIConfigJSON, rawCfg)
	if err != nil {
		return err
	}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	desc, err := writeBlob(p, types.OCIManifestSchema1, rawManifest)
	if err != nil {
		return err
	}
	desc.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	if imageName != "" {
		desc.Annotations = map[string]string{
			store.AnnotationRefName:        imageName,
			store.AnnotationContainerdName: imageName,
		}
	}
	if err := p.AppendDescriptor(desc); err != nil {
		return err
	}
	fmt.Println(desc.Digest)
	return nil
}

func writeBlob(p layout.Path, mt types.MediaType, data []byte) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(data))); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}, nil
}

// writeLayer streams a tar holding one file of size bytes from content
// into the layout's blobs, hashing as it goes.
func writeLayer(dir, name string, size int64, content io.Reader, gz bool) (layer, error) {
	tmp, err := os.CreateTemp(filepath.Join(dir, "blobs", "sha256"), ".layer-*")
	if err != nil {
		return layer{}, err
	}
	defer os.Remove(tmp.Name())
	blobHash := sha256.New()
	counter := &countWriter{}
	blobW := io.MultiWriter(tmp, blobHash, counter)

	diffHash := sha256.New()
	var tarW io.Writer = blobW
	var zw *gzip.Writer
	if gz {
		zw, err = gzip.NewWriterLevel(blobW, gzip.BestSpeed)
		if err != nil {
			return layer{}, err
		}
		tarW = zw
	}
	tw := tar.NewWriter(io.MultiWriter(tarW, diffHash))
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return layer{}, err
	}
	if _, err := io.CopyN(tw, content, size); err != nil {
		return layer{}, err
	}
	if err := tw.Close(); err != nil {
		return layer{}, err
	}
	mt := types.OCIUncompressedLayer
	if zw != nil {
		if err := zw.Close(); err != nil {
			return layer{}, err
		}
		mt = types.OCILayer
	}
	if err := tmp.Close(); err != nil {
		return layer{}, err
	}
	d := digest(blobHash)
	if err := os.Rename(tmp.Name(), filepath.Join(dir, "blobs", "sha256", d.Hex)); err != nil {
		return layer{}, err
	}
	return layer{desc: v1.Descriptor{MediaType: mt, Digest: d, Size: counter.n}, diffID: digest(diffHash)}, nil
}

func digest(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// textReader yields endless, highly compressible log-like lines.
type textReader struct {
	line int
	buf  []byte
}

func (r *textReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			r.line++
			r.buf = fmt.Appendf(nil, "%08d INFO request served path=/api/v1/items status=200 bytes=%d\n", r.line, r.line%4096)
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}
