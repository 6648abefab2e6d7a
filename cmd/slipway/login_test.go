package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

func TestLogin(t *testing.T) {
	const user, pass = "deployer", "L0gin-Secret-99"
	r := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{user: pass}})
	for _, tc := range []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{name: "ok", stdin: pass + "\n", args: []string{"-u", user, "--password-stdin", "--ca-file", r.CAFile, r.Host}, wantStderr: "logged in to " + r.Host},
		{name: "wrong password", stdin: "not-" + pass + "\n", args: []string{"-u", user, "--password-stdin", "--ca-file", r.CAFile, r.Host}, wantCode: 1, wantStderr: "hint: check the credentials for " + r.Host},
		{name: "untrusted certificate", stdin: pass, args: []string{"-u", user, "--password-stdin", r.Host}, wantCode: 1, wantStderr: "ca_file"},
		{name: "no user", stdin: pass, args: []string{"--password-stdin", r.Host}, wantCode: 2, wantStderr: "--username is required"},
		{name: "no password source", args: []string{"-u", user, r.Host}, wantCode: 2, wantStderr: "--password-stdin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			docker := filepath.Join(dir, "docker")
			env := map[string]string{"DOCKER_CONFIG": docker, "HOME": dir}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var out, errb bytes.Buffer
			args := append([]string{"-C", dir, "login"}, tc.args...)
			code := run(context.Background(), args, &streams{stdin: strings.NewReader(tc.stdin), stdout: &out, stderr: &errb}, lookup)
			if code != tc.wantCode || !strings.Contains(errb.String(), tc.wantStderr) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errb.String(), tc.wantCode, tc.wantStderr)
			}
			if strings.Contains(out.String()+errb.String(), pass) {
				t.Errorf("the password is in the output:\n%s%s", out.String(), errb.String())
			}
			data, err := os.ReadFile(filepath.Join(docker, "config.json"))
			if tc.wantCode != 0 {
				if err == nil {
					t.Errorf("a failed login wrote config.json:\n%s", data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Auths map[string]struct{ Auth string } `json:"auths"`
			}
			if err := json.Unmarshal(data, &cfg); err != nil || cfg.Auths[r.Host].Auth == "" {
				t.Errorf("config.json (%v):\n%s", err, data)
			}
		})
	}
}
