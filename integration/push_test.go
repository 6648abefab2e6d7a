package integration

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/testenv"
)

const pushPassword = "push-secret-pw-7c1f"

// builtProject is a committed project with slipway.yaml and one FROM
// scratch image, web, built into its store. It returns the folder and the
// image's digest.
func builtProject(t *testing.T, slipwayYAML string) (dir, digest string) {
	t.Helper()
	testenv.RequireTools(t, "buildkitd", "registry", "runc")
	dir = gitProject(t, map[string]string{
		"slipway.yaml": slipwayYAML,
		"Dockerfile":   "FROM scratch\nCOPY payload.txt /\n",
		"payload.txt":  "what gets pushed\n",
	})
	r := slipway(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome}, "build", "--progress", "quiet")
	m := buildLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("build: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	return dir, m[1]
}

// dockerConfig writes a docker config.json holding user:password for host
// into a new folder, for DOCKER_CONFIG.
func dockerConfig(t *testing.T, host, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkResolves fails unless every ref resolves to digest on reg.
func checkResolves(t *testing.T, reg *testenv.Registry, auth authn.Authenticator, digest string, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		desc, err := remote.Head(mustTag(t, ref), remote.WithTransport(reg.Transport()), remote.WithAuth(auth))
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if desc.Digest.String() != digest {
			t.Errorf("%s resolves to %s, want %s", ref, desc.Digest, digest)
		}
	}
}

// pushedLines is the stdout push must print: REF@DIGEST per reference.
func pushedLines(digest string, refs ...string) string {
	var b strings.Builder
	for _, ref := range refs {
		b.WriteString(ref + "@" + digest + "\n")
	}
	return b.String()
}

// tlsProject is a built project whose registry is reg (TLS, htpasswd) with
// its CA, or without it when withCA is false.
func tlsProject(t *testing.T, reg *testenv.Registry, withCA bool) (dir, digest string) {
	t.Helper()
	yaml := fmt.Sprintf("registry:\n  - url: %s/team\n", reg.Host)
	if withCA {
		yaml += fmt.Sprintf("    ca_file: %q\n", reg.CAFile)
	}
	yaml += "tags: [\"{{.ShortCommit}}\", latest]\nimages: [{name: web}]\n"
	return builtProject(t, yaml)
}

func TestPushTLSAuth(t *testing.T) {
	testenv.RequireTools(t, "registry")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": pushPassword}})
	dir, digest := tlsProject(t, reg, true)
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	refs := []string{reg.Host + "/team/web:" + short, reg.Host + "/team/web:latest"}
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + t.TempDir()}

	// slipway login writes the docker config, taking the CA from slipway.yaml.
	login := slipwayCmd(t, dir, env, "login", reg.Host, "-u", "ci", "--password-stdin")
	login.Stdin = strings.NewReader(pushPassword + "\n")
	r, err := runCmd(login)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("login: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, pushPassword) {
		t.Error("login printed the password")
	}

	reportPath := filepath.Join(t.TempDir(), "report.json")
	r = slipway(t, dir, env, "push", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("push: exit %d\n%s", r.code, r.stderr)
	}
	if want := pushedLines(digest, refs...); r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if strings.Contains(r.stdout+r.stderr, pushPassword) {
		t.Error("push printed the password")
	}
	auth := &authn.Basic{Username: "ci", Password: pushPassword}
	checkResolves(t, reg, auth, digest, refs...)
	img := readReport(t, reportPath).Image("web")
	if img == nil || img.Digest != digest || img.BytesUploaded <= 0 || img.BlobsUploaded <= 0 {
		t.Errorf("report of the first push: %+v", img)
	}

	// Again: everything is there, nothing is uploaded.
	r = slipway(t, dir, env, "push", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("second push: exit %d\n%s", r.code, r.stderr)
	}
	if want := pushedLines(digest, refs...); r.stdout != want {
		t.Errorf("second push stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	img = readReport(t, reportPath).Image("web")
	if img == nil || img.BlobsUploaded != 0 || img.BytesUploaded != 0 {
		t.Errorf("the second push uploaded: %+v", img)
	}
	checkResolves(t, reg, auth, digest, refs...)
}

func TestPushWrongPassword(t *testing.T) {
	testenv.RequireTools(t, "registry")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": pushPassword}})
	dir, _ := tlsProject(t, reg, true)
	const wrong = "not-the-push-password-93be"
	secrets := []string{
		wrong, pushPassword,
		base64.StdEncoding.EncodeToString([]byte("ci:" + wrong)),
	}
	check := func(t *testing.T, r result) {
		t.Helper()
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "hint: check the credentials for "+reg.Host) {
			t.Errorf("no hint about credentials:\n%s", r.stderr)
		}
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("the output holds the secret %q", s)
			}
		}
	}
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprintf("push debug=%v", debug), func(t *testing.T) {
			env := []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + dockerConfig(t, reg.Host, "ci", wrong)}
			args := []string{"push", "--progress", "plain"}
			if debug {
				args = append(args, "--debug")
			}
			check(t, slipway(t, dir, env, args...))
		})
		t.Run(fmt.Sprintf("login debug=%v", debug), func(t *testing.T) {
			cfgDir := t.TempDir()
			args := []string{"login", reg.Host, "-u", "ci", "--password-stdin"}
			if debug {
				args = append(args, "--debug")
			}
			login := slipwayCmd(t, dir, []string{"DOCKER_CONFIG=" + cfgDir}, args...)
			login.Stdin = strings.NewReader(wrong + "\n")
			r, err := runCmd(login)
			if err != nil {
				t.Fatal(err)
			}
			check(t, r)
			if _, err := os.Stat(filepath.Join(cfgDir, "config.json")); err == nil {
				t.Error("a failed login wrote the docker config")
			}
		})
	}
	auth := &authn.Basic{Username: "ci", Password: pushPassword}
	if _, err := remote.Head(mustTag(t, reg.Host+"/team/web:latest"), remote.WithTransport(reg.Transport()), remote.WithAuth(auth)); err == nil {
		t.Error("the image was pushed with the wrong password")
	}
}

func TestPushNoCAFile(t *testing.T) {
	testenv.RequireTools(t, "registry")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": pushPassword}})
	dir, _ := tlsProject(t, reg, false)
	env := []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + dockerConfig(t, reg.Host, "ci", pushPassword)}
	r := slipway(t, dir, env, "push", "--progress", "plain")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, "CA") || !strings.Contains(r.stderr, "ca_file") {
		t.Errorf("no hint about the CA:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pushPassword) {
		t.Error("the output holds the password")
	}
}

func TestPushSeveralRegistries(t *testing.T) {
	testenv.RequireTools(t, "registry")
	primary := testenv.StartRegistry(t, testenv.RegistryOptions{})
	mirror := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir, digest := builtProject(t, fmt.Sprintf(
		"registry: [%s/team, %s/mirror/team]\ntags: [\"{{.ShortCommit}}\", latest]\nimages: [{name: web}]\n",
		primary.Host, mirror.Host))
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	onPrimary := []string{primary.Host + "/team/web:" + short, primary.Host + "/team/web:latest"}
	onMirror := []string{mirror.Host + "/mirror/team/web:" + short, mirror.Host + "/mirror/team/web:latest"}

	reportPath := filepath.Join(t.TempDir(), "report.json")
	r := slipway(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + t.TempDir()}, "push", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("push: exit %d\n%s", r.code, r.stderr)
	}
	if want := pushedLines(digest, append(onPrimary, onMirror...)...); r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	checkResolves(t, primary, authn.Anonymous, digest, onPrimary...)
	checkResolves(t, mirror, authn.Anonymous, digest, onMirror...)
	img := readReport(t, reportPath).Image("web")
	if img == nil || strings.Join(img.Registries, " ") != primary.Host+" "+mirror.Host {
		t.Errorf("report registries: %+v", img)
	}
}
