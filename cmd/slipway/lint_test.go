package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLintCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM alpine:latest\nUSER 1000\n")
	write("info.Dockerfile", "FROM alpine:3.20\nUSER 1000\n")
	empty := t.TempDir()
	badCfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(badCfg, "slipway.yaml"), []byte("registry: localhost:5000\nimages:\n  - name: web\nlint:\n  skip: [base-lates]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badCfg, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "error finding", args: []string{"-C", dir, "lint", "Dockerfile"}, wantCode: 1,
			wantStdout: []string{"Dockerfile:1:1: error base-latest: FROM alpine:latest uses :latest"},
			wantStderr: []string{"1 error, 0 warnings, 1 info in 1 Dockerfile", "findings at or above error"}},
		{name: "fail-on none", args: []string{"-C", dir, "lint", "--fail-on", "none", "Dockerfile"}, wantCode: 0},
		{name: "info passes by default", args: []string{"-C", dir, "lint", "info.Dockerfile"}, wantCode: 0,
			wantStdout: []string{"info.Dockerfile:1:1: info base-unpinned"}},
		{name: "fail-on info", args: []string{"-C", dir, "lint", "--fail-on", "info", "info.Dockerfile"}, wantCode: 1},
		{name: "json", args: []string{"-C", dir, "lint", "--format", "json", "info.Dockerfile"}, wantCode: 0,
			wantStdout: []string{`"rule": "base-unpinned"`, `"severity": "info"`, `"source": "slipway"`}},
		{name: "sarif", args: []string{"-C", dir, "lint", "--format", "sarif", "info.Dockerfile"}, wantCode: 0,
			wantStdout: []string{`"version": "2.1.0"`, `"ruleId": "base-unpinned"`, `"level": "note"`}},
		{name: "bad format", args: []string{"-C", dir, "lint", "--format", "xml", "Dockerfile"}, wantCode: 2, wantStderr: []string{"--format"}},
		{name: "bad fail-on", args: []string{"-C", dir, "lint", "--fail-on", "fatal", "Dockerfile"}, wantCode: 2, wantStderr: []string{"--fail-on"}},
		{name: "nothing to lint", args: []string{"-C", empty, "lint"}, wantCode: 2, wantStderr: []string{"slipway.yaml not found"}},
		{name: "missing path", args: []string{"-C", dir, "lint", "nope.yaml"}, wantCode: 1, wantStderr: []string{"nope.yaml"}},
		{name: "unknown rule in lint:", args: []string{"-C", badCfg, "lint"}, wantCode: 2,
			wantStderr: []string{"slipway.yaml:5:3: lint.skip: unknown rule \"base-lates\" (did you mean \"base-latest\"?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runForSign(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}
