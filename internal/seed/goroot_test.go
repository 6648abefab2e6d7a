package seed

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeGOROOT lays out a small Go installation: every kind of file the
// trimming rules keep or drop, with bin/go an amd64 ELF (a copy of busybox).
func fakeGOROOT(t *testing.T, busybox string) string {
	t.Helper()
	dir := t.TempDir()
	elfBytes, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		mode os.FileMode
		data string
	}{
		{"VERSION", 0o644, "go1.99.1\ntime 2030-01-01T00:00:00Z\n"},
		{"go.env", 0o644, "GOPROXY=https://proxy.golang.org,direct\nGOTOOLCHAIN=auto\n"},
		{"bin/go", 0o755, string(elfBytes)},
		{"bin/gofmt", 0o755, "gofmt"},
		{"pkg/tool/linux_amd64/compile", 0o755, "compile"},
		{"pkg/tool/linux_amd64/link", 0o700, "link"},
		{"pkg/include/textflag.h", 0o644, "#define NOSPLIT 4\n"},
		{"pkg/linux_amd64_race/fmt.a", 0o644, "dropped"},
		{"lib/time/zoneinfo.zip", 0o600, "zip"},
		{"lib/wasm/wasm_exec.js", 0o644, "dropped"},
		{"api/go1.txt", 0o644, "dropped"},
		{"doc/go_spec.html", 0o644, "dropped"},
		{"misc/cgo/x.go", 0o644, "dropped"},
		{"test/run.go", 0o644, "dropped"},
		{"src/go.mod", 0o644, "module std\n"},
		{"src/make.bash", 0o755, "#!/bin/sh\n"},
		{"src/fmt/print.go", 0o644, "package fmt\n"},
		{"src/fmt/print_test.go", 0o644, "dropped"},
		{"src/fmt/testdata/x.txt", 0o644, "dropped"},
		{"src/cmd/go/main.go", 0o644, "package main\n"},
		{"src/cmd/go/testdata/script/a.txt", 0o644, "dropped"},
		{"src/runtime/asm_amd64.s", 0o644, "TEXT x(SB)\n"},
		{"src/vendor/modules.txt", 0o644, "# golang.org/x/net\n"},
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../fmt", filepath.Join(dir, "src", "cmd", "fmtlink")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGoToolchainImage(t *testing.T) {
	bb := hostBusybox(t)
	ctx := context.Background()
	src := Source{BusyboxPath: bb, GOROOT: fakeGOROOT(t, bb)}

	img, err := src.GoToolchainImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	wantEnv := []string{
		"PATH=/go/bin:/usr/local/go/bin:" + defaultPath,
		"GOLANG_VERSION=1.99.1",
		"GOPATH=/go",
		"GOCACHE=/root/.cache/go-build",
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"CGO_ENABLED=0",
	}
	if !slices.Equal(cf.Config.Env, wantEnv) {
		t.Errorf("Env\n got %q\nwant %q", cf.Config.Env, wantEnv)
	}
	if cf.Config.WorkingDir != "/go" {
		t.Errorf("WorkingDir %q, want /go", cf.Config.WorkingDir)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 3 || len(cf.History) != 3 {
		t.Fatalf("%d layers, %d history entries (%v), want 3 and 3", len(layers), len(cf.History), err)
	}

	// The first layer is the busybox base's, blob for blob.
	bbImg, err := src.BusyboxImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bbLayers, _ := bbImg.Layers()
	d0, _ := layers[0].Digest()
	d1, _ := bbLayers[0].Digest()
	if d0 != d1 {
		t.Errorf("first layer %s is not the busybox layer %s", d0, d1)
	}

	golden(t, "goroot-tools.golden", listing(t, layers[1]))
	golden(t, "goroot-src.golden", listing(t, layers[2]))
	for i, l := range layers[1:] {
		for _, e := range layerEntries(t, l) {
			if e.hdr.Typeflag == tar.TypeReg && string(e.data) == "dropped" {
				t.Errorf("layer %d holds %s, which the trimming rules drop", i+1, e.hdr.Name)
			}
		}
	}

	t.Run("deterministic", func(t *testing.T) {
		again, err := src.GoToolchainImage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := img.Digest()
		b, _ := again.Digest()
		if a != b {
			t.Errorf("second build gave %s, first %s", b, a)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := src.GoToolchainImage(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
}

func TestGoToolchainBadGOROOT(t *testing.T) {
	bb := hostBusybox(t)
	cases := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"no VERSION", func(dir string) { os.Remove(filepath.Join(dir, "VERSION")) }, "reading Go version"},
		{"bad VERSION", func(dir string) { os.WriteFile(filepath.Join(dir, "VERSION"), []byte("devel\n"), 0o644) }, "not goX.Y"},
		{"go not ELF", func(dir string) { os.WriteFile(filepath.Join(dir, "bin", "go"), []byte("#!/bin/sh\n"), 0o755) }, "reading the go command"},
		{"no compiler", func(dir string) { os.RemoveAll(filepath.Join(dir, "pkg", "tool")) }, "finding the compiler"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := fakeGOROOT(t, bb)
			c.setup(dir)
			_, err := Source{BusyboxPath: bb, GOROOT: dir}.GoToolchainImage(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.26.8", "1.26"},
		{"1.26", "1.26"},
		{"1.27rc1", "1.27rc1"},
		{"2", "2"},
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := MinorVersion(c.in); got != c.want {
				t.Errorf("MinorVersion(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestGoToolchainHost seeds the real toolchain of this machine: the files
// a build needs are there, tests are not, and seeding twice uploads nothing.
func TestGoToolchainHost(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses the whole toolchain; skipped with -short")
	}
	hostBusybox(t)
	ctx := context.Background()
	goroot, err := FindGOROOT(ctx)
	if err != nil {
		t.Skip(err)
	}
	host, rec := startRegistry(t)
	ref := mustRef(t, host+"/seed/golang:test")

	d, err := Source{GOROOT: goroot}.GoToolchain(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	img, err := remote.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	names := map[string]bool{}
	for _, l := range layers {
		size, _ := l.Size()
		total += size
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			names[h.Name] = true
			if strings.HasSuffix(h.Name, "_test.go") || strings.Contains(h.Name, "/testdata/") {
				t.Errorf("image holds %s", h.Name)
			}
		}
		rc.Close()
	}
	t.Logf("toolchain image: %d layers, %.1f MB compressed", len(layers), float64(total)/1e6)
	for _, want := range []string{
		"usr/local/go/bin/go",
		"usr/local/go/VERSION",
		"usr/local/go/go.env",
		"usr/local/go/pkg/tool/linux_amd64/compile",
		"usr/local/go/pkg/tool/linux_amd64/link",
		"usr/local/go/src/fmt/print.go",
		"usr/local/go/src/runtime/proc.go",
		"bin/sh",
	} {
		if !names[want] {
			t.Errorf("image lacks %s", want)
		}
	}

	again, err := Source{GOROOT: goroot}.GoToolchain(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if again != d {
		t.Errorf("second seed gave %s, first %s", again, d)
	}
	if w := rec.take(); len(w) != 0 {
		t.Errorf("second seed wrote to the registry: %q", w)
	}
}
