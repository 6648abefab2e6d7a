package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/scan/scantest"
	"github.com/slipway-build/slipway/internal/testenv"
)

const vulnID = "CVE-2099-41001"

// scanProject is a git project of one image, app, whose layer declares
// libfoo at version, with a Trivy database (outside the project) that
// knows one HIGH advisory for libfoo fixed in 1.2.4-r2.
type scanProject struct {
	dir string
	reg *testenv.Registry
	env []string
}

func newScanProject(t *testing.T, extraYAML string) *scanProject {
	t.Helper()
	testenv.RequireTools(t, "buildkitd", "registry", "runc", "cosign", "trivy")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	db := t.TempDir()
	if err := scantest.WriteDB(db, []scantest.Advisory{{ID: vulnID, Package: "libfoo", Fixed: "1.2.4-r2", Severity: "HIGH", Title: "libfoo overflows its buffer"}}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"slipway.yaml": "registry: " + reg.Host + "/scan\ntags: [\"{{.ShortCommit}}\", latest]\nimages: [{name: app}]\nsign: {key: cosign.key}\nscan: {db: " + db + ", fail-on: HIGH}\n" + extraYAML,
		"Dockerfile":   "FROM scratch\nCOPY rootfs/ /\n",
	}
	p := &scanProject{dir: gitProject(t, files), reg: reg,
		env: []string{"XDG_CACHE_HOME=" + cacheHome, "COSIGN_PASSWORD=" + password, "DOCKER_CONFIG=" + t.TempDir(), "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY="}}
	if r := slipway(t, p.dir, p.env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	return p
}

// setLibfoo commits the image's package database with libfoo at version.
func (p *scanProject) setLibfoo(t *testing.T, version string) {
	t.Helper()
	for rel, content := range scantest.AlpineFiles([]scantest.Package{{Name: "musl", Version: "1.2.5-r0"}, {Name: "libfoo", Version: version}}) {
		path := filepath.Join(p.dir, "rootfs", rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, p.dir, "add", "-A")
	git(t, p.dir, "commit", "-q", "-m", "libfoo "+version)
}

func (p *scanProject) repos(t *testing.T) []string {
	t.Helper()
	reg, err := name.NewRegistry(p.reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return repos
}

func TestScanGate(t *testing.T) {
	p := newScanProject(t, "")
	p.setLibfoo(t, "1.2.4-r1")

	// slipway scan alone: the finding, exit 1.
	r := slipway(t, p.dir, p.env, "build", "--progress", "quiet")
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	r = slipway(t, p.dir, p.env, "scan")
	if r.code != 1 || !strings.Contains(r.stdout, vulnID) || !strings.Contains(r.stdout, "libfoo 1.2.4-r1 → 1.2.4-r2") || !strings.Contains(r.stdout, "HIGH 1") {
		t.Errorf("scan of the vulnerable image: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = slipway(t, p.dir, p.env, "scan", "--format", "sarif")
	if r.code != 1 || !strings.Contains(r.stdout, `"ruleId": "`+vulnID+`"`) || !strings.Contains(r.stdout, `"uri": "Dockerfile"`) {
		t.Errorf("sarif: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = slipway(t, p.dir, p.env, "scan", "--fail-on", "critical")
	if r.code != 0 {
		t.Errorf("scan --fail-on critical: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The release stops before the push: nothing in the registry.
	reportPath := filepath.Join(t.TempDir(), "report.json")
	r = slipway(t, p.dir, p.env, "release", "--progress", "quiet", "--report", reportPath)
	if r.code != 1 || !strings.Contains(r.stderr, vulnID) {
		t.Errorf("release of the vulnerable image: exit %d\n%s", r.code, r.stderr)
	}
	if repos := p.repos(t); len(repos) != 0 {
		t.Errorf("a failed scan left repositories in the registry: %v", repos)
	}
	rep := readReport(t, reportPath)
	img := rep.Image("app")
	if rep.Success || !strings.Contains(rep.Error, vulnID) || img == nil || len(img.Scans) != 1 || img.Scans[0].Passed ||
		len(img.Scans[0].Findings) != 1 || img.Scans[0].Findings[0].ID != vulnID || len(img.Pushed) != 0 || len(img.Signatures) != 0 {
		t.Errorf("report of the failed release: %+v", rep)
	}

	// With the fixed package the release goes through.
	p.setLibfoo(t, "1.2.4-r2")
	r = slipway(t, p.dir, p.env, "release", "--progress", "quiet", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("release of the clean image: exit %d\n%s", r.code, r.stderr)
	}
	rep = readReport(t, reportPath)
	img = rep.Image("app")
	if len(img.Scans) != 1 || !img.Scans[0].Passed || img.Scans[0].Counts["HIGH"] != 0 || len(img.Signatures) == 0 {
		t.Errorf("report of the clean release: %+v", img)
	}
	if _, err := remote.Head(mustTag(t, p.reg.Host+"/scan/app:latest")); err != nil {
		t.Errorf("clean image not pushed: %v", err)
	}
}

func TestScanMissingTrivy(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: 127.0.0.1:1/x\nimages: [{name: app}]\nscan: {}\n",
		"Dockerfile":   "FROM scratch\nCOPY Dockerfile /\n",
	})
	// A slipway copy alone in its folder, with a PATH without trivy.
	bin := filepath.Join(t.TempDir(), "slipway")
	data, err := os.ReadFile(testenv.Slipway(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := slipwayCmd(t, dir, []string{"PATH=/usr/bin:/bin"})
	cmd.Path, cmd.Args = bin, []string{bin, "release", "--progress", "quiet"}
	r, err := runCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 2 || !strings.Contains(r.stderr, "trivy not found") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("release without trivy: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "store", "index.json")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, ".slipway", "store", "index.json")); strings.Contains(string(b), "app") {
			t.Error("the image was built although the scanner is missing")
		}
	}
}

// cosignAttest runs `cosign verify-attestation` with the key file in dir.
func cosignAttest(t *testing.T, dir, key, typ, ref string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t, "cosign"), "verify-attestation", "--key", key, "--type", typ,
		"--insecure-ignore-tlog", "--allow-insecure-registry", ref)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// attCount is the number of attestations stored for repo@digest.
func attCount(t *testing.T, repo, digest string) int {
	t.Helper()
	tag := mustTag(t, repo+":"+strings.Replace(digest, ":", "-", 1)+".att")
	img, err := remote.Image(tag)
	if err != nil {
		return 0
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Layers)
}

func TestAttestations(t *testing.T) {
	p := newScanProject(t, "attest: {provenance: max}\n")
	yaml := filepath.Join(p.dir, "slipway.yaml")
	data, _ := os.ReadFile(yaml)
	if err := os.WriteFile(yaml, []byte(strings.Replace(string(data), "images: [{name: app}]", "images: [{name: app, platforms: [linux/amd64, linux/arm64]}]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.setLibfoo(t, "1.2.4-r2")
	reportPath := filepath.Join(t.TempDir(), "report.json")
	r := slipway(t, p.dir, p.env, "release", "--progress", "quiet", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	img := readReport(t, reportPath).Image("app")
	repo := p.reg.Host + "/scan/app"
	amd, arm := img.PlatformDigests["linux/amd64"], img.PlatformDigests["linux/arm64"]
	if amd == "" || arm == "" {
		t.Fatalf("platforms: %v", img.PlatformDigests)
	}
	kinds := map[string]int{}
	for _, a := range img.Attested {
		kinds[a.Type]++
	}
	if kinds["provenance"] != 3 || kinds["sbom"] != 2 || kinds["vuln"] != 2 {
		t.Errorf("report lists attestations %v, want provenance 3 (index and platforms), sbom 2, vuln 2", kinds)
	}

	// The pushed index holds the two platforms and nothing else.
	idx, err := remote.Index(mustTag(t, repo+":latest"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Errorf("pushed index lists %d manifests, want 2: %+v", len(im.Manifests), im.Manifests)
	}
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" || m.Platform.Architecture == "unknown" {
			t.Errorf("pushed index lists %+v", m)
		}
	}

	// cosign accepts each attestation with the project's key...
	checks := []struct{ typ, ref string }{
		{"slsaprovenance1", repo + ":latest"},
		{"slsaprovenance1", repo + "@" + arm},
		{"spdxjson", repo + "@" + amd},
		{"spdxjson", repo + "@" + arm},
		{"vuln", repo + "@" + amd},
	}
	for _, c := range checks {
		out, err := cosignAttest(t, p.dir, "cosign.pub", c.typ, c.ref)
		if err != nil {
			t.Errorf("cosign verify-attestation --type %s %s: %v\n%s", c.typ, c.ref, err, out)
		}
	}
	// ...and refuses them with a foreign key.
	foreign := t.TempDir()
	if r := slipway(t, foreign, p.env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	for _, typ := range []string{"slsaprovenance1", "spdxjson", "vuln"} {
		if out, err := cosignAttest(t, p.dir, filepath.Join(foreign, "cosign.pub"), typ, repo+"@"+amd); err == nil {
			t.Errorf("cosign verify-attestation --type %s accepted a foreign key:\n%s", typ, out)
		}
	}
	// The SBOM lists the image's packages.
	if out, err := cosignAttest(t, p.dir, "cosign.pub", "spdxjson", repo+"@"+amd); err != nil || !strings.Contains(out, "payload") {
		t.Errorf("sbom: %v %s", err, out)
	}

	// slipway verify --attestation: in the project, against its HEAD.
	r = slipway(t, p.dir, p.env, "verify", "--attestation", "provenance", "--attestation", "sbom", "--attestation", "vuln", repo+":latest")
	if r.code != 0 || !strings.Contains(r.stdout, repo+":latest@"+img.Digest) {
		t.Errorf("verify --attestation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The same image copied without its attestations fails.
	bare := p.reg.Host + "/scan/bare:latest"
	if out, err := exec.Command(testenv.Bin(t, "crane"), "copy", "--insecure", repo+":latest", bare).CombinedOutput(); err != nil {
		t.Fatalf("crane copy: %v\n%s", err, out)
	}
	// Signed, so that only the attestations are missing.
	cs := exec.Command(testenv.Bin(t, "cosign"), "sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-insecure-registry", "-y",
		p.reg.Host+"/scan/bare@"+img.Digest)
	cs.Dir, cs.Env = p.dir, append(os.Environ(), "HOME="+t.TempDir(), "COSIGN_PASSWORD="+password)
	if out, err := cs.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	r = slipway(t, p.dir, p.env, "verify", "--attestation", "provenance", "--key", filepath.Join(p.dir, "cosign.pub"), bare)
	if r.code != 1 || !strings.Contains(r.stderr, "attestation") {
		t.Errorf("verify --attestation of an image without attestations: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A later commit is not what the provenance names.
	git(t, p.dir, "commit", "-q", "--allow-empty", "-m", "later")
	r = slipway(t, p.dir, p.env, "verify", "--attestation", "provenance", repo+":latest")
	if r.code != 1 || !strings.Contains(r.stderr, "HEAD") {
		t.Errorf("verify --attestation provenance after a new commit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	git(t, p.dir, "reset", "-q", "--hard", "HEAD~1")

	want := map[string]int{"index": 1, "amd": 3, "arm": 3}
	count := func() map[string]int {
		return map[string]int{"index": attCount(t, repo, img.Digest), "amd": attCount(t, repo, amd), "arm": attCount(t, repo, arm)}
	}
	if got := count(); got["index"] != want["index"] || got["amd"] != want["amd"] || got["arm"] != want["arm"] {
		t.Errorf("attestations stored %v, want %v", got, want)
	}
	// A second release (rebuilt, not skipped) adds no duplicate.
	r = slipway(t, p.dir, p.env, "release", "--no-skip", "--progress", "quiet", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("second release: exit %d\n%s", r.code, r.stderr)
	}
	if got := count(); got["index"] != want["index"] || got["amd"] != want["amd"] || got["arm"] != want["arm"] {
		t.Errorf("after a second release: attestations stored %v, want %v", got, want)
	}
}
