package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestReleaseSkipsUnchanged: a release builds only the images whose inputs
// changed; the others get their new tags on the image the registry holds,
// and when nothing changed no BuildKit is reached at all.
func TestReleaseSkipsUnchanged(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "runc")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: " + reg.Host + "/team\nimages:\n  - name: a\n    context: a\n  - name: b\n    context: b\n",
		"a/Dockerfile": "FROM scratch\nCOPY file.txt /file.txt\n",
		"a/file.txt":   "a\n",
		"b/Dockerfile": "FROM scratch\nCOPY file.txt /file.txt\n",
		"b/file.txt":   "b\n",
		"README.md":    "project\n",
	})
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "BUILDKIT_HOST="}
	reportPath := filepath.Join(t.TempDir(), "report.json")
	release := func(what string, args ...string) (*report.Report, result) {
		t.Helper()
		r := slipway(t, dir, env, append([]string{"release", "--progress", "plain", "--report", reportPath}, args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", what, r.code, r.stderr)
		}
		return readReport(t, reportPath), r
	}
	commit := func(file, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "commit", "-qam", "change "+file)
	}
	resolves := func(ref, digest string) {
		t.Helper()
		desc, err := remote.Head(mustTag(t, ref))
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if desc.Digest.String() != digest {
			t.Errorf("%s is %s, want %s", ref, desc.Digest, digest)
		}
	}

	first, _ := release("first release")
	a1, b1 := first.Image("a"), first.Image("b")
	for _, img := range []*report.Image{a1, b1} {
		if img.InputDigest == "" || img.Skipped {
			t.Fatalf("first release, image %s: input digest %q, skipped %v", img.Name, img.InputDigest, img.Skipped)
		}
		// The input tag and the annotation name the input digest.
		repo := reg.Host + "/team/" + img.Name
		hexPart := strings.TrimPrefix(img.InputDigest, "sha256:")[:32]
		resolves(repo+":inputs-"+hexPart, img.Digest)
		desc, err := remote.Get(mustTag(t, img.Refs[0]))
		if err != nil {
			t.Fatal(err)
		}
		m, err := desc.Image()
		if err != nil {
			t.Fatal(err)
		}
		mf, _ := m.Manifest()
		if got := mf.Annotations["dev.slipway.input.digest"]; got != img.InputDigest {
			t.Errorf("image %s: annotation dev.slipway.input.digest %q, report says %s", img.Name, got, img.InputDigest)
		}
	}

	// b changes: only b is built; a's new tag goes to a's image.
	commit("b/file.txt", "b changed\n")
	second, r := release("second release")
	a2, b2 := second.Image("a"), second.Image("b")
	if !a2.Skipped || a2.Digest != a1.Digest || a2.InputDigest != a1.InputDigest {
		t.Errorf("a after a change of b: skipped %v, digest %s (was %s)", a2.Skipped, a2.Digest, a1.Digest)
	}
	if b2.Skipped || b2.Digest == b1.Digest || b2.InputDigest == b1.InputDigest {
		t.Errorf("b after its change: skipped %v, digest %s (was %s)", b2.Skipped, b2.Digest, b1.Digest)
	}
	if strings.Contains(r.stderr, "[a ") {
		t.Errorf("a was built although unchanged:\n%s", r.stderr)
	}
	resolves(a2.Refs[0], a1.Digest)
	resolves(b2.Refs[0], b2.Digest)

	// Nothing an image reads changes: both skip, and no BuildKit is
	// reached (the address given does not exist).
	commit("README.md", "project, again\n")
	third, _ := release("release of an unrelated change", "--buildkit-host", "unix:///nonexistent/buildkitd.sock")
	for _, img := range third.Images {
		if !img.Skipped {
			t.Errorf("image %s was not skipped", img.Name)
		}
		resolves(img.Refs[0], map[string]string{"a": a1.Digest, "b": b2.Digest}[img.Name])
	}

	// Forced, the rebuild makes exactly what was skipped.
	forced, _ := release("forced release", "--no-skip")
	for _, img := range forced.Images {
		want := map[string]string{"a": a1.Digest, "b": b2.Digest}[img.Name]
		if img.Skipped || img.Digest != want {
			t.Errorf("--no-skip, image %s: skipped %v, digest %s; want a build of %s", img.Name, img.Skipped, img.Digest, want)
		}
	}
	r = slipway(t, dir, env, "release", "--no-skip", "--buildkit-host", "unix:///nonexistent/buildkitd.sock")
	if r.code != 1 {
		t.Errorf("--no-skip with no BuildKit: exit %d, want 1\n%s", r.code, r.stderr)
	}

	// Signing turned on (outside the images' inputs): the skipped images
	// are signed once, and not again by the next release.
	env = append(env, "COSIGN_PASSWORD=skip-test")
	if r := slipway(t, dir, env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	commit("slipway.yaml", string(cfg)+"sign:\n  key: cosign.key\n")
	signedRep, _ := release("release that turns signing on", "--buildkit-host", "unix:///nonexistent/buildkitd.sock")
	for _, img := range signedRep.Images {
		if !img.Skipped || len(img.Signatures) == 0 {
			t.Errorf("image %s: skipped %v, signatures %v; want skipped and signed", img.Name, img.Skipped, img.Signatures)
		}
	}
	commit("README.md", "project, once more\n")
	again, _ := release("release after signing", "--buildkit-host", "unix:///nonexistent/buildkitd.sock")
	for _, img := range again.Images {
		if !img.Skipped || len(img.Signatures) != 0 {
			t.Errorf("image %s: skipped %v, signatures %v; want skipped and not signed again", img.Name, img.Skipped, img.Signatures)
		}
	}
}
