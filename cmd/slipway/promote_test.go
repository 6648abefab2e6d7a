package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPromoteUsage(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "release.json")
	if err := os.WriteFile(rep, []byte(`{"schemaVersion": 1, "command": "release", "images": [{"name": "web", "repository": "127.0.0.1:1/staging/web", "tags": ["1.0"], "refs": ["127.0.0.1:1/staging/web:1.0"]}], "success": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"nothing", nil, "give --from REPORT --to REGISTRY[/PATH], or SRC_REF DST_REPO"},
		{"from without to", []string{"--from", rep}, "--from needs --to"},
		{"to without from", []string{"--to", "127.0.0.1:1/prod", "a", "b"}, "--to goes with --from"},
		{"bad tag", []string{"--from", rep, "--to", "127.0.0.1:1/prod", "--tag", "no good"}, `--tag "no good"`},
		{"bad destination", []string{"--from", rep, "--to", "127.0.0.1:1/Prod@x"}, "--to:"},
		{"image not in the report", []string{"--from", rep, "--to", "127.0.0.1:1/prod", "api"}, "image api is not in the report"},
		{"no pushed digest", []string{"--from", rep, "--to", "127.0.0.1:1/prod"}, "no pushed image"},
		{"bad pin", []string{"--from", rep, "--to", "127.0.0.1:1/prod", "--pin", "sha"}, "--pin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			lookup := func(k string) (string, bool) { return "", false }
			args := append([]string{"-C", dir, "promote"}, tc.args...)
			code := run(context.Background(), args, &streams{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, lookup)
			if code != 2 || !strings.Contains(errb.String(), tc.wantStderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errb.String(), tc.wantStderr)
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %q", out.String())
			}
		})
	}
}
