package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-build/slipway/internal/testenv"
)

const prodPassword = "prod-secret-pw-51d2"

// prodOverlay is a production overlay: one image line slipway owns (the
// production repository at an older release) and one it does not.
const prodOverlay = `# production: two replicas
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: "%[1]s/prod/web:0.9"   # promoted by CI
          args: ["--port", "8080"]
        - name: proxy
          image: %[1]s/prod/proxy:1.25
`

// tool runs a program of bin/ and returns its trimmed stdout.
func tool(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t, bin), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func TestPromote(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "runc", "cosign", "crane")
	staging := testenv.StartRegistry(t, testenv.RegistryOptions{})
	prod := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"deploy": prodPassword}})
	prodAuth := &authn.Basic{Username: "deploy", Password: prodPassword}
	prodOpts := []remote.Option{remote.WithTransport(prod.Transport()), remote.WithAuth(prodAuth)}

	dir := gitProject(t, map[string]string{
		"slipway.yaml": fmt.Sprintf(`registry: %s/staging
tags: ["{{.ShortCommit}}", latest]
images:
  - name: web
    platforms: [linux/amd64, linux/arm64]
sign:
  key: cosign.key
`, staging.Host),
		"Dockerfile":                "FROM scratch\nCOPY payload.txt /\n",
		"payload.txt":               "promoted, not rebuilt\n",
		"overlays/prod/deploy.yaml": fmt.Sprintf(prodOverlay, prod.Host),
	})
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	dockerCfg := dockerConfig(t, prod.Host, "deploy", prodPassword)
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "COSIGN_PASSWORD=" + password, "DOCKER_CONFIG=" + dockerCfg,
		"GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY="}
	if r := slipway(t, dir, env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}

	// The release: built once, pushed to staging and signed there.
	relReport := filepath.Join(t.TempDir(), "release.json")
	if r := slipway(t, dir, env, "release", "--progress", "quiet", "--report", relReport); r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	rel := readReport(t, relReport).Image("web")
	if rel == nil || len(rel.PlatformDigests) != 2 || len(rel.Signatures) != 3 {
		t.Fatalf("release report: %+v", rel)
	}
	digest := rel.Digest
	srcRepo, _ := name.NewRepository(staging.Host + "/staging/web")

	// An attestation the cosign way, and an OCI 1.1 referrer of the index.
	pred := filepath.Join(t.TempDir(), "predicate.json")
	if err := os.WriteFile(pred, []byte(`{"buildType": "https://slipway.dev/test", "builder": {"id": "slipway-test"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cosignEnv := []string{"COSIGN_PASSWORD=" + password, "HOME=" + t.TempDir()}
	tool(t, cosignEnv, "cosign", "attest", "--key", filepath.Join(dir, "cosign.key"), "--type", "slsaprovenance",
		"--predicate", pred, "--tlog-upload=false", "--allow-insecure-registry", "-y", srcRepo.Digest(digest).String())
	hex := strings.TrimPrefix(digest, "sha256:")
	attDigest := tool(t, nil, "crane", "digest", srcRepo.Tag("sha256-"+hex+".att").String())
	referrer := pushReferrer(t, srcRepo, digest)

	// --dry-run: the plan on stdout, nothing in the production registry.
	promoteReport := filepath.Join(t.TempDir(), "promote.json")
	args := []string{"promote", "--progress", "plain", "--from", relReport, "--to", prod.Host + "/prod",
		"--to-ca-file", prod.CAFile, "--bump", "overlays/prod", "--report", promoteReport}
	r := slipway(t, dir, env, append(args, "--dry-run")...)
	if r.code != 0 {
		t.Fatalf("promote --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"web: " + srcRepo.Digest(digest).String() + " -> " + prod.Host + "/prod/web",
		"tag " + short + " (new)", "signatures 3, attestations 1, sboms 0, referrers 1", "(stream)",
		"-          image: \"" + prod.Host + "/prod/web:0.9\"",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	t.Logf("dry run:\n%s", r.stdout)
	reg, _ := name.NewRegistry(prod.Host)
	if repos, err := remote.Catalog(t.Context(), reg, prodOpts...); err != nil || len(repos) != 0 {
		t.Errorf("after a dry run the production registry holds %v (%v)", repos, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "overlays/prod/deploy.yaml")); string(got) != fmt.Sprintf(prodOverlay, prod.Host) {
		t.Errorf("a dry run changed the overlay:\n%s", got)
	}

	// A production tag that points at something else is refused.
	other, _ := random.Image(256, 1)
	prodRepo, _ := name.NewRepository(prod.Host + "/prod/web")
	if err := remote.Write(prodRepo.Tag("latest"), other, prodOpts...); err != nil {
		t.Fatal(err)
	}
	r = slipway(t, dir, env, args...)
	if r.code != 1 || !strings.Contains(r.stderr, prodRepo.Tag("latest").String()+" points at") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("promote over a moved tag: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := remote.Head(prodRepo.Digest(digest), prodOpts...); err == nil {
		t.Error("a refused promote copied the image")
	}

	// Verified with a key that did not sign the release: the image tags
	// stay where they were, the overlay as it was.
	if r := slipway(t, dir, env, "keygen", "--output-key-prefix", "other"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	r = slipway(t, dir, env, append(args, "--force", "--key", "other.pub")...)
	if r.code != 1 || !strings.Contains(r.stderr, "no signature verifies with the key") || !strings.Contains(r.stderr, "hint: no promoted image tag was written") {
		t.Fatalf("promote verified with another key: exit %d\n%s", r.code, r.stderr)
	}
	if desc, err := remote.Head(prodRepo.Tag("latest"), prodOpts...); err != nil || desc.Digest != digestOfImage(t, other) {
		t.Errorf("after a failed check latest is %v (%v)", desc, err)
	}
	if _, err := remote.Head(prodRepo.Tag(short), prodOpts...); err == nil {
		t.Errorf("after a failed check %s exists", short)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "overlays/prod/deploy.yaml")); string(got) != fmt.Sprintf(prodOverlay, prod.Host) {
		t.Errorf("a failed check changed the overlay:\n%s", got)
	}

	// With --force: copied, verified at the destination, overlay bumped.
	r = slipway(t, dir, env, append(args, "--force", "--key", "cosign.pub")...)
	if r.code != 0 {
		t.Fatalf("promote: exit %d\n%s", r.code, r.stderr)
	}
	t.Logf("promote:\n%s%s", r.stdout, r.stderr)
	if strings.Contains(r.stdout+r.stderr, prodPassword) {
		t.Error("promote printed the registry password")
	}
	want := prodRepo.Tag(short).String() + "@" + digest + "\n" + prodRepo.Tag("latest").String() + "@" + digest + "\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}

	// At the destination, with the tools users have.
	prodEnv := []string{"SSL_CERT_FILE=" + prod.CAFile, "DOCKER_CONFIG=" + dockerCfg, "HOME=" + t.TempDir()}
	for _, ref := range []string{prodRepo.Tag(short).String(), prodRepo.Tag("latest").String()} {
		if got := tool(t, prodEnv, "crane", "digest", ref); got != digest {
			t.Errorf("crane digest %s = %s, want %s", ref, got, digest)
		}
	}
	for p, d := range rel.PlatformDigests {
		if got := tool(t, prodEnv, "crane", "digest", "--platform", p, prodRepo.Tag(short).String()); got != d {
			t.Errorf("%s at the destination: %s, want %s", p, got, d)
		}
		tool(t, append(prodEnv, "COSIGN_PASSWORD="), "cosign", "verify", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog", prodRepo.Digest(d).String())
	}
	tool(t, append(prodEnv, "COSIGN_PASSWORD="), "cosign", "verify", "--key", filepath.Join(dir, "cosign.pub"), "--insecure-ignore-tlog", prodRepo.Tag(short).String())
	if got := tool(t, prodEnv, "crane", "digest", prodRepo.Tag("sha256-"+hex+".att").String()); got != attDigest {
		t.Errorf(".att at the destination: %s, want %s", got, attDigest)
	}
	idx, err := remote.Referrers(prodRepo.Digest(digest), prodOpts...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if !slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Digest.String() == referrer }) {
		t.Errorf("referrers of %s at the destination: %+v, want %s", digest, im.Manifests, referrer)
	}

	// Only the overlay's image line changed.
	wantOverlay := strings.Replace(fmt.Sprintf(prodOverlay, prod.Host), prod.Host+"/prod/web:0.9", prod.Host+"/prod/web:"+short+"@"+digest, 1)
	if got, _ := os.ReadFile(filepath.Join(dir, "overlays/prod/deploy.yaml")); string(got) != wantOverlay {
		t.Errorf("overlay:\n%s\nwant:\n%s", got, wantOverlay)
	}

	// The report names the copies, for bump --from and verify. The blobs
	// came with the run whose check failed: this one found them present.
	prep := readReport(t, promoteReport)
	img := prep.Image("web")
	if !prep.Success || prep.Command != "promote" || img == nil || img.Digest != digest || img.Repository != prodRepo.String() ||
		img.Source != srcRepo.Digest(digest).String() || len(img.Signatures) != 3 || len(img.Attestations) != 1 ||
		len(img.Referrers) != 1 || img.BlobsSkipped == 0 || img.BlobsUploaded != 0 || len(prep.Manifests) != 1 {
		data, _ := json.MarshalIndent(prep, "", "  ")
		t.Errorf("promote report:\n%s", data)
	}
	if r := slipway(t, dir, env, "bump", "--check", "--from", promoteReport, "overlays/prod"); r.code != 0 {
		t.Errorf("bump --check --from the promote report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := slipway(t, dir, append(env, "SSL_CERT_FILE="+prod.CAFile), "verify", "--key", "cosign.pub", img.Refs[0]); r.code != 0 {
		t.Errorf("verify %s: exit %d\n%s", img.Refs[0], r.code, r.stderr)
	}

	// Again: everything is there; nothing is sent, nothing moves.
	r = slipway(t, dir, env, args...)
	if r.code != 0 {
		t.Fatalf("second promote: exit %d\n%s", r.code, r.stderr)
	}
	if again := readReport(t, promoteReport).Image("web"); again.BlobsUploaded != 0 || again.BytesUploaded != 0 {
		t.Errorf("second promote sent blobs: %+v", again)
	}

	// Within one registry, blobs are mounted, not sent.
	r = slipway(t, dir, env, "promote", "--progress", "quiet", "--report", promoteReport, srcRepo.Tag(short).String(), staging.Host+"/mirror/web")
	if r.code != 0 {
		t.Fatalf("promote within staging: exit %d\n%s", r.code, r.stderr)
	}
	mirror := readReport(t, promoteReport).Images[0]
	if mirror.BlobsMounted == 0 || mirror.BlobsUploaded != 0 || len(mirror.Signatures) != 3 {
		t.Errorf("promote within one registry: %+v", mirror)
	}
	if got := tool(t, nil, "crane", "digest", staging.Host+"/mirror/web:"+short); got != digest {
		t.Errorf("mirror/web:%s = %s", short, got)
	}
}

// pushReferrer pushes an artifact whose subject is the image digest to
// repo, and returns the artifact's digest.
func pushReferrer(t *testing.T, repo name.Repository, digest string) string {
	t.Helper()
	subject, err := remote.Head(repo.Digest(digest))
	if err != nil {
		t.Fatal(err)
	}
	art, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.MediaType(mutate.ConfigMediaType(art, "application/vnd.example.scan+json"), types.OCIManifestSchema1)
	withSubject := mutate.Subject(art, *subject).(v1.Image)
	d, err := withSubject.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(d.String()), withSubject); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func digestOfImage(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
