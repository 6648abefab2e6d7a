package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-build/slipway/internal/testenv"
)

// stepCached reports whether the plain progress output shows the step
// whose line contains step as CACHED.
func stepCached(t *testing.T, progress, step string) bool {
	t.Helper()
	var id string
	for _, line := range strings.Split(progress, "\n") {
		if m := regexp.MustCompile(`^(#\d+) \[.*\] (.*)$`).FindStringSubmatch(line); m != nil && strings.Contains(m[2], step) {
			id = m[1]
			break
		}
	}
	if id == "" {
		t.Fatalf("no step %q in the progress:\n%s", step, progress)
	}
	return strings.Contains(progress, "\n"+id+" CACHED\n")
}

// TestRegistryCacheSurvivesNewDaemon: a release exports its build cache to
// the registry; a release on a daemon with no state (a new CI runner)
// imports it, so the early RUN step is not run again.
func TestRegistryCacheSurvivesNewDaemon(t *testing.T) {
	base := busyboxBase(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	marker := fmt.Sprintf("early-%d", time.Now().UnixNano())
	cacheRef := reg.Host + "/team/web:buildcache"
	dir := gitProject(t, map[string]string{
		"slipway.yaml": fmt.Sprintf(`registry: %s/team
images:
  - name: web
    cache:
      from: type=registry,ref=%s
      to: type=registry,ref=%s,mode=max
`, reg.Host, cacheRef, cacheRef),
		// The RUN step writes random bytes: run again, it would write others.
		"Dockerfile": "FROM " + base + "\nRUN echo " + marker + " > /early && head -c 16 /dev/urandom | od -x >> /early\nCOPY late.txt /late.txt\n",
		"late.txt":   "one\n",
	})
	// early reads /early from the pushed image.
	var early string
	run := func(what string) string {
		t.Helper()
		// A cache folder of its own each time: a private buildkitd with an
		// empty root, as on a fresh runner.
		env := []string{"XDG_CACHE_HOME=" + t.TempDir(), "BUILDKIT_HOST="}
		reportPath := filepath.Join(t.TempDir(), "report.json")
		r := slipway(t, dir, env, "release", "--progress", "plain", "--report", reportPath)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
		}
		img, err := remote.Image(mustTag(t, readReport(t, reportPath).Images[0].Refs[0]))
		if err != nil {
			t.Fatal(err)
		}
		early, _ = imageLayerFile(t, img, "early")
		return r.stderr
	}
	first := run("first release")
	firstEarly := early
	if stepCached(t, first, "RUN echo "+marker) {
		t.Fatalf("the first release found the RUN step cached: the test's daemon was not fresh\n%s", first)
	}
	if !strings.Contains(first, "exporting cache") && !strings.Contains(first, "exporting to cache") {
		t.Errorf("the first release exported no cache:\n%s", first)
	}
	// Stored as an image manifest (image-manifest=true, filled in by
	// slipway), which every registry accepts, not as an index of blobs.
	desc, err := remote.Get(mustTag(t, cacheRef))
	if err != nil {
		t.Fatalf("no cache at %s: %v", cacheRef, err)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("cache stored as %s, want an OCI image manifest", desc.MediaType)
	}
	if err := os.WriteFile(filepath.Join(dir, "late.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "late change")
	second := run("second release")
	// BuildKit shows a step whose result it pulls from a remote cache
	// either as CACHED or as the download of its layer; the file it wrote
	// says whether it ran again.
	if early != firstEarly || !strings.HasPrefix(early, marker) {
		t.Errorf("the second release, on a new daemon, ran the RUN step again instead of importing it from %s: /early %q, first %q\n%s", cacheRef, early, firstEarly, second)
	}
	if !strings.Contains(second, "importing cache manifest from "+cacheRef) {
		t.Errorf("the second release did not import %s:\n%s", cacheRef, second)
	}
	if stepCached(t, second, "COPY late.txt") {
		t.Errorf("the changed COPY step was reported cached:\n%s", second)
	}
}

// TestUntouchedImageKeepsDigest: a commit that changes one image's context
// (or only the manifests slipway bumps) leaves the other images' digests
// as they were: each image's times come from its own last change.
func TestUntouchedImageKeepsDigest(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	dir := gitProject(t, map[string]string{
		"slipway.yaml":      "registry: localhost:5000\nimages:\n  - name: a\n    context: a\n  - name: b\n    context: b\nmanifests:\n  - paths: [a/deploy/]\n",
		"a/Dockerfile":      "FROM scratch\nCOPY . /\n",
		"a/file.txt":        "a\n",
		"b/Dockerfile":      "FROM scratch\nCOPY file.txt /file.txt\n",
		"b/file.txt":        "b\n",
		"a/deploy/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    - {name: a, image: localhost:5000/a:x}\n",
	})
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "BUILDKIT_HOST="}
	build := func() map[string]string {
		t.Helper()
		r := slipway(t, dir, env, "build", "--progress", "quiet", "--report", filepath.Join(t.TempDir(), "report.json"))
		if r.code != 0 {
			t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
		}
		out := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				out[f[0]] = f[1]
			}
		}
		return out
	}
	commit := func(file, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// A later commit time: a clamp to HEAD's time would show.
		cmd := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "change "+file)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE=2026-03-04T05:06:07Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git commit: %v\n%s", err, out)
		}
	}
	first := build()
	commit("b/file.txt", "b changed\n")
	second := build()
	if second["a"] != first["a"] {
		t.Errorf("a changed digest (%s → %s) although only b's context changed", first["a"], second["a"])
	}
	if second["b"] == first["b"] {
		t.Errorf("b kept digest %s although its context changed", first["b"])
	}
	// A commit of the manifests only (a bump) moves nothing, although
	// a/deploy/ is inside a's context.
	commit("a/deploy/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    - {name: a, image: localhost:5000/a:y}\n")
	third := build()
	if third["a"] != second["a"] || third["b"] != second["b"] {
		t.Errorf("a manifest commit changed digests: %v → %v", second, third)
	}
}
