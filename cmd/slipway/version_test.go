package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/buildinfo"
	"github.com/slipway-build/slipway/internal/testenv"
)

// goModVersion is the version go.mod requires of module path.
func goModVersion(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(path) + ` (v\S+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("go.mod has no requirement of %s", path)
	}
	return m[1]
}

func TestVersionJSON(t *testing.T) {
	old := version
	version = "v1.2.3-4-gabcdef0"
	t.Cleanup(func() { version = old })

	code, out, errs := runForSign(t, nil, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var in buildinfo.Info
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if in.Version != "v1.2.3-4-gabcdef0" {
		t.Errorf("version = %q, want the stamped one", in.Version)
	}
	if !strings.HasPrefix(in.Go, "go1.") {
		t.Errorf("go = %q", in.Go)
	}
	if want := goModVersion(t, "github.com/moby/buildkit"); in.Buildkit != want {
		t.Errorf("buildkit = %q, want go.mod's %q", in.Buildkit, want)
	}
	if want := goModVersion(t, "github.com/sigstore/cosign/v2"); in.Cosign != want {
		t.Errorf("cosign = %q, want go.mod's %q", in.Cosign, want)
	}

	code, out, _ = runForSign(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "slipway v1.2.3-4-gabcdef0\n") || !strings.Contains(out, "buildkit: "+in.Buildkit) {
		t.Errorf("text version: %d %q", code, out)
	}
	if code, _, errs := runForSign(t, nil, "version", "extra"); code != 2 || !strings.Contains(errs, "no arguments") {
		t.Errorf("version extra: %d %q", code, errs)
	}
}
