package seed_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway-build/slipway/internal/seed"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestBuildKit builds on the seed images with a real buildkitd and
// registry: RUN steps work on the busybox base, and the Go image compiles
// a program with no network.
func TestBuildKit(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "buildctl", "registry", "runc")
	if _, err := seed.FindBusybox(); err != nil {
		if testenv.Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	bk := testenv.StartBuildkitd(t, "")
	buildctl := testenv.Bin(t, "buildctl")

	seedOne := func(what, ref string, push func(context.Context, name.Reference) (name.Digest, error)) name.Digest {
		t.Helper()
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		d, err := push(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seeded %s %s in %s", what, d, time.Since(start).Round(10*time.Millisecond))
		return d
	}
	busybox := seedOne("busybox", reg.Host+"/seed/busybox:latest", func(ctx context.Context, r name.Reference) (name.Digest, error) {
		return seed.Busybox(ctx, r)
	})
	golang := seedOne("Go toolchain", reg.Host+"/seed/golang:test", func(ctx context.Context, r name.Reference) (name.Digest, error) {
		return seed.GoToolchain(ctx, r)
	})

	build := func(t *testing.T, files map[string]string) map[string][]byte {
		t.Helper()
		dir := t.TempDir()
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(t.TempDir(), "oci")
		cmd := exec.CommandContext(ctx, buildctl, "--addr", bk.Addr, "build",
			"--progress", "plain",
			"--frontend", "dockerfile.v0",
			"--local", "context="+dir, "--local", "dockerfile="+dir,
			"--output", "type=oci,dest="+out+",tar=false")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("buildctl build: %v\n%s", err, stderr.String())
		}
		t.Logf("built in %s", time.Since(start).Round(10*time.Millisecond))
		return imageFiles(t, out)
	}

	t.Run("busybox RUN", func(t *testing.T) {
		files := build(t, map[string]string{"Dockerfile": "FROM " + busybox.String() + `
RUN echo hi > /x && [ "$(cat /x)" = hi ] && [ "$(id -u)" = 0 ] && [ "$(id -un)" = root ]
USER 65534
RUN id -un > /tmp/who && wget --help 2>&1 | head -1 > /tmp/wget
`})
		if got := string(files["x"]); got != "hi\n" {
			t.Errorf("/x = %q, want %q", got, "hi\n")
		}
		if got := string(files["tmp/who"]); got != "nobody\n" {
			t.Errorf("/tmp/who = %q, want nobody (user 65534 writing to /tmp)", got)
		}
		if !strings.Contains(string(files["tmp/wget"]), "BusyBox") {
			t.Errorf("/tmp/wget = %q, want busybox's wget", files["tmp/wget"])
		}
	})

	t.Run("go build", func(t *testing.T) {
		files := build(t, map[string]string{
			"go.mod":  "module example.com/hello\n\ngo 1.26\n",
			"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(\"hello from\", runtime.Version()) }\n",
			"Dockerfile": "FROM " + golang.String() + ` AS build
WORKDIR /src
COPY go.mod main.go ./
RUN --network=none --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -o /out/hello . && go vet . && /out/hello > /out/said
FROM scratch
COPY --from=build /out/ /
`,
		})
		v, err := os.ReadFile(filepath.Join(runtimeGOROOT(t), "VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		version, _, _ := strings.Cut(string(v), "\n")
		if got, want := string(files["said"]), "hello from "+version+"\n"; got != want {
			t.Errorf("the built program said %q, want %q", got, want)
		}
		f, err := elf.NewFile(bytes.NewReader(files["hello"]))
		if err != nil {
			t.Fatalf("hello is not an ELF binary: %v", err)
		}
		if f.Machine != elf.EM_X86_64 {
			t.Errorf("hello is built for %s, want x86-64", f.Machine)
		}
	})
}

func runtimeGOROOT(t *testing.T) string {
	t.Helper()
	dir, err := seed.FindGOROOT(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// imageFiles flattens the only image of an OCI layout into its regular
// files and their contents.
func imageFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("layout holds %d manifests, want 1", len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return flatten(t, img)
}

func flatten(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || h.Size > 64<<20 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = b
	}
}
