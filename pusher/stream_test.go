package pusher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layoutImage writes an OCI layout holding one image with a single random
// layer of size bytes, written straight to disk, and returns the image as
// read back from the layout (blobs backed by files).
func layoutImage(t testing.TB, size int64) v1.Image {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	// The layer: random bytes, hashed as they are written.
	tmp := filepath.Join(dir, "layer.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(io.MultiWriter(f, h), rng, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layerDigest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "blobs", "sha256", layerDigest.Hex)); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(v1.ConfigFile{Architecture: "amd64", OS: "linux", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layerDigest}}})
	cfgDigest, cfgSize, _ := v1.SHA256(bytes.NewReader(cfg))
	if err := p.WriteBlob(cfgDigest, io.NopCloser(bytes.NewReader(cfg))); err != nil {
		t.Fatal(err)
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: cfgSize},
		Layers:        []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Digest: layerDigest, Size: size}},
	}
	raw, _ := json.Marshal(m)
	md, ms, _ := v1.SHA256(bytes.NewReader(raw))
	if err := p.WriteBlob(md, io.NopCloser(bytes.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: ms}); err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(md)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sinkRegistry accepts uploads without keeping them: it only hashes them,
// so that memory measured in the test is the pusher's.
func sinkRegistry(t testing.TB) string {
	var mu sync.Mutex
	tags := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
		case strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method == http.MethodPost:
			w.Header().Set("Location", "/v2/sink/blobs/uploads/1")
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPatch:
			io.Copy(sha256.New(), r.Body)
			w.Header().Set("Location", "/v2/sink/blobs/uploads/1")
			w.WriteHeader(http.StatusAccepted)
		case strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method == http.MethodPut:
			w.WriteHeader(http.StatusCreated)
		case strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodPut:
			raw, _ := io.ReadAll(r.Body)
			d, _, _ := v1.SHA256(bytes.NewReader(raw))
			mu.Lock()
			tags[r.URL.Path] = d.String()
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		case strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodHead:
			mu.Lock()
			d, ok := tags[r.URL.Path]
			mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Docker-Content-Digest", d)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestLayersAreStreamed pushes a layer far bigger than the heap may grow:
// holding the layer in memory anywhere would show.
func TestLayersAreStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 128 MiB layer")
	}
	const size = 128 << 20
	img := layoutImage(t, size)
	host := sinkRegistry(t)
	ref, _ := name.NewTag(host + "/sink:v1")

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	pub, err := Push(context.Background(), img, []name.Tag{ref}, testOptions())
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if pub.BytesUploaded < size {
		t.Fatalf("uploaded %d bytes", pub.BytesUploaded)
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap in use grew by %.1f MiB pushing a %d MiB layer", float64(growth)/(1<<20), size>>20)
	if growth > 32<<20 {
		t.Errorf("heap grew by %d MiB pushing a %d MiB layer: the layer is buffered", growth>>20, size>>20)
	}
}
