package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/doctor"
	"github.com/slipway-build/slipway/internal/testenv"
)

// TestDoctor runs the binary against a TLS registry with htpasswd, with
// the credentials `slipway login` stored, then with none.
func TestDoctor(t *testing.T) {
	testenv.RequireTools(t, "registry", "buildkitd", "runc")
	const user, pass = "release", "Doct0r-Integration-Pw"
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{user: pass}})
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry:\n  url: " + reg.Host + "/team\n  ca_file: " + reg.CAFile + "\nimages:\n  - name: web\n",
		"Dockerfile":   "FROM scratch\n",
	})
	docker := filepath.Join(t.TempDir(), "docker")
	env := []string{"DOCKER_CONFIG=" + docker, "BUILDKIT_HOST="}
	check := func(want map[string]doctor.Status, code int) doctor.Result {
		t.Helper()
		r := slipway(t, dir, env, "doctor", "--format", "json")
		if r.code != code {
			t.Errorf("exit %d, want %d\n%s\n%s", r.code, code, r.stdout, r.stderr)
		}
		var res doctor.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.stdout)
		}
		got := map[string]doctor.Status{}
		for _, c := range res.Checks {
			got[c.Name] = c.Status
		}
		for n, s := range want {
			if got[n] != s {
				t.Errorf("%s = %q, want %q (%+v)", n, got[n], s, res.Checks)
			}
		}
		if strings.Contains(r.stdout+r.stderr, pass) {
			t.Error("the password appears in doctor's output")
		}
		return res
	}
	repo := "registry " + reg.Host + "/team/web"
	res := check(map[string]doctor.Status{"project": doctor.OK, "git": doctor.OK, "buildkit": doctor.OK, repo: doctor.Error}, 1)
	for _, c := range res.Checks {
		if c.Name == repo && !strings.Contains(c.Fix, "slipway login "+reg.Host) {
			t.Errorf("fix without login advice: %q", c.Fix)
		}
	}

	login := slipwayCmd(t, dir, env, "login", "-u", user, "--password-stdin", reg.Host)
	login.Stdin = strings.NewReader(pass)
	if r, err := runCmd(login); err != nil || r.code != 0 {
		t.Fatalf("login: %v %+v", err, r)
	}
	check(map[string]doctor.Status{repo: doctor.OK}, 0)
	if _, err := os.Stat(filepath.Join(reg.Dir, "data", "docker", "registry", "v2", "repositories")); err == nil {
		t.Error("doctor wrote to the registry")
	}
}
