package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/buildkit/client"

	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// The busybox applets the test base image links to.
var applets = []string{"sh", "echo", "cat", "ls", "mkdir", "sleep", "sha256sum", "test", "true", "false", "wc", "grep", "env"}

// requireBuildKit skips (or fails, with SLIPWAY_REQUIRE_TOOLS=1) a test
// that needs buildkitd, runc and busybox-static, and returns buildkitd's path.
func requireBuildKit(t *testing.T) string {
	t.Helper()
	testenv.RequireTools(t, "buildkitd", "runc")
	if _, err := os.Stat("/usr/bin/busybox"); err != nil {
		msg := "needs /usr/bin/busybox (apt-get install -y busybox-static)"
		if testenv.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return testenv.Bin(t, "buildkitd")
}

// baseImage pushes a one-layer busybox image, platform linux/amd64, to a
// registry started for the test and returns its reference.
func baseImage(t *testing.T) string {
	t.Helper()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	bb, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(946684800, 0)
	for _, d := range []string{"bin/", "tmp/", "etc/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb)), ModTime: epoch})
	tw.Write(bb)
	for _, a := range applets {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: epoch})
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg.Host+"/base:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(reg.Transport())); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newContext makes a build context with a Dockerfile and other files.
func newContext(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if files == nil {
		files = map[string]string{}
	}
	files["Dockerfile"] = dockerfile
	writeFiles(t, dir, files)
	return dir
}

var (
	sharedOnce sync.Once
	shared     *Builder
	sharedErr  error
	sharedRoot string
)

// sharedBuilder is one private daemon for the tests that only build; the
// lifecycle tests start their own. TestMain stops it.
func sharedBuilder(t *testing.T) *Builder {
	t.Helper()
	bin := requireBuildKit(t)
	sharedOnce.Do(func() {
		sharedRoot, sharedErr = os.MkdirTemp("", "slipway-builder-test-")
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedErr = Connect(ctx, ConnectOptions{Buildkitd: bin, Root: filepath.Join(sharedRoot, "buildkit")})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if sharedRoot != "" {
		os.RemoveAll(sharedRoot)
	}
	os.Exit(code)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// build runs one request on the shared daemon.
func build(t *testing.T, r Request) (Result, *store.Store) {
	t.Helper()
	st := openStore(t)
	res, err := sharedBuilder(t).Build(context.Background(), []Request{r}, st, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res[0], st
}

// imageFiles returns the regular files of the image's layers, later layers
// winning: path → content.
func imageFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(tr)
				files[strings.TrimPrefix(h.Name, "./")] = string(b)
			}
		}
		rc.Close()
	}
	return files
}

// daemonProcesses lists the processes whose command line contains s (other
// than this test process): how tests see what was left running.
func processesWith(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	self := fmt.Sprint(os.Getpid())
	for _, e := range ents {
		if e.Name() == self || strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, s) {
			out = append(out, e.Name()+": "+cmd)
		}
	}
	return out
}

// noProcessesWith fails unless no process mentions s, allowing a moment
// for the kernel to reap what was just killed.
func noProcessesWith(t *testing.T, s string) {
	t.Helper()
	var left []string
	for i := 0; i < 50; i++ {
		if left = processesWith(s); len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("processes left running:\n%s", strings.Join(left, "\n"))
}

// vertexStatus reads rawjson progress and returns, for each vertex name,
// whether it was cached.
func vertexStatus(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var s client.SolveStatus
		if err := dec.Decode(&s); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("parsing rawjson progress: %v", err)
		}
		for _, v := range s.Vertexes {
			out[v.Name] = out[v.Name] || v.Cached
		}
	}
	return out
}
