package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/sign"
)

const keygenTestPassword = "k3ygen-PASSW0RD-test"

// runForSign runs slipway in-process with only the given environment and
// an empty, non-terminal stdin.
func runForSign(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code = run(context.Background(), args, &streams{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, lookup)
	return code, out.String(), errb.String()
}

func TestKeygen(t *testing.T) {
	pwEnv := map[string]string{sign.PasswordEnv: keygenTestPassword}
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		existing   string // file present before the run
		wantCode   int
		wantFiles  []string
		wantStderr string
	}{
		{name: "default prefix", env: pwEnv, args: nil, wantFiles: []string{"cosign.key", "cosign.pub"}},
		{name: "prefix", env: pwEnv, args: []string{"--output-key-prefix", "keys/release"}, existing: "keys/", wantFiles: []string{"keys/release.key", "keys/release.pub"}},
		{name: "empty password allowed", env: map[string]string{sign.PasswordEnv: ""}, wantFiles: []string{"cosign.key", "cosign.pub"}},
		{name: "no password source", env: nil, wantCode: 1, wantStderr: "hint: set COSIGN_PASSWORD"},
		{name: "refuses to overwrite", env: pwEnv, existing: "cosign.pub", wantCode: 1, wantStderr: "hint: remove the old key pair"},
		{name: "arguments", env: pwEnv, args: []string{"extra"}, wantCode: 2, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.existing != "" {
				p := filepath.Join(dir, tt.existing)
				if strings.HasSuffix(tt.existing, "/") {
					if err := os.MkdirAll(p, 0o755); err != nil {
						t.Fatal(err)
					}
				} else if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"-C", dir, "keygen"}, tt.args...)
			code, stdout, stderr := runForSign(t, tt.env, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.wantStderr)
			}
			if strings.Contains(stdout+stderr, keygenTestPassword) {
				t.Error("output shows the password")
			}
			var want []string
			for _, f := range tt.wantFiles {
				want = append(want, filepath.Join(dir, f))
			}
			if got := strings.Fields(stdout); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("stdout = %q, want the paths %v", stdout, want)
			}
			if tt.wantCode != 0 {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if e.Name() != strings.TrimSuffix(tt.existing, "/") {
						t.Errorf("failed keygen left %s", e.Name())
					}
				}
				return
			}
			// The pair works: the private key loads with the password and
			// its public key is the .pub written.
			s, err := sign.LoadSigner(context.Background(), want[0], func(bool) ([]byte, error) {
				return []byte(tt.env[sign.PasswordEnv]), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := os.ReadFile(want[1])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.PublicKeyPEM(), pub) {
				t.Error(".pub does not match .key")
			}
			_, err = sign.LoadSigner(context.Background(), want[0], func(bool) ([]byte, error) { return []byte("nope"), nil })
			if !errors.Is(err, sign.ErrWrongPassword) {
				t.Errorf("LoadSigner with a wrong password = %v, want ErrWrongPassword", err)
			}
		})
	}
}
