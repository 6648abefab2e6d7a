package seed

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// writeRecorder serves an in-memory registry and remembers every request
// that could store something.
type writeRecorder struct {
	h      http.Handler
	mu     sync.Mutex
	writes []string
}

func (r *writeRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		r.mu.Lock()
		r.writes = append(r.writes, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
	}
	r.h.ServeHTTP(w, req)
}

func (r *writeRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

func startRegistry(t *testing.T) (host string, rec *writeRecorder) {
	t.Helper()
	rec = &writeRecorder{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), rec
}

// hostBusybox returns the host's busybox-static, or skips the test.
func hostBusybox(t *testing.T) string {
	t.Helper()
	p, err := FindBusybox()
	if err != nil {
		if os.Getenv("SLIPWAY_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return p
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// layerEntries reads a layer's tar stream; file contents are kept only when
// small, which is all the tests look at.
func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		e := entry{hdr: h}
		if h.Size <= 1<<21 {
			if e.data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, e)
	}
}

// listing renders a layer as text for golden files: type, mode, owner,
// name and link target; sizes are left out where they come from the host.
func listing(t *testing.T, l v1.Layer) string {
	t.Helper()
	var b strings.Builder
	for _, e := range layerEntries(t, l) {
		h := e.hdr
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, Epoch)
		}
		fmt.Fprintf(&b, "%c %05o %d:%d %s", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Name)
		if h.Typeflag == tar.TypeSymlink {
			fmt.Fprintf(&b, " -> %s", h.Linkname)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	p := filepath.Join("testdata", file)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the image (run with -update if the change is meant):\n got:\n%s\nwant:\n%s", p, got, want)
	}
}

func find(es []entry, name string) (entry, bool) {
	for _, e := range es {
		if e.hdr.Name == name {
			return e, true
		}
	}
	return entry{}, false
}

func TestBusybox(t *testing.T) {
	bb := hostBusybox(t)
	ctx := context.Background()
	host, rec := startRegistry(t)
	ref := mustRef(t, host+"/seed/busybox:latest")

	d, err := Busybox(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Context().String(); got != ref.Context().String() {
		t.Errorf("digest ref in %s, want %s", got, ref.Context())
	}
	if len(rec.take()) == 0 {
		t.Fatal("first push wrote nothing to the registry")
	}

	// What the registry holds, not what we meant to push.
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := img.Digest(); err != nil || got.String() != d.DigestStr() {
		t.Fatalf("registry has %v (%v), push returned %s", got, err, d.DigestStr())
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", mt, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !slices.Contains(cf.Config.Env, "PATH="+defaultPath) {
		t.Errorf("Env %q lacks PATH=%s", cf.Config.Env, defaultPath)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"sh"}) {
		t.Errorf("Cmd %q, want [sh]", cf.Config.Cmd)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	if len(cf.History) != 1 || cf.History[0].EmptyLayer {
		t.Errorf("history %+v, want one entry for the layer", cf.History)
	}

	es := layerEntries(t, layers[0])
	hostBytes, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := find(es, "bin/busybox")
	if !ok || e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != 0o755 || !bytes.Equal(e.data, hostBytes) {
		t.Errorf("bin/busybox is not the host's %s with mode 0755", bb)
	}
	for _, c := range []struct{ name, target string }{
		{"bin/sh", "busybox"}, {"bin/echo", "busybox"}, {"bin/cat", "busybox"}, {"bin/ls", "busybox"},
		{"bin/mkdir", "busybox"}, {"bin/cp", "busybox"}, {"bin/mv", "busybox"}, {"bin/rm", "busybox"},
		{"bin/env", "busybox"}, {"bin/wget", "busybox"}, {"bin/true", "busybox"}, {"bin/false", "busybox"},
		{"bin/sleep", "busybox"}, {"bin/id", "busybox"}, {"bin/chmod", "busybox"}, {"usr/bin/env", "/bin/busybox"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := find(es, c.name)
			if !ok || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != c.target {
				t.Errorf("want symlink %s -> %s, got %+v", c.name, c.target, e.hdr)
			}
		})
	}
	if e, ok := find(es, "tmp/"); !ok || e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != 0o1777 {
		t.Errorf("tmp/ is not a directory with mode 1777: %+v", e.hdr)
	}
	passwd, _ := find(es, "etc/passwd")
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:65534:"} {
		if !bytes.Contains(passwd.data, []byte("\n"+want)) && !bytes.HasPrefix(passwd.data, []byte(want)) {
			t.Errorf("etc/passwd lacks a line starting %q:\n%s", want, passwd.data)
		}
	}
	golden(t, "busybox.golden", listing(t, layers[0]))

	t.Run("deterministic", func(t *testing.T) {
		again, err := Busybox(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if again != d {
			t.Errorf("second seed gave %s, first %s", again, d)
		}
		if w := rec.take(); len(w) != 0 {
			t.Errorf("second seed wrote to the registry: %q", w)
		}
	})
}

func TestBusyboxMissing(t *testing.T) {
	cases := []struct {
		name, path string
	}{
		{"absent", filepath.Join(t.TempDir(), "busybox")},
	}
	// Debian's non-static busybox and most /usr/bin programs are dynamically linked.
	if _, err := os.Stat("/usr/bin/ls"); err == nil {
		cases = append(cases, struct{ name, path string }{"dynamic", "/usr/bin/ls"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Source{BusyboxPath: c.path}.BusyboxImage(context.Background())
			if !errors.Is(err, ErrNoBusybox) {
				t.Fatalf("got %v, want ErrNoBusybox", err)
			}
			if !strings.Contains(err.Error(), "busybox-static") {
				t.Errorf("error %q does not name the busybox-static package", err)
			}
		})
	}
}
