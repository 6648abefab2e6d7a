package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slipway-build/slipway/internal/buildinfo"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestVersionStampAndReports builds slipway the way the Makefile does
// (the version from the linker) and checks that `version --json` and a
// report written by the same binary carry the same version string.
func TestVersionStampAndReports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds slipway; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "slipway")
	const stamped = "v9.8.7-3-gabcdef0"
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+stamped+" -X main.commit=abcdef0123", "-o", bin, "./cmd/slipway")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var in buildinfo.Info
	if err := json.Unmarshal(out, &in); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if in.Version != stamped || in.Commit != "abcdef0123" || in.Buildkit == "" || in.Cosign == "" {
		t.Errorf("version --json = %+v", in)
	}

	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: 127.0.0.1:5/demo\nimages:\n  - name: web\n",
		"Dockerfile":   "FROM scratch\n",
	})
	rep := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "release", "--dry-run", "--report", rep)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release --dry-run: %v\n%s", err, out)
	}
	data, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		SlipwayVersion string `json:"slipwayVersion"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.SlipwayVersion != in.Version {
		t.Errorf("report slipwayVersion = %q, version says %q", r.SlipwayVersion, in.Version)
	}
}
