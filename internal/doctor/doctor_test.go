package doctor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/testenv"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// keychain holds one user and password, for one registry.
type keychain struct{ host, user, pass string }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.user == "" || r.RegistryStr() != k.host {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

func env(dir string, vars map[string]string) Env {
	return Env{
		Dir: dir, File: filepath.Join(dir, "slipway.yaml"), Shown: "slipway.yaml",
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Timeout:   5 * time.Second,
		Access:    access.Options{Keychain: keychain{}},
	}
}

func find(t *testing.T, r Result, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func want(t *testing.T, c Check, status Status, msg, fix string) {
	t.Helper()
	if c.Status != status || !strings.Contains(c.Message, msg) || !strings.Contains(c.Fix, fix) {
		t.Errorf("%s: got %s %q (fix %q), want %s with %q (fix %q)", c.Name, c.Status, c.Message, c.Fix, status, msg, fix)
	}
}

func TestProjectAndGit(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	r := Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "project"), Error, "slipway.yaml not found", "slipway init")
	want(t, find(t, r, "git"), Error, "not in a git work tree", "git work tree")
	want(t, find(t, r, "registries"), Skipped, "does not load", "")
	if r.OK {
		t.Error("OK with errors")
	}

	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n    contxt: .\n")
	r = Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "project"), Error, "slipway.yaml:4", "docs/config.md")

	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n")
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")
	git(t, dir, "tag", "v1.2.3")
	r = Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "project"), OK, "1 image, 1 registry", "")
	want(t, find(t, r, "git"), OK, "tag v1.2.3", "")
	writeFile(t, filepath.Join(dir, "new.txt"), "x")
	r = Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "git"), Warning, "uncommitted", "-dirty")
	// Port 1 on loopback refuses: the registry check fails and says where.
	want(t, find(t, r, "registry 127.0.0.1:1/x/web"), Error, "connection refused", "127.0.0.1:1")
}

func TestRegistries(t *testing.T) {
	const user, pass = "ci", "D0ctor-Registry-Pass"
	tls := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{user: pass}})
	open := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry:\n  - url: "+tls.Host+"/team\n    ca_file: "+tls.CAFile+"\n  - "+open.Host+"/mirror\nimages:\n  - name: web\n")

	for _, tc := range []struct {
		name     string
		kc       keychain
		status   Status
		msg, fix string
	}{
		{"accepted", keychain{tls.Host, user, pass}, OK, "credentials accepted", ""},
		{"refused", keychain{tls.Host, user, "wrong"}, Error, "UNAUTHORIZED", "are refused"},
		{"none", keychain{}, Error, "UNAUTHORIZED", "no credentials found for " + tls.Host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := env(dir, nil)
			e.Access.Keychain = tc.kc
			r := Run(context.Background(), e)
			c := find(t, r, "registry "+tls.Host+"/team/web")
			want(t, c, tc.status, tc.msg, tc.fix)
			if strings.Contains(c.Message+c.Fix, pass) {
				t.Errorf("password in the output: %+v", c)
			}
			want(t, find(t, r, "registry "+open.Host+"/mirror/web"), OK, "without credentials", "")
		})
	}
	// Nothing was written: neither registry holds a repository.
	for _, r := range []*testenv.Registry{tls, open} {
		if _, err := os.Stat(filepath.Join(r.Dir, "data", "docker", "registry", "v2", "repositories")); err == nil {
			t.Errorf("registry %s has repositories after doctor", r.Host)
		}
	}
}

func TestBuildkit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n")
	bk := testenv.StartBuildkitd(t, "")
	r := Run(context.Background(), env(dir, map[string]string{"BUILDKIT_HOST": bk.Addr}))
	want(t, find(t, r, "buildkit"), OK, "answers at "+bk.Addr+" (from BUILDKIT_HOST)", "")
	if c := find(t, r, "buildkit"); !strings.Contains(c.Message, "BuildKit v0.") {
		t.Errorf("no daemon version: %q", c.Message)
	}

	dead := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nbuildkit:\n  host: "+dead+"\nimages:\n  - name: web\n")
	r = Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "buildkit"), Error, dead, "")

	// A private daemon: the programs are found in PATH.
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n")
	t.Setenv("PATH", filepath.Join(testenv.RepoRoot(t), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	e := env(dir, nil)
	r = Run(context.Background(), e)
	want(t, find(t, r, "buildkit"), OK, "private buildkitd", "")

	// Not root, on a kernel that refuses unprivileged user namespaces.
	testenv.RequireTools(t, "rootlesskit", "newuidmap")
	e.Euid = 1000
	e.ProcSys = t.TempDir()
	writeFile(t, filepath.Join(e.ProcSys, "kernel", "apparmor_restrict_unprivileged_userns"), "1\n")
	r = Run(context.Background(), e)
	want(t, find(t, r, "buildkit"), Error, "AppArmor", "BUILDKIT_HOST")
	writeFile(t, filepath.Join(e.ProcSys, "kernel", "apparmor_restrict_unprivileged_userns"), "0\n")
	r = Run(context.Background(), e)
	want(t, find(t, r, "buildkit"), OK, "rootless under", "")
}

func TestSigningKey(t *testing.T) {
	dir := t.TempDir()
	const pw = "d0ctor-key-pass"
	priv, pub, err := sign.GenerateKeyPair(func(bool) ([]byte, error) { return []byte(pw), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sign.WriteKeyPair(filepath.Join(dir, "cosign"), priv, pub); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\nsign:\n  key: cosign.key\n")
	for _, tc := range []struct {
		name     string
		vars     map[string]string
		status   Status
		msg, fix string
	}{
		{"password set", map[string]string{"COSIGN_PASSWORD": pw}, OK, "opens with COSIGN_PASSWORD", ""},
		{"password unset", nil, Warning, "COSIGN_PASSWORD is not set", "set COSIGN_PASSWORD"},
		{"wrong password", map[string]string{"COSIGN_PASSWORD": "nope"}, Error, "does not open it", "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := find(t, Run(context.Background(), env(dir, tc.vars)), "signing key")
			want(t, c, tc.status, tc.msg, tc.fix)
			if strings.Contains(c.Message+c.Fix, pw) {
				t.Errorf("password in the output")
			}
		})
	}
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\nsign:\n  key: missing.key\n")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "signing key"), Error, "missing.key", "")
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "signing key"), Skipped, "sign: is not set", "")
}

func TestBuildkitNodes(t *testing.T) {
	bk := testenv.StartBuildkitd(t, "")
	dead := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nbuildkit:\n  nodes:\n    - host: "+bk.Addr+"\n      platforms: [linux/amd64]\n    - host: "+dead+"\n      platforms: [linux/arm64]\nimages:\n  - name: web\n    platforms: [linux/amd64, linux/arm64]\n")
	r := Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "project"), OK, "", "")
	want(t, find(t, r, "buildkit node "+bk.Addr+" (linux/amd64)"), OK, "BuildKit v0.", "")
	want(t, find(t, r, "buildkit node "+dead+" (linux/arm64)"), Error, dead, "")
	if r.OK {
		t.Error("OK with a dead node")
	}
}

func TestScanner(t *testing.T) {
	dir := t.TempDir()
	cfg := func(scan string) {
		writeFile(t, filepath.Join(dir, "slipway.yaml"), "registry: 127.0.0.1:1/x\nimages:\n  - name: web\n"+scan)
	}
	// A PATH without trivy.
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	cfg("")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "scanner"), Skipped, "scan: is not set", "")
	cfg("scan:\n  skip: true\n")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "scanner"), Skipped, "scan.skip", "")
	cfg("scan:\n  fail-on: HIGH\n")
	r := Run(context.Background(), env(dir, nil))
	want(t, find(t, r, "scanner"), Error, "trivy not found", "Trivy")
	if r.OK {
		t.Error("OK without the scanner")
	}

	// A trivy on PATH: found and asked for its version.
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "trivy"), "#!/bin/sh\necho 'Version: 0.74.0'\n")
	if err := os.Chmod(filepath.Join(bin, "trivy"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/usr/bin:/bin")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "scanner"), Warning, "Version: 0.74.0; no scan.db", "scan.db")
	db := filepath.Join(dir, "trivy-cache")
	cfg("scan:\n  db: " + db + "\n")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "scanner"), Error, "holds no db/trivy.db", "download-db-only")
	writeFile(t, filepath.Join(db, "db", "trivy.db"), "")
	want(t, find(t, Run(context.Background(), env(dir, nil)), "scanner"), OK, "offline database in "+db, "")
}
