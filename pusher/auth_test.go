package pusher

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// cleanAuthEnv points every credentials location at empty temp folders.
func cleanAuthEnv(t *testing.T) (home string) {
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "run"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("DOCKER_AUTH_CONFIG", "")
	return home
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func authEntry(user, pass string) map[string]string {
	return map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
}

// fakeHelper installs docker-credential-fake, a credential helper that
// keeps one credential in a file, and returns that file.
func fakeHelper(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	store := filepath.Join(dir, "store.json")
	script := `#!/bin/sh
case "$1" in
get) cat >/dev/null; if [ -f "$FAKE_HELPER_STORE" ]; then cat "$FAKE_HELPER_STORE"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store) cat >"$FAKE_HELPER_STORE" ;;
erase) rm -f "$FAKE_HELPER_STORE" ;;
*) exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_HELPER_STORE", store)
	return store
}

func resolveBasic(t *testing.T, ref string) (string, string) {
	t.Helper()
	repo, err := name.NewRepository(ref)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Keychain().Resolve(repo)
	if err != nil {
		t.Fatal(err)
	}
	if a == authn.Anonymous {
		return "", ""
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth != "" {
		raw, _ := base64.StdEncoding.DecodeString(cfg.Auth)
		u, p, _ := strings.Cut(string(raw), ":")
		return u, p
	}
	return cfg.Username, cfg.Password
}

func TestKeychain(t *testing.T) {
	const host = "registry.example.com:5000"
	for _, tc := range []struct {
		name       string
		setup      func(t *testing.T, home string)
		ref        string
		user, pass string
	}{
		{"nothing is anonymous", func(t *testing.T, home string) {}, host + "/app", "", ""},
		{"docker config", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "docker", "config.json"), map[string]any{"auths": map[string]any{host: authEntry("du", "dp")}})
		}, host + "/app", "du", "dp"},
		{"repository entry wins", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "docker", "config.json"), map[string]any{"auths": map[string]any{
				host: authEntry("du", "dp"), host + "/team/app": authEntry("ru", "rp"),
			}})
		}, host + "/team/app", "ru", "rp"},
		{"REGISTRY_AUTH_FILE when docker has no entry", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "docker", "config.json"), map[string]any{"auths": map[string]any{"other.example.com": authEntry("x", "y")}})
			f := filepath.Join(home, "auth.json")
			writeJSON(t, f, map[string]any{"auths": map[string]any{host: authEntry("cu", "cp")}})
			t.Setenv("REGISTRY_AUTH_FILE", f)
		}, host + "/app", "cu", "cp"},
		{"containers auth.json in XDG_RUNTIME_DIR", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "run", "containers", "auth.json"), map[string]any{"auths": map[string]any{host: authEntry("xu", "xp")}})
		}, host + "/app", "xu", "xp"},
		{"containers auth.json in XDG_CONFIG_HOME", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "config", "containers", "auth.json"), map[string]any{"auths": map[string]any{host: authEntry("gu", "gp")}})
		}, host + "/app", "gu", "gp"},
		{"credential helper", func(t *testing.T, home string) {
			store := fakeHelper(t)
			writeJSON(t, store, map[string]string{"ServerURL": host, "Username": "hu", "Secret": "hp"})
			writeJSON(t, filepath.Join(home, "docker", "config.json"), map[string]any{"credHelpers": map[string]string{host: "fake"}})
		}, host + "/app", "hu", "hp"},
		{"docker hub key", func(t *testing.T, home string) {
			writeJSON(t, filepath.Join(home, "docker", "config.json"), map[string]any{"auths": map[string]any{authn.DefaultAuthKey: authEntry("hub", "hubp")}})
		}, "library/app", "hub", "hubp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := cleanAuthEnv(t)
			tc.setup(t, home)
			u, p := resolveBasic(t, tc.ref)
			if u != tc.user || p != tc.pass {
				t.Errorf("resolved %q/%q, want %q/%q", u, p, tc.user, tc.pass)
			}
		})
	}
}

// basicAuth puts HTTP basic auth in front of a fake registry, as
// distribution's htpasswd does.
func basicAuth(reg *fakeRegistry, user, pass string) {
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	}
}

func TestLoginThenPush(t *testing.T) {
	const user, pass = "ci-bot", "Pa55-w0rd-not-for-logs"
	home := cleanAuthEnv(t)
	reg := newFakeRegistry(t, nil)
	basicAuth(reg, user, pass)
	dir := filepath.Join(home, "docker")
	// Existing content the login must keep.
	writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{
		"auths":       map[string]any{"other.example.com": authEntry("o", "op")},
		"credHelpers": map[string]string{"gcr.io": "gcloud"},
		"psFormat":    "table {{.ID}}",
	})

	var debug bytes.Buffer
	opts := testOptions()
	opts.Debug = &debug

	t.Run("wrong password", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		err := Login(context.Background(), reg.host, user, "wrong-"+pass, dir, opts)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), pass) || !strings.Contains(Hint(err), "slipway login "+reg.host) {
			t.Errorf("err = %v, hint %q", err, Hint(err))
		}
		after, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		if !bytes.Equal(before, after) {
			t.Error("a failed login changed config.json")
		}
	})

	if err := Login(context.Background(), reg.host, user, pass, dir, opts); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want 0600", fi.Mode().Perm())
	}
	// docker's own loader reads it, with the old content intact.
	cf, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := cf.GetAuthConfig(reg.host)
	if err != nil || ac.Username != user || ac.Password != pass {
		t.Errorf("docker reads %q/%q (%v)", ac.Username, ac.Password, err)
	}
	if cf.PsFormat != "table {{.ID}}" || cf.CredentialHelpers["gcr.io"] != "gcloud" || cf.AuthConfigs["other.example.com"].Username != "o" {
		t.Errorf("other content lost: %+v", cf)
	}

	// Push finds the credentials through the default keychain.
	opts.Keychain = nil
	img := randomImage(t, 1024, 2)
	if _, err := Push(context.Background(), img, []name.Tag{reg.ref(t, "app:v1")}, opts); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.resolveTag("app", "v1"); got != digestOf(t, img) {
		t.Errorf("v1 → %s", got)
	}

	// And without them the push fails with a hint, before any tag.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err = Push(context.Background(), img, []name.Tag{reg.ref(t, "app:v2")}, opts)
	if !errors.Is(err, ErrUnauthorized) || Hint(err) == "" {
		t.Errorf("anonymous push: err = %v, hint %q", err, Hint(err))
	}

	secret := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, bad := range []string{pass, secret, "Authorization", "Basic "} {
		if strings.Contains(debug.String(), bad) {
			t.Errorf("debug log contains %q", bad)
		}
	}
	if !strings.Contains(debug.String(), "PUT http://"+reg.host) {
		t.Errorf("debug log is empty:\n%s", debug.String())
	}
}

func TestLoginWithCredentialHelper(t *testing.T) {
	home := cleanAuthEnv(t)
	store := fakeHelper(t)
	reg := newFakeRegistry(t, nil)
	basicAuth(reg, "u", "p")
	dir := filepath.Join(home, "docker")
	writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"credsStore": "fake"})
	if err := Login(context.Background(), reg.host, "u", "p", dir, testOptions()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString([]byte("u:p")))) || !bytes.Contains(data, []byte(reg.host)) {
		t.Errorf("config.json:\n%s", data)
	}
	held, _ := os.ReadFile(store)
	if !bytes.Contains(held, []byte(`"Secret":"p"`)) {
		t.Errorf("helper holds %s", held)
	}
	if u, p := resolveBasic(t, reg.host+"/app"); u != "u" || p != "p" {
		t.Errorf("keychain resolves %q/%q", u, p)
	}
}
