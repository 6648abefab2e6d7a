package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/testenv"
)

const pullPassword = "pull-secret-pw-93ad"

// pushTestImage writes a small image for linux/arch, or with index an
// index of one image per arch, to ref and returns its digest.
func pushTestImage(t *testing.T, reg *testenv.Registry, auth authn.Authenticator, ref string, index bool, archs ...string) string {
	t.Helper()
	opts := []remote.Option{remote.WithTransport(reg.Transport()), remote.WithAuth(auth)}
	mk := func(arch string) v1.Image {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		return img
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if !index {
		img := mk(archs[0])
		if err := remote.Write(r, img, opts...); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	idx := v1.ImageIndex(empty.Index)
	for _, a := range archs {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mk(a), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: a}}})
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

var findingLine = regexp.MustCompile(`^([^:]+):(\d+): (\S+) container (\S+): (\S+): (ok|warning|error)(?: (\S+): (.*))?$`)

// verdicts maps "LINE container" to its findings, "severity rule" each.
func verdicts(t *testing.T, stdout string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		m := findingLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a finding line: %q", l)
			continue
		}
		out[m[2]+" "+m[4]] = append(out[m[2]+" "+m[4]], strings.TrimSpace(m[6]+" "+m[7]))
	}
	return out
}

func checkVerdicts(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.Join(got[k], ", ") != strings.Join(want[k], ", ") {
			t.Errorf("%s: line %s: got %v, want %v", what, k, got[k], want[k])
		}
	}
}

type jsonFindings struct {
	Findings []struct {
		Rule, Severity, File, Container, Reference, Message, Digest string
		Line                                                        int
		Platforms                                                   []string
	}
	Images, OK, Warnings, Errors int
}

func TestVerifyGate(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "cosign", "runc", "containerd", "ctr")
	// The project's registry: TLS with a CA that only slipway.yaml's ca_file names.
	pub := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true})
	// A private registry: TLS + htpasswd; its CA is the system's (SSL_CERT_FILE).
	priv := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"puller": pullPassword}})
	privAuth := &authn.Basic{Username: "puller", Password: pullPassword}

	A, B := pub.Host, priv.Host
	unsigned := pushTestImage(t, pub, authn.Anonymous, A+"/team/unsigned:1", false, "amd64")
	pushTestImage(t, pub, authn.Anonymous, A+"/lib/tool:1", false, "amd64")
	pushTestImage(t, pub, authn.Anonymous, A+"/lib/tool:latest", false, "amd64")
	multi := pushTestImage(t, pub, authn.Anonymous, A+"/lib/multi:1", true, "amd64", "arm64")
	amdOnly := pushTestImage(t, pub, authn.Anonymous, A+"/lib/amd:1", false, "amd64")
	amdIndex := pushTestImage(t, pub, authn.Anonymous, A+"/lib/amdidx:1", true, "amd64")
	private := pushTestImage(t, priv, privAuth, B+"/priv/app:1", false, "amd64")

	deploy := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: web
        image: %[1]s/team/web:dev
      - name: unsigned
        image: %[1]s/team/unsigned:1@%[3]s
      - name: tool
        image: %[1]s/lib/tool:1
      - name: latest
        image: %[1]s/lib/tool:latest
        imagePullPolicy: IfNotPresent
      - name: notag
        image: %[1]s/lib/tool:nope
      - name: norepo
        image: %[1]s/lib/ghost:1
      - name: private
        image: %[2]s/priv/app:1@%[4]s
`, A, B, unsigned, private)
	platformsYAML := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: plat
spec:
  containers:
  - name: multi
    image: %[1]s/lib/multi:1@%[2]s
  - name: amd
    image: %[1]s/lib/amd:1@%[3]s
  - name: amdidx
    image: %[1]s/lib/amdidx:1@%[4]s
`, A, multi, amdOnly, amdIndex)
	dir := gitProject(t, map[string]string{
		"slipway.yaml":        fmt.Sprintf("registry:\n  url: %s/team\n  ca_file: %q\ntags: [\"{{.ShortCommit}}\"]\nimages: [{name: web}]\nsign: {key: cosign.key}\nmanifests:\n  - paths: [deploy/]\n# The manifests hold what verify must catch; the release's lint would stop at it.\nlint: {on-release: false}\n", A, pub.CAFile),
		"Dockerfile":          "FROM scratch\nCOPY payload.txt /\n",
		"payload.txt":         "verified\n",
		"deploy/app.yaml":     deploy,
		"other/platform.yaml": platformsYAML,
	})
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + t.TempDir(), "COSIGN_PASSWORD=" + password,
		"SSL_CERT_FILE=" + priv.CAFile, "REGISTRY_AUTH_FILE=", "XDG_RUNTIME_DIR=", "XDG_CONFIG_HOME=" + t.TempDir()}
	if r := slipway(t, dir, env, "keygen"); r.code != 0 {
		t.Fatalf("keygen: %s", r.stderr)
	}
	r := slipway(t, dir, env, "release", "--progress", "quiet")
	if r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	webDigest := strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, "@")+1:])
	webRef := A + "/team/web:" + short + "@" + webDigest
	if data, _ := os.ReadFile(filepath.Join(dir, "deploy/app.yaml")); !strings.Contains(string(data), "image: "+webRef+"\n") {
		t.Fatalf("release did not pin %s in deploy/app.yaml:\n%s", webRef, data)
	}

	// 1. The project's manifests with the local (empty) credentials.
	r = slipway(t, dir, env, "verify")
	if r.code != 1 {
		t.Fatalf("verify: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	want := map[string][]string{
		"10 web":      {"ok"},
		"12 unsigned": {"error signed"},
		"14 tool":     {"warning pinned"},
		"16 latest":   {"error pinned", "warning pull-policy"},
		"19 notag":    {"error exists"},
		"21 norepo":   {"error exists"},
		"23 private":  {"error exists"},
	}
	checkVerdicts(t, "local credentials", verdicts(t, r.stdout), want)
	for _, s := range []string{
		"deploy/app.yaml:19: Deployment/app container notag: " + A + "/lib/tool:nope: error exists: tag nope not found",
		"deploy/app.yaml:21: Deployment/app container norepo: " + A + "/lib/ghost:1: error exists: repository " + A + "/lib/ghost does not exist",
		"container private: " + B + "/priv/app:1@" + private + ": error exists: no credentials for " + B,
		"container unsigned: " + A + "/team/unsigned:1@" + unsigned + ": error signed: unsigned",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "slipway: 7 images: 1 ok, 1 warning, 5 errors") || !strings.Contains(r.stderr, "hint: ") {
		t.Errorf("stderr: summary or hints missing:\n%s", r.stderr)
	}

	// 2. With the Secret the cluster will get: the private image passes.
	ps := slipwayCmd(t, dir, env, "pull-secret", "regcred", "--registry", B, "-u", "puller", "--password-stdin", "-o", "secret.yaml")
	ps.Stdin = strings.NewReader(pullPassword + "\n")
	if r, err := runCmd(ps); err != nil || r.code != 0 || r.stdout != "" || strings.Contains(r.stderr, pullPassword) {
		t.Fatalf("pull-secret: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "secret.yaml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret.yaml: %v %v", fi, err)
	}
	reportPath := filepath.Join(t.TempDir(), "verify.json")
	r = slipway(t, dir, env, "verify", "deploy/", "--pull-secret", "secret.yaml", "--format", "json", "--report", reportPath)
	if r.code != 1 {
		t.Fatalf("verify --pull-secret: exit %d\n%s", r.code, r.stderr)
	}
	var js jsonFindings
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("--format json: %v\n%s", err, r.stdout)
	}
	got := map[string][]string{}
	for _, f := range js.Findings {
		k := fmt.Sprintf("%d %s", f.Line, f.Container)
		got[k] = append(got[k], strings.TrimSpace(f.Severity+" "+f.Rule))
		if f.File != "deploy/app.yaml" {
			t.Errorf("finding file %q", f.File)
		}
	}
	want["23 private"] = []string{"ok"}
	checkVerdicts(t, "pull secret", got, want)
	if js.Images != 7 || js.OK != 2 || js.Errors != 4 || js.Warnings != 1 {
		t.Errorf("json summary: %+v", js)
	}
	rep := readReport(t, reportPath)
	if len(rep.Findings) != len(js.Findings) || rep.Success {
		t.Errorf("report: %d findings (want %d), success %v", len(rep.Findings), len(js.Findings), rep.Success)
	}
	for _, f := range rep.Findings {
		if f.Container == "web" && (f.Digest != webDigest || f.Line != 10 || len(f.Platforms) != 1 || f.Platforms[0] != "linux/amd64") {
			t.Errorf("report finding of web: %+v", f)
		}
	}

	// 3. Platforms: an amd64-only image on a cluster with arm64 nodes.
	r = slipway(t, dir, env, "verify", "--platform", "linux/amd64,linux/arm64", "other/")
	if r.code != 1 {
		t.Fatalf("verify --platform: exit %d\n%s", r.code, r.stderr)
	}
	checkVerdicts(t, "platforms", verdicts(t, r.stdout), map[string][]string{"8 multi": {"ok"}, "10 amd": {"error platform"}, "12 amdidx": {"error platform"}})
	for _, s := range []string{
		"container amdidx: " + A + "/lib/amdidx:1@" + amdIndex + ": error platform: no match for platform in manifest: the image has linux/amd64, not linux/arm64",
		"container amd: " + A + "/lib/amd:1@" + amdOnly + ": error platform: the image is a single linux/amd64 manifest, not linux/arm64",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}

	// 4. A rendered stream on stdin: findings name -:LINE.
	in := slipwayCmd(t, dir, env, "verify", "-")
	in.Stdin = strings.NewReader(platformsYAML)
	if r, err := runCmd(in); err != nil || r.code != 0 || !strings.HasPrefix(r.stdout, "-:8: Pod/plat container multi: ") {
		t.Errorf("verify -: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}

	// 5. A signature check of a reference alone reaches the registry through
	// slipway.yaml's ca_file too.
	r = slipway(t, dir, env, "verify", A+"/team/web:"+short)
	if r.code != 0 || strings.TrimSpace(r.stdout) != A+"/team/web:"+short+"@"+webDigest {
		t.Errorf("verify REF: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The verdicts agree with a node's runtime: every reference verify let
	// through (ok, warning, or an error about pinning or signing) pulls, and
	// every exists or platform error fails to pull.
	ctrd := testenv.StartContainerd(t)
	ctrd.TrustRegistry(t, A, pub.CAFile)
	ctrd.TrustRegistry(t, B, priv.CAFile)
	type check struct {
		ref, platform string
		pullable      bool
	}
	var checks []check
	for _, f := range js.Findings {
		checks = append(checks, check{f.Reference, "linux/amd64", !(f.Severity == "error" && f.Rule == "exists")})
	}
	checks = append(checks,
		check{A + "/lib/multi:1@" + multi, "linux/amd64", true}, check{A + "/lib/multi:1@" + multi, "linux/arm64", true},
		check{A + "/lib/amdidx:1@" + amdIndex, "linux/amd64", true}, check{A + "/lib/amdidx:1@" + amdIndex, "linux/arm64", false},
		// containerd does not check a lone manifest's platform: the pull
		// succeeds, and the container would not start (verify says so).
		check{A + "/lib/amd:1@" + amdOnly, "linux/amd64", true}, check{A + "/lib/amd:1@" + amdOnly, "linux/arm64", true})
	seen := map[string]bool{}
	for _, c := range checks {
		if seen[c.ref+c.platform] {
			continue
		}
		seen[c.ref+c.platform] = true
		o := testenv.PullOptions{Platform: c.platform}
		if strings.HasPrefix(c.ref, B+"/") {
			o.User = "puller:" + pullPassword
		}
		out, err := ctrd.Pull(context.Background(), c.ref, o)
		if pulled := err == nil; pulled != c.pullable {
			t.Errorf("containerd pull %s (%s): pulled %v, verify said pullable %v\n%s", c.ref, c.platform, pulled, c.pullable, out)
		}
	}
	// And without the credentials, the node fails on the private image as verify did.
	if out, err := ctrd.Pull(context.Background(), B+"/priv/app:1@"+private, testenv.PullOptions{Platform: "linux/amd64"}); err == nil {
		t.Errorf("containerd pulled the private image without credentials:\n%s", out)
	}
}

func TestPullSecretMatchesKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the comparison with kubectl create secret docker-registry is skipped")
	}
	dir := t.TempDir()
	env := []string{"DOCKER_CONFIG=" + dockerConfig(t, "registry.example.com:5000", "stored", "stored-pw-1"), "REGISTRY_AUTH_FILE=", "XDG_RUNTIME_DIR=", "XDG_CONFIG_HOME=" + t.TempDir()}
	for _, tc := range []struct {
		name, user, pass string
		args             []string
	}{
		{"flags", "ci", "s3cret:with:colons", []string{"-u", "ci", "--password-stdin", "-n", "team"}},
		{"stored", "stored", "stored-pw-1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := slipwayCmd(t, dir, env, append([]string{"pull-secret", "regcred", "--registry", "registry.example.com:5000"}, tc.args...)...)
			cmd.Stdin = strings.NewReader(tc.pass + "\n")
			r, err := runCmd(cmd)
			if err != nil || r.code != 0 {
				t.Fatalf("pull-secret: exit %d %v\n%s", r.code, err, r.stderr)
			}
			if strings.Contains(r.stderr, tc.pass) {
				t.Error("the password reached stderr")
			}
			kargs := []string{"create", "secret", "docker-registry", "regcred", "--docker-server=registry.example.com:5000",
				"--docker-username=" + tc.user, "--docker-password=" + tc.pass, "--dry-run=client", "-o", "yaml"}
			if tc.name == "flags" {
				kargs = append(kargs, "-n", "team")
			}
			want, err := exec.Command(kubectl, kargs...).Output()
			if err != nil {
				t.Fatalf("kubectl: %v", err)
			}
			if r.stdout != string(want) {
				t.Errorf("slipway:\n%s\nkubectl:\n%s", r.stdout, want)
			}
		})
	}
	r := slipway(t, dir, []string{"DOCKER_CONFIG=" + t.TempDir(), "REGISTRY_AUTH_FILE=", "XDG_RUNTIME_DIR=", "XDG_CONFIG_HOME=" + t.TempDir()},
		"pull-secret", "regcred", "--registry", "registry.example.com:5000")
	if r.code != 1 || !strings.Contains(r.stderr, "hint: slipway login registry.example.com:5000") {
		t.Errorf("no credentials: exit %d\n%s", r.code, r.stderr)
	}
}
