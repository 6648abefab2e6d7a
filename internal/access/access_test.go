package access

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/project"
)

func TestNewFromProject(t *testing.T) {
	cfg := &project.Config{
		InsecureRegistries: []string{"plain.example.com"},
		Registry:           project.Registries{{URL: "reg.example.com:5000/team", CAFile: "/ca/a.pem"}},
		Images:             []project.Image{{Name: "x", Registry: project.Registries{{URL: "other.example.com/x", Insecure: true}}}},
	}
	a, err := New(cfg, Options{InsecureRegistries: []string{"flag.example.com"}, CAFiles: map[string]string{"flag.example.com": "/ca/b.pem"}, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	po := a.PushOptions()
	if po.CAFiles["reg.example.com:5000"] != "/ca/a.pem" || po.CAFiles["flag.example.com"] != "/ca/b.pem" {
		t.Errorf("CA files: %v", po.CAFiles)
	}
	for _, h := range []string{"plain.example.com", "other.example.com", "flag.example.com"} {
		if !a.Insecure(h) {
			t.Errorf("%s should be insecure", h)
		}
	}
	if a.Insecure("reg.example.com:5000") {
		t.Error("reg.example.com:5000 is not insecure")
	}
	if po.Retries != 3 || po.Keychain == nil {
		t.Errorf("retries %d keychain %v", po.Retries, po.Keychain)
	}
	r, err := a.ParseReference("plain.example.com/app:1")
	if err != nil || r.Context().Scheme() != "http" {
		t.Errorf("insecure host parsed as %v (%v)", r, err)
	}
	r, err = a.ParseReference("reg.example.com:5000/app:1")
	if err != nil || r.Context().Scheme() != "https" {
		t.Errorf("secure host parsed as %v (%v)", r, err)
	}
	if _, err := a.RemoteOptions(2); err == nil {
		t.Error("RemoteOptions with a missing CA file should fail")
	}
	if a.FromPullSecrets() {
		t.Error("no pull secret was given")
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func resolve(t *testing.T, kc authn.Keychain, repo string) (string, string) {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := kc.Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	if auth == authn.Anonymous {
		return "", ""
	}
	c, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return c.Username, c.Password
}

func TestPullSecretRoundTrip(t *testing.T) {
	out, err := PullSecret(SecretSpec{Name: "regcred", Namespace: "team", Server: "127.0.0.1:5000", Username: "u", Password: "p", ServiceAccount: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	// The Secret part byte for byte as kubectl 1.32 writes it.
	want := `apiVersion: v1
data:
  .dockerconfigjson: eyJhdXRocyI6eyIxMjcuMC4wLjE6NTAwMCI6eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJhdXRoIjoiZFRwdyJ9fX0=
kind: Secret
metadata:
  creationTimestamp: null
  name: regcred
  namespace: team
type: kubernetes.io/dockerconfigjson
---
apiVersion: v1
imagePullSecrets:
- name: regcred
kind: ServiceAccount
metadata:
  creationTimestamp: null
  name: deployer
  namespace: team
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	dir := t.TempDir()
	kc, err := PullSecretKeychain([]string{write(t, dir, "s.yaml", string(out))})
	if err != nil {
		t.Fatal(err)
	}
	if u, p := resolve(t, kc, "127.0.0.1:5000/team/app"); u != "u" || p != "p" {
		t.Errorf("got %q %q", u, p)
	}
	if u, _ := resolve(t, kc, "127.0.0.1:5001/team/app"); u != "" {
		t.Error("another port must not match")
	}
}

func TestPullSecretBad(t *testing.T) {
	for _, s := range []SecretSpec{
		{Name: "Bad_Name", Server: "r.example.com", Username: "u", Password: "p"},
		{Name: "ok", Namespace: "a.b", Server: "r.example.com", Username: "u", Password: "p"},
		{Name: "ok", Server: "https://r.example.com", Username: "u", Password: "p"},
		{Name: "ok", Server: "r.example.com/team", Username: "u", Password: "p"},
		{Name: "ok", Server: "r.example.com", Username: "u"},
	} {
		if _, err := PullSecret(s); err == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
}

func TestReadPullSecretForms(t *testing.T) {
	dir := t.TempDir()
	cfgJSON := `{"auths":{"r.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("au:ap")) + `"}}}`
	files := map[string]string{
		"data.json": `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"` +
			base64.StdEncoding.EncodeToString([]byte(cfgJSON)) + `"}}`,
		"string.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '" + cfgJSON + "'\n",
		"config.json": cfgJSON,
		"multi.yaml":  "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '" + cfgJSON + "'\n",
	}
	for f, content := range files {
		t.Run(f, func(t *testing.T) {
			kc, err := PullSecretKeychain([]string{write(t, dir, f, content)})
			if err != nil {
				t.Fatal(err)
			}
			if u, p := resolve(t, kc, "r.example.com/app"); u != "au" || p != "ap" {
				t.Errorf("got %q %q", u, p)
			}
			if u, _ := resolve(t, kc, "other.example.com/app"); u != "" {
				t.Error("other registry must be anonymous")
			}
		})
	}
	for f, content := range map[string]string{
		"opaque.yaml":  "apiVersion: v1\nkind: Secret\ntype: Opaque\ndata: {a: b}\n",
		"nokey.yaml":   "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata: {a: b}\n",
		"notb64.yaml":  "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: 'hunter2!!'}\n",
		"garbage.yaml": "hunter2: [",
		"badauth.json": `{"auths":{"r.example.com":{"auth":"aHVudGVyMg=="}}}`,
	} {
		_, err := PullSecretKeychain([]string{write(t, dir, f, content)})
		if err == nil {
			t.Errorf("%s: want an error", f)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error quotes the content: %v", f, err)
		}
	}
	if _, err := PullSecretKeychain([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing file: want an error")
	}
}

func TestSecretKeychainMatching(t *testing.T) {
	cfg := `{"auths":{
	  "https://index.docker.io/v1/": {"username":"hub","password":"1"},
	  "*.example.com": {"username":"glob","password":"2"},
	  "r.example.com/team": {"username":"team","password":"3"},
	  "r.example.com:5000": {"username":"port","password":"4"}}}`
	kc, err := PullSecretKeychain([]string{write(t, t.TempDir(), "c.json", cfg)})
	if err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]string{
		"nginx":                       "hub",
		"docker.io/bitnami/redis":     "hub",
		"r.example.com/team/app":      "team",
		"r.example.com/other":         "glob",
		"a.example.com/x":             "glob",
		"a.b.example.com/x":           "",
		"r.example.com:5000/team/app": "port",
		"r.example.com/teamster":      "glob",
		"registry.other.org/team/app": "",
	} {
		if u, _ := resolve(t, kc, repo); u != want {
			t.Errorf("%s: got user %q, want %q", repo, u, want)
		}
	}
}

func TestLocalCredentials(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "config.json", `{"auths":{"r.example.com":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("lu:lp"))+`"}}}`)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", dir)
	a, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, p, err := LocalCredentials(a.Keychain(), "r.example.com")
	if err != nil || u != "lu" || p != "lp" {
		t.Errorf("got %q %q %v", u, p, err)
	}
	if _, _, err := LocalCredentials(a.Keychain(), "none.example.com"); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("got %v, want ErrNoCredentials", err)
	}
}
