package integration

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/seed"
	"github.com/slipway-build/slipway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden manifests under testdata/")

// example is a copy of examples/NAME made into a git repository whose
// manifests point at reg, with a cosign key pair, tagged v1.2.3.
type example struct {
	dir  string
	reg  *testenv.Registry
	env  []string
	base map[string]string // seeded base image refs by kind
}

const password = "integration-secret-pw"

func newExample(t *testing.T, exampleName string) *example {
	t.Helper()
	testenv.RequireTools(t, "buildkitd", "buildctl", "registry", "cosign", "runc")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ctx := context.Background()
	busybox, err := seed.Busybox(ctx, mustTag(t, reg.Host+"/seed/busybox:latest"))
	if err != nil {
		t.Fatal(err)
	}
	golang, err := seed.GoToolchain(ctx, mustTag(t, reg.Host+"/seed/golang:1.26"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), exampleName)
	src := filepath.Join(testenv.RepoRoot(t), "examples", exampleName)
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", src, err, out)
	}
	// The examples' manifests name localhost:5000; point them at this registry.
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !(strings.HasSuffix(p, ".yaml")) || filepath.Base(p) == "slipway.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, []byte(strings.ReplaceAll(string(data), "localhost:5000/demo", reg.Host+"/demo")), info.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
	ex := &example{dir: dir, reg: reg, base: map[string]string{"busybox": busybox.String(), "golang": golang.String()}}
	ex.env = []string{
		"XDG_CACHE_HOME=" + cacheHome,
		"REGISTRY=" + reg.Host,
		"GO_IMAGE=" + golang.String(),
		"BASE_IMAGE=" + busybox.String(),
		"VERSION=1.2.3",
		"COSIGN_PASSWORD=" + password,
		"DOCKER_CONFIG=" + t.TempDir(),
		"GITHUB_OUTPUT=",
		"GITHUB_STEP_SUMMARY=",
	}
	if r := slipway(t, dir, ex.env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "example")
	git(t, dir, "tag", "v1.2.3")
	return ex
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// manifestFiles reads every YAML file below the example but slipway.yaml.
func (ex *example) manifestFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(ex.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && (info.Name() == ".git" || info.Name() == ".slipway") {
			return filepath.SkipDir
		}
		if info.IsDir() || !strings.HasSuffix(p, ".yaml") || info.Name() == "slipway.yaml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ex.dir, p)
		files[rel] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkGolden compares the bumped manifests with testdata/<example>/, where
// the registry, commit and digests are written as placeholders.
func (ex *example) checkGolden(t *testing.T, exampleName string, rep *report.Report) {
	t.Helper()
	short := git(t, ex.dir, "rev-parse", "--short=7", "HEAD")
	placeholders := []string{ex.reg.Host, "{{REGISTRY}}", short, "{{COMMIT}}"}
	for _, img := range rep.Images {
		placeholders = append(placeholders, img.Digest, "{{DIGEST_"+strings.ToUpper(img.Name)+"}}")
	}
	mask := strings.NewReplacer(placeholders...)
	for rel, content := range ex.manifestFiles(t) {
		golden := filepath.Join("testdata", exampleName, rel)
		got := mask.Replace(content)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", golden, err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s:\n%s", rel, golden, got)
		}
	}
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	rep, err := report.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// cosignVerify runs the real cosign CLI against ref with the example's key.
func (ex *example) cosignVerify(t *testing.T, ref string) {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t, "cosign"), "verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-insecure-registry", ref)
	cmd.Dir = ex.dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
	}
}

func TestReleaseHello(t *testing.T) {
	ex := newExample(t, "hello")
	outputs := filepath.Join(t.TempDir(), "github_output")
	summary := filepath.Join(t.TempDir(), "step_summary")
	env := append(ex.env, "GITHUB_OUTPUT="+outputs, "GITHUB_STEP_SUMMARY="+summary)
	reportPath := filepath.Join(t.TempDir(), "report.json")

	r := slipway(t, ex.dir, env, "release", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Error("the signing password appears in the output")
	}
	rep := readReport(t, reportPath)
	if !rep.Success || rep.Command != "release" || len(rep.Images) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	img := rep.Images[0]
	short := git(t, ex.dir, "rev-parse", "--short=7", "HEAD")
	wantRefs := []string{ex.reg.Host + "/demo/hello:" + short, ex.reg.Host + "/demo/hello:1.2.3", ex.reg.Host + "/demo/hello:1.2"}
	if strings.Join(img.Refs, " ") != strings.Join(wantRefs, " ") {
		t.Errorf("refs %v, want %v", img.Refs, wantRefs)
	}
	// stdout: REF@DIGEST per reference, and each resolves to the digest.
	var wantOut strings.Builder
	for _, ref := range wantRefs {
		wantOut.WriteString(ref + "@" + img.Digest + "\n")
		desc, err := remote.Head(mustTag(t, ref))
		if err != nil {
			t.Fatalf("%s not in the registry: %v", ref, err)
		}
		if desc.Digest.String() != img.Digest {
			t.Errorf("%s is %s, report says %s", ref, desc.Digest, img.Digest)
		}
	}
	if r.stdout != wantOut.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, wantOut.String())
	}
	if len(img.Signatures) == 0 {
		t.Error("no signature in the report")
	}
	ex.cosignVerify(t, ex.reg.Host+"/demo/hello@"+img.Digest)
	ex.checkGolden(t, "hello", rep)
	// The pre-deploy gate passes over the manifests the release wrote.
	if r := slipway(t, ex.dir, env, "verify"); r.code != 0 || !strings.Contains(r.stderr, "0 errors") {
		t.Errorf("verify after release: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if len(rep.Manifests) != 2 {
		t.Errorf("report lists %d manifest files, want 2", len(rep.Manifests))
	}

	out, _ := os.ReadFile(outputs)
	for _, want := range []string{
		"digest-hello=" + img.Digest + "\n",
		"ref-hello=" + wantRefs[0] + "@" + img.Digest + "\n",
		"report=" + reportPath + "\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, out)
		}
	}
	sum, _ := os.ReadFile(summary)
	for _, want := range []string{"### slipway release", "| hello |", img.Digest, "yes (1)", "deploy/deployment.yaml"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("step summary lacks %q:\n%s", want, sum)
		}
	}

	// A second release of the same commit is reproducible and uploads nothing.
	git(t, ex.dir, "checkout", "-q", "--", ".")
	r = slipway(t, ex.dir, ex.env, "release", "--progress", "quiet", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("second release: exit %d\n%s", r.code, r.stderr)
	}
	again := readReport(t, reportPath).Images[0]
	if again.Digest != img.Digest {
		t.Errorf("rebuild of the same commit: digest %s, first %s", again.Digest, img.Digest)
	}
	if again.BlobsUploaded != 0 || again.BytesUploaded != 0 {
		t.Errorf("re-push uploaded %d blobs (%d bytes)", again.BlobsUploaded, again.BytesUploaded)
	}
}

func TestReleaseMulti(t *testing.T) {
	ex := newExample(t, "multi")
	reportPath := filepath.Join(t.TempDir(), "report.json")
	r := slipway(t, ex.dir, ex.env, "release", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	rep := readReport(t, reportPath)
	api, worker := rep.Image("api"), rep.Image("worker")
	if api == nil || worker == nil {
		t.Fatalf("report images: %+v", rep.Images)
	}
	if len(api.PlatformDigests) != 2 || api.PlatformDigests["linux/arm64"] == "" || api.PlatformDigests["linux/amd64"] == "" {
		t.Errorf("api platforms: %v", api.PlatformDigests)
	}
	// index + 2 platform manifests, and the single worker image.
	if len(api.Signatures) != 3 || len(worker.Signatures) != 1 {
		t.Errorf("signatures: api %d, worker %d", len(api.Signatures), len(worker.Signatures))
	}
	ex.cosignVerify(t, ex.reg.Host+"/demo/api@"+api.Digest)
	ex.cosignVerify(t, ex.reg.Host+"/demo/api@"+api.PlatformDigests["linux/arm64"])
	ex.cosignVerify(t, ex.reg.Host+"/demo/worker@"+worker.Digest)
	for _, img := range rep.Images {
		for _, p := range img.Pushed {
			ref, digest, _ := strings.Cut(p, "@")
			desc, err := remote.Head(mustTag(t, ref))
			if err != nil || desc.Digest.String() != digest {
				t.Errorf("%s: %v %v", p, desc, err)
			}
		}
	}
	ex.checkGolden(t, "multi", rep)
}

func TestReleaseFailuresLeaveManifests(t *testing.T) {
	ex := newExample(t, "hello")
	before := ex.manifestFiles(t)
	check := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 1 {
			t.Errorf("exit %d, want 1\n%s", r.code, r.stderr)
		}
		after := ex.manifestFiles(t)
		for f, content := range before {
			if after[f] != content {
				t.Errorf("%s changed by a failed release", f)
			}
		}
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Error("a password appears in the output")
		}
	}

	t.Run("wrong signing password", func(t *testing.T) {
		env := append(append([]string{}, ex.env...), "COSIGN_PASSWORD=not-the-password")
		r := slipway(t, ex.dir, env, "release", "--progress", "quiet")
		check(t, r)
		if !strings.Contains(r.stderr, "hint:") {
			t.Errorf("no hint:\n%s", r.stderr)
		}
		// The key is checked before anything is built or pushed.
		if _, err := remote.Head(mustTag(t, ex.reg.Host+"/demo/hello:1.2.3")); err == nil {
			t.Error("an image was pushed although the key could not be opened")
		}
	})

	t.Run("registry down at push time", func(t *testing.T) {
		dead := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
		reportPath := filepath.Join(t.TempDir(), "report.json")
		r := slipway(t, ex.dir, ex.env, "release", "--progress", "quiet", "--registry", dead+"/demo", "--retries", "2", "--report", reportPath)
		check(t, r)
		rep := readReport(t, reportPath)
		if rep.Success || rep.Error == "" || rep.Images[0].Digest == "" || len(rep.Images[0].Pushed) != 0 {
			t.Errorf("report of the failed release: %+v", rep)
		}
	})
}
