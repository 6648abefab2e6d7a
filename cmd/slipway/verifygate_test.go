package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyGateCommand(t *testing.T) {
	host := signTestRegistry(t)
	ok := pushSignTestImage(t, host, "team/app", "1.0")
	dir := t.TempDir()
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: app
        image: ` + host + `/team/app:1.0@` + ok.DigestStr() + `
      - name: gone
        image: ` + host + `/team/app:2.0
`
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "app.yaml"), []byte(deploy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("registry: "+host+"/team\nimages: [{name: app}]\nmanifests:\n  - paths: [deploy/]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runIn := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		lookup := func(k string) (string, bool) { return "", false }
		code := run(context.Background(), append([]string{"-C", dir, "verify"}, args...), &streams{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, lookup)
		return code, out.String(), errb.String()
	}
	wantLines := []string{
		"deploy/app.yaml:10: Deployment/app container app: " + host + "/team/app:1.0@" + ok.DigestStr() + ": ok",
		"deploy/app.yaml:12: Deployment/app container gone: " + host + "/team/app:2.0: error exists: tag 2.0 not found in " + host + "/team/app",
	}
	for _, args := range [][]string{{"deploy"}, nil} {
		code, stdout, stderr := runIn("", args...)
		if code != 1 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 2 || lines[0] != wantLines[0] || !strings.HasPrefix(lines[1], wantLines[1]) {
			t.Errorf("%v: stdout:\n%s", args, stdout)
		}
		if !strings.Contains(stderr, "slipway: 2 images: 1 ok, 0 warnings, 1 error") || !strings.Contains(stderr, "hint: deploy/app.yaml:12:") {
			t.Errorf("%v: stderr:\n%s", args, stderr)
		}
	}

	// stdin, as JSON.
	code, stdout, stderr := runIn(deploy, "-", "--format", "json")
	var res struct {
		Findings []struct{ File, Severity, Rule string }
		Images   int
	}
	if code != 1 || json.Unmarshal([]byte(stdout), &res) != nil || res.Images != 2 || len(res.Findings) != 2 || res.Findings[0].File != "-" || res.Findings[1].Rule != "exists" {
		t.Errorf("stdin json: exit %d %+v\n%s%s", code, res, stdout, stderr)
	}

	// A clean manifest passes.
	if err := os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte(strings.Split(deploy, "      - name: gone")[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runIn("", "ok.yaml"); code != 0 || !strings.Contains(stderr, "1 image: 1 ok") {
		t.Errorf("clean manifest: exit %d\n%s%s", code, stdout, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--platform", "linux/", "deploy"}, "--platform"},
		{[]string{"--pull-secret", "missing.yaml", "deploy"}, "--pull-secret"},
		{[]string{"--format", "xml", "deploy"}, "--format"},
		{[]string{"--jobs", "0", "deploy"}, "--jobs"},
	} {
		if code, _, stderr := runIn("", tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 naming %s\n%s", tc.args, code, tc.want, stderr)
		}
	}
}
