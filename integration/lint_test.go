package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

type lintDoc struct {
	Findings []struct {
		File, Rule, Severity, Message, Source string
		Line                                  int
	}
}

func lintJSON(t *testing.T, r result) lintDoc {
	t.Helper()
	var doc lintDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("lint --format json: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return doc
}

// TestLintBuiltImages builds two images with the real buildkitd, one with a
// private key copied into a layer and one that runs as root, and lints the
// store through the binary.
func TestLintBuiltImages(t *testing.T) {
	base := busyboxBase(t)
	dir := gitProject(t, map[string]string{
		"slipway.yaml":     "registry: localhost:5000\nimages:\n  - name: leaky\n    context: leaky\n  - name: rooty\n    context: rooty\n",
		"leaky/Dockerfile": "FROM " + base + "\nCOPY id_rsa /root/.ssh/id_rsa\nRUN rm /root/.ssh/id_rsa\nUSER 1000\n",
		"leaky/id_rsa":     "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n",
		"rooty/Dockerfile": "FROM " + base + "\nRUN echo hi > /hi\n",
	})
	env := []string{"XDG_CACHE_HOME=" + cacheHome}
	if r := slipway(t, dir, env, "build", "--progress", "quiet"); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}

	r := slipway(t, dir, env, "lint", "--format", "json")
	if r.code != 1 {
		t.Errorf("lint with an image-secret finding: exit %d, want 1\n%s", r.code, r.stderr)
	}
	doc := lintJSON(t, r)
	has := func(file, rule, text string) bool {
		for _, f := range doc.Findings {
			if f.File == file && f.Rule == rule && strings.Contains(f.Message, text) {
				return true
			}
		}
		return false
	}
	// The key was deleted by a later layer, but its bytes are still in the
	// layer that copied it.
	if !has("leaky/Dockerfile", "image-secret", "/root/.ssh/id_rsa") {
		t.Errorf("no image-secret for the planted id_rsa:\n%s", r.stdout)
	}
	if !has("rooty/Dockerfile", "image-root", "image rooty") {
		t.Errorf("no image-root for the root image:\n%s", r.stdout)
	}
	if has("leaky/Dockerfile", "image-root", "") || has("rooty/Dockerfile", "image-secret", "") {
		t.Errorf("findings on the wrong image:\n%s", r.stdout)
	}
	if !has("rooty/Dockerfile", "root-user", "") {
		t.Errorf("no root-user for the Dockerfile without USER:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "2 images") {
		t.Errorf("summary does not count the two images: %s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "not a real key") {
		t.Error("the key's content was printed")
	}

	if r := slipway(t, dir, env, "lint", "--fail-on", "none"); r.code != 0 {
		t.Errorf("--fail-on none: exit %d\n%s", r.code, r.stderr)
	}
	r = slipway(t, dir, env, "lint", "--format", "sarif")
	var sarif struct {
		Version string
		Runs    []struct{ Results []struct{ RuleID string } }
	}
	if err := json.Unmarshal([]byte(r.stdout), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != len(doc.Findings) {
		t.Errorf("sarif: %v\n%s", err, r.stdout)
	}
}

// TestLintStopsRelease: a release lints before it builds, a dry run shows
// the findings, and lint: {on-release: false} turns that off. No daemon is
// needed for any of it.
func TestLintStopsRelease(t *testing.T) {
	yaml := "registry: localhost:1/none\nimages:\n  - name: web\n"
	dir := gitProject(t, map[string]string{
		"slipway.yaml": yaml,
		"Dockerfile":   "FROM busybox:latest\nUSER 1000\n",
	})
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}

	r := slipway(t, dir, env, "release", "--progress", "plain")
	if r.code != 1 || !strings.Contains(r.stderr, "Dockerfile:1:1: error base-latest") || !strings.Contains(r.stderr, "the release stops before the build") {
		t.Fatalf("release with base-latest: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "store", "index.json")); err == nil {
		t.Error("the release built before its lint stopped it")
	}

	r = slipway(t, dir, env, "release", "--dry-run")
	if r.code != 1 || !strings.Contains(r.stderr, "error base-latest") || !strings.Contains(r.stdout, "localhost:1/none/web:") {
		t.Errorf("dry run: exit %d, want 1 with the plan on stdout and the finding on stderr\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte(yaml+"lint:\n  on-release: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "lint off")
	r = slipway(t, dir, env, "release", "--dry-run")
	if r.code != 0 || strings.Contains(r.stderr, "base-latest") {
		t.Errorf("dry run with on-release false: exit %d\n%s", r.code, r.stderr)
	}
	// slipway lint itself still reports it.
	if r := slipway(t, dir, env, "lint", "Dockerfile"); r.code != 1 || !strings.Contains(r.stdout, "base-latest") {
		t.Errorf("lint Dockerfile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestLintExamples lints both examples with their manifests, without a
// daemon and without slipway.yaml for the PATH form.
func TestLintExamples(t *testing.T) {
	for _, ex := range []string{"hello", "multi"} {
		dir := filepath.Join(testenv.RepoRoot(t), "examples", ex)
		r := slipway(t, dir, nil, "lint")
		if r.code != 0 {
			t.Errorf("%s: exit %d\n%s%s", ex, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "0 errors") || !strings.Contains(r.stderr, "2 manifests") {
			t.Errorf("%s: summary %s", ex, r.stderr)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.Dockerfile"), []byte("FROM scratch\nCOPY a /a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: nginx}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := slipway(t, dir, nil, "lint", "app.Dockerfile", "pod.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "pod.yaml:6:") || !strings.Contains(r.stdout, "image-untagged") || !strings.Contains(r.stdout, "app.Dockerfile:1:1: warning root-user") {
		t.Errorf("lint without slipway.yaml: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.Dockerfile"), []byte("FROM scratch\nCOPY\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = slipway(t, dir, nil, "lint", "bad.Dockerfile")
	if r.code != 1 || !strings.Contains(r.stderr, "bad.Dockerfile:2:") {
		t.Errorf("a Dockerfile that does not parse: exit %d\n%s", r.code, r.stderr)
	}
}
