package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

// gitRepo makes dir a git repository with everything committed.
func gitRepo(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func TestInitThenReleaseDryRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testenv.RepoRoot(t), "internal", "scaffold", "testdata", "shop"))); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, dir)
	env := map[string]string{"HOME": dir}

	code, out, errs := runForSign(t, env, "-C", dir, "init", "--dry-run")
	if code != 0 || !strings.Contains(out, "registry: registry.example.com/shop") || !strings.Contains(errs, "check registry:") {
		t.Fatalf("init --dry-run: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "slipway.yaml")); err == nil {
		t.Fatal("init --dry-run wrote slipway.yaml")
	}
	code, _, errs = runForSign(t, env, "-C", dir, "init")
	if code != 0 || !strings.Contains(errs, "found image web") || !strings.Contains(errs, "wrote slipway.yaml") {
		t.Fatalf("init: exit %d\n%s", code, errs)
	}
	written, err := os.ReadFile(filepath.Join(dir, "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != out {
		t.Errorf("written file differs from the dry run's")
	}
	code, _, errs = runForSign(t, env, "-C", dir, "init")
	if code != 1 || !strings.Contains(errs, "slipway: slipway.yaml exists") || !strings.Contains(errs, "hint: slipway init --force") {
		t.Errorf("second init: exit %d\n%s", code, errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("# mine\n"+string(written)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = runForSign(t, env, "-C", dir, "init", "--force"); code != 0 {
		t.Errorf("init --force: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "slipway.yaml")); string(b) != string(written) {
		t.Errorf("--force did not rewrite the file")
	}

	code, diff, errs := runForSign(t, env, "-C", dir, "release", "--dry-run")
	if code != 0 {
		t.Fatalf("release --dry-run: exit %d\n%s", code, errs)
	}
	for _, want := range []string{
		"--- deploy/base/web.yaml",
		"+          image: registry.example.com/shop/web:",
		"--- deploy/base/worker.yaml",
		"--- deploy/overlays/prod/kustomization.yaml",
		"+    newTag: ",
		"--- charts/web/values.yaml",
		"+  tag: \"",
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("release --dry-run diff lacks %q:\n%s", want, diff)
		}
	}
	if notWant := changedLines(diff, "envoy", "mirror", "redis", "settings.yaml", "templates/"); notWant != "" {
		t.Errorf("release --dry-run changes %q, not the project's:\n%s", notWant, diff)
	}
}

// TestInitRealWorld: podinfo's own manifests (kustomize bases and
// overlays, a plain folder, a Helm chart), with a Dockerfile at the root.
func TestInitRealWorld(t *testing.T) {
	var src string
	for _, up := range []string{"..", filepath.Join("..", "..")} {
		p := filepath.Join(testenv.RepoRoot(t), up, "shared", "realworld", "in", "stefanprodan+podinfo")
		if _, err := os.Stat(p); err == nil {
			src = p
			break
		}
	}
	if src == "" {
		t.Skip("no real-world manifests beside the checkout")
	}
	dir := filepath.Join(t.TempDir(), "podinfo")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, dir)
	env := map[string]string{"HOME": dir}
	if code, _, errs := runForSign(t, env, "-C", dir, "init"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, errs)
	}
	code, diff, errs := runForSign(t, env, "-C", dir, "release", "--dry-run")
	if code != 0 {
		t.Fatalf("release --dry-run: exit %d\n%s", code, errs)
	}
	for _, want := range []string{"--- deploy/bases/frontend/deployment.yaml", "--- kustomize/deployment.yaml", "--- charts/podinfo/values.yaml", "+        image: ghcr.io/stefanprodan/podinfo:"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if notWant := changedLines(diff, "redis"); notWant != "" {
		t.Errorf("diff changes %q, not the project's image", notWant)
	}
}

// changedLines returns the first changed line of a diff (headers
// included) that holds one of words, or "".
func changedLines(diff string, words ...string) string {
	for _, l := range strings.Split(diff, "\n") {
		if !strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "-") {
			continue
		}
		for _, w := range words {
			if strings.Contains(l, w) {
				return l
			}
		}
	}
	return ""
}
