package seed

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the modification time of every file in a seed image and the
// creation time of the image: fixed, so that seeding twice from the same
// host files gives the same digests.
var Epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// layerWriter writes a deterministic tar stream: owner root, fixed times,
// normalised modes, parents before children, each directory once.
type layerWriter struct {
	tw   *tar.Writer
	dirs map[string]bool
}

// gzipLevel trades size for time: against the default level it compresses
// the Go toolchain in less than half the CPU time for 15% more bytes, and
// seed images only travel over loopback.
const gzipLevel = gzip.BestSpeed

// buildLayer runs fill against a fresh tar stream and returns it as a
// gzip-compressed OCI layer held in memory. Both digests are taken while
// writing, so the layer is compressed once and never decompressed.
func buildLayer(fill func(*layerWriter) error) (v1.Layer, error) {
	var buf bytes.Buffer
	compressed := sha256.New()
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&buf, compressed), gzipLevel)
	if err != nil {
		return nil, err
	}
	uncompressed := sha256.New()
	lw := &layerWriter{tw: tar.NewWriter(io.MultiWriter(zw, uncompressed)), dirs: map[string]bool{}}
	if err := fill(lw); err != nil {
		return nil, err
	}
	if err := lw.tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar stream: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing gzip stream: %w", err)
	}
	return &memLayer{
		gz:     buf.Bytes(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(uncompressed.Sum(nil))},
	}, nil
}

// memLayer is a gzip-compressed OCI layer held in memory.
type memLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

func (l *memLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)                { return int64(len(l.gz)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz))
}

func (w *layerWriter) header(h *tar.Header) error {
	h.Uname, h.Gname = "", ""
	h.ModTime = Epoch
	if err := w.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("writing %s: %w", h.Name, err)
	}
	return nil
}

// mkdirAll writes name and any parent not written yet; parents get 0755.
func (w *layerWriter) mkdirAll(name string, mode int64) error {
	name = path.Clean(name)
	if name == "." || name == "/" || w.dirs[name] {
		return nil
	}
	if err := w.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	w.dirs[name] = true
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
}

// dir writes a directory with an explicit mode (its parents get 0755).
func (w *layerWriter) dir(name string, mode int64) error {
	return w.dirOwned(name, mode, 0)
}

func (w *layerWriter) dirOwned(name string, mode int64, id int) error {
	name = path.Clean(name)
	if w.dirs[name] {
		return fmt.Errorf("writing %s: directory written twice", name)
	}
	if err := w.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	w.dirs[name] = true
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: id, Gid: id})
}

func (w *layerWriter) file(name string, mode int64, data []byte) error {
	return w.fileFrom(name, mode, int64(len(data)), bytes.NewReader(data))
}

func (w *layerWriter) fileFrom(name string, mode, size int64, r io.Reader) error {
	if err := w.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	if err := w.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size}); err != nil {
		return err
	}
	n, err := io.Copy(w.tw, r)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %s: size changed while reading (%d of %d bytes)", name, n, size)
	}
	return nil
}

func (w *layerWriter) symlink(name, target string) error {
	if err := w.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	return w.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

// hostFile copies the regular file src to name, with mode 0755 when any
// execute bit is set on the host and 0644 otherwise.
func (w *layerWriter) hostFile(src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("copying %s: not a regular file", src)
	}
	return w.fileFrom(name, normalMode(fi.Mode()), fi.Size(), f)
}

func normalMode(m fs.FileMode) int64 {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// tree copies the host directory src to the image directory dst in lexical
// order. skip, when not nil, leaves out entries (and whole directories) for
// which it returns true; rel is slash-separated and relative to src.
func (w *layerWriter) tree(ctx context.Context, src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := path.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			return w.mkdirAll(name, 0o755)
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return w.symlink(name, filepath.ToSlash(target))
		case t.IsRegular():
			return w.hostFile(p, name)
		default:
			return fmt.Errorf("copying %s: unsupported file type %s", p, t)
		}
	})
}
