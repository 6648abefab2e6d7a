// Package testenv starts the real programs slipway's tests run against:
// the distribution registry (plain, or with TLS and htpasswd), buildkitd
// on runc, and the slipway binary itself. Programs come from the bin/
// folder that `make tools` fills.
//
// A test that needs a program calls RequireTools. Under `go test -short`
// such tests are skipped; when SLIPWAY_REQUIRE_TOOLS=1 (as `make test`
// sets) a missing program fails the test instead of skipping it.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot is the folder of slipway's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.HasPrefix(data, []byte("module github.com/slipway-build/slipway\n")) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = fmt.Errorf("no slipway go.mod above the working folder")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

// Required reports whether missing tools fail tests (SLIPWAY_REQUIRE_TOOLS=1).
func Required() bool { return os.Getenv("SLIPWAY_REQUIRE_TOOLS") == "1" }

// RequireTools skips (or, when Required, fails) the test unless every
// named program is in bin/ or, for system programs like runc, in PATH.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs real programs; skipped with -short")
	}
	var missing []string
	for _, n := range names {
		if _, err := lookTool(RepoRoot(t), n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s (run make tools)", strings.Join(missing, ", "))
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func lookTool(root, name string) (string, error) {
	p := filepath.Join(root, "bin", name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p, nil
	}
	return exec.LookPath(name)
}

// Bin returns the path of a program from bin/ (or PATH), after RequireTools.
func Bin(t testing.TB, name string) string {
	t.Helper()
	RequireTools(t, name)
	p, err := lookTool(RepoRoot(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	slipwayOnce sync.Once
	slipwayPath string
	slipwayErr  error
)

// Slipway returns the path of a slipway binary built from this checkout
// (once per test process). SLIPWAY_BIN names a prebuilt one instead.
func Slipway(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLIPWAY_BIN"); p != "" {
		return p
	}
	slipwayOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slipway-bin-")
		if err != nil {
			slipwayErr = err
			return
		}
		slipwayPath = filepath.Join(dir, "slipway")
		cmd := exec.Command("go", "build", "-o", slipwayPath, "./cmd/slipway")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			slipwayErr = fmt.Errorf("building slipway: %v\n%s", err, out)
		}
	})
	if slipwayErr != nil {
		t.Fatal(slipwayErr)
	}
	return slipwayPath
}
