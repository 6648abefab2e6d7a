package seed

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// ImageGOROOT is where the toolchain image holds Go.
const ImageGOROOT = "/usr/local/go"

// FindGOROOT returns the host's Go installation: `go env GOROOT`, else
// /usr/local/go when it holds bin/go.
func FindGOROOT(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	if _, serr := os.Stat(filepath.Join(ImageGOROOT, "bin", "go")); serr == nil {
		return ImageGOROOT, nil
	}
	if err == nil {
		err = fmt.Errorf("empty answer")
	}
	return "", fmt.Errorf("finding GOROOT: go env GOROOT: %w", err)
}

// GoVersion returns the version of the Go installation at goroot, from its
// VERSION file, without the "go" prefix: "1.26.8".
func GoVersion(goroot string) (string, error) {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("reading Go version: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	v, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "go")
	if !ok || v == "" {
		return "", fmt.Errorf("reading Go version: %s/VERSION starts with %q, not goX.Y", goroot, line)
	}
	return v, nil
}

// MinorVersion cuts a Go version to major.minor: "1.26.8" → "1.26".
func MinorVersion(v string) string {
	major, rest, ok := strings.Cut(v, ".")
	if !ok {
		return v
	}
	minor, _, _ := strings.Cut(rest, ".")
	// Pre-releases: "1.27rc1" stays whole.
	if strings.ContainsFunc(minor, func(r rune) bool { return r < '0' || r > '9' }) {
		return v
	}
	return major + "." + minor
}

func (s Source) goroot(ctx context.Context) (string, error) {
	if s.GOROOT != "" {
		return s.GOROOT, nil
	}
	return FindGOROOT(ctx)
}

// GoToolchainImage returns the Go toolchain image: the busybox layer, then
// a layer with the go command, the compiler tools and small runtime files,
// then a layer with the standard library's sources (no tests, no testdata).
func (s Source) GoToolchainImage(ctx context.Context) (v1.Image, error) {
	goroot, err := s.goroot(ctx)
	if err != nil {
		return nil, err
	}
	version, err := GoVersion(goroot)
	if err != nil {
		return nil, err
	}
	if err := checkGoAMD64(goroot); err != nil {
		return nil, err
	}
	base, err := s.busyboxLayer(ctx)
	if err != nil {
		return nil, err
	}

	// The two Go layers are compressed at the same time: gzip is the slow part.
	type result struct {
		layer v1.Layer
		err   error
	}
	srcc := make(chan result, 1)
	go func() {
		l, err := buildLayer(func(w *layerWriter) error { return goSources(ctx, w, goroot) })
		srcc <- result{l, err}
	}()
	tools, terr := buildLayer(func(w *layerWriter) error { return goTools(ctx, w, goroot) })
	src := <-srcc
	if terr != nil {
		return nil, fmt.Errorf("copying Go from %s: %w", goroot, terr)
	}
	if src.err != nil {
		return nil, fmt.Errorf("copying Go sources from %s: %w", goroot, src.err)
	}

	return newImage(v1.Config{
		Env: []string{
			"PATH=/go/bin:" + ImageGOROOT + "/bin:" + defaultPath,
			"GOLANG_VERSION=" + version,
			"GOPATH=/go",
			"GOCACHE=/root/.cache/go-build",
			"GOTOOLCHAIN=local",
			"GOPROXY=off",
			"CGO_ENABLED=0",
		},
		WorkingDir: "/go",
		Cmd:        []string{"sh"},
	},
		mutate.Addendum{Layer: base, History: history("busybox-static, /etc/passwd, /tmp")},
		mutate.Addendum{Layer: tools, History: history("go" + version + ": go command and tools")},
		mutate.Addendum{Layer: src.layer, History: history("go" + version + ": standard library sources")},
	)
}

// checkGoAMD64 makes sure goroot holds a linux/amd64 toolchain, since the
// image says linux/amd64.
func checkGoAMD64(goroot string) error {
	bin := filepath.Join(goroot, "bin", "go")
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("reading the go command: %w", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is built for %s; seed images are linux/amd64", bin, f.Machine)
	}
	if _, err := os.Stat(filepath.Join(goroot, "pkg", "tool", "linux_amd64")); err != nil {
		return fmt.Errorf("finding the compiler: %w", err)
	}
	return nil
}

// goTools writes what the go command needs besides the sources.
func goTools(ctx context.Context, w *layerWriter, goroot string) error {
	dst := ImageGOROOT[1:]
	for _, f := range []string{"VERSION", "go.env"} {
		if err := w.hostFile(filepath.Join(goroot, f), dst+"/"+f); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		dir      string
		optional bool
	}{
		{"bin", false},
		{"pkg/include", false},
		{"pkg/tool/linux_amd64", false},
		{"lib/time", true},
	} {
		src := filepath.Join(goroot, filepath.FromSlash(d.dir))
		if _, err := os.Stat(src); err != nil && d.optional {
			continue
		}
		if err := w.tree(ctx, src, dst+"/"+d.dir, nil); err != nil {
			return err
		}
	}
	// GOPATH, writable by anyone as in the usual golang images.
	for _, d := range []string{"go", "go/bin", "go/src"} {
		if err := w.dir(d, 0o1777); err != nil {
			return err
		}
	}
	return nil
}

// goSources writes $GOROOT/src without tests and test data, which the go
// command does not need to build programs.
func goSources(ctx context.Context, w *layerWriter, goroot string) error {
	return w.tree(ctx, filepath.Join(goroot, "src"), ImageGOROOT[1:]+"/src", skipTests)
}

func skipTests(rel string, d fs.DirEntry) bool {
	base := d.Name()
	if d.IsDir() {
		return base == "testdata"
	}
	return strings.HasSuffix(base, "_test.go")
}
