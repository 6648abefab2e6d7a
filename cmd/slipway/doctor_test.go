package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/doctor"
	"github.com/slipway-build/slipway/internal/testenv"
)

func TestDoctorCommand(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	bk := testenv.StartBuildkitd(t, "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("registry: "+reg.Host+"/team\nimages:\n  - name: web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, dir)
	envs := map[string]string{"HOME": dir, "BUILDKIT_HOST": bk.Addr, "DOCKER_CONFIG": filepath.Join(dir, "docker")}

	code, out, errs := runForSign(t, envs, "-C", dir, "doctor", "--format", "json")
	if code != 0 {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errs)
	}
	var res doctor.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	got := map[string]doctor.Status{}
	for _, c := range res.Checks {
		got[c.Name] = c.Status
	}
	for name, st := range map[string]doctor.Status{"project": doctor.OK, "git": doctor.OK, "buildkit": doctor.OK, "registry " + reg.Host + "/team/web": doctor.OK, "signing key": doctor.Skipped} {
		if got[name] != st {
			t.Errorf("%s = %q, want %q (all: %v)", name, got[name], st, got)
		}
	}
	if !res.OK {
		t.Error("ok is false")
	}

	// A dead daemon: an error, exit 1, and the fix in the text output.
	envs["BUILDKIT_HOST"] = "unix://" + filepath.Join(dir, "none.sock")
	code, out, errs = runForSign(t, envs, "-C", dir, "doctor")
	if code != 1 || !strings.Contains(out, "error    buildkit: ") || !strings.Contains(out, "fix: ") || !strings.Contains(errs, "doctor: 1 check failed") {
		t.Errorf("dead daemon: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runForSign(t, envs, "-C", dir, "doctor", "--format", "yaml"); code != 2 || !strings.Contains(errs, "--format") {
		t.Errorf("--format yaml: exit %d %s", code, errs)
	}
}
