// Package integration runs the built slipway binary end to end against
// real buildkitd, registry and cosign (see internal/testenv).
package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// slipway runs the binary in dir with extra environment.
func slipway(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r, err := runCmd(slipwayCmd(t, dir, env, args...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// slipwayCmd is the command slipway runs, for tests that give it stdin,
// signal it or swap the binary. A PATH in env replaces the default one.
func slipwayCmd(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testenv.Slipway(t), args...)
	cmd.Dir = dir
	// The tools that make tools builds (buildkitd, runc's wrapper...) are
	// found in PATH, as they would be on a user's machine.
	path := filepath.Join(testenv.RepoRoot(t), "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	cmd.Env = append(append(os.Environ(), "PATH="+path), env...)
	return cmd
}

// runCmd runs cmd to its end; only a failure to start it is an error.
func runCmd(cmd *exec.Cmd) (result, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return result{}, err
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}, nil
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitProject makes a committed git repository holding files.
func gitProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "init")
	return dir
}

func TestTagsPlan(t *testing.T) {
	dir := gitProject(t, map[string]string{"slipway.yaml": `
registry: localhost:5000/team
tags: ["{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.ShortCommit}}", "{{.Branch}}"]
images:
  - name: web
  - name: tools/worker
    registry: [registry.example.com:5000/x, mirror.example.com]
`})
	git(t, dir, "tag", "v1.4.2")
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")

	r := slipway(t, dir, nil, "tags")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := strings.Join([]string{
		"localhost:5000/team/web:1.4.2",
		"localhost:5000/team/web:1.4",
		"localhost:5000/team/web:" + short,
		"localhost:5000/team/web:main",
		"registry.example.com:5000/x/tools/worker:1.4.2",
		"registry.example.com:5000/x/tools/worker:1.4",
		"registry.example.com:5000/x/tools/worker:" + short,
		"registry.example.com:5000/x/tools/worker:main",
		"mirror.example.com/tools/worker:1.4.2",
		"mirror.example.com/tools/worker:1.4",
		"mirror.example.com/tools/worker:" + short,
		"mirror.example.com/tools/worker:main",
	}, "\n") + "\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = slipway(t, dir, nil, "tags", "--json", "web")
	var doc struct {
		SchemaVersion int
		Images        []struct {
			Name string
			Refs []string
			Tags []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if doc.SchemaVersion != 1 || len(doc.Images) != 1 || doc.Images[0].Name != "web" || len(doc.Images[0].Refs) != 4 {
		t.Errorf("--json: %+v", doc)
	}

	// A dirty tree never yields a tag that claims to be the clean commit.
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("registry: localhost:5000\nimages: [{name: web}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = slipway(t, dir, nil, "tags")
	if r.code != 0 || r.stdout != "localhost:5000/web:"+short+"-dirty\n" {
		t.Errorf("dirty: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestBadUsageAndConfig(t *testing.T) {
	dir := gitProject(t, map[string]string{"slipway.yaml": `
registry: localhost:5000
images:
  - name: Web
    contxt: .
  - name: api
    tags: ["{{.ShortCommit}}/x"]
`})
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"all config problems at once", []string{"tags"}, 2, []string{
			"slipway: loading slipway.yaml: 2 problems",
			`slipway.yaml:4:11: images[0].name: "Web" is not a valid image name: it must be lowercase`,
			`slipway.yaml:5:5: images[0]: unknown field "contxt" (did you mean "context"?)`,
		}},
		{"unknown command", []string{"tag"}, 2, []string{`slipway: unknown command "tag" (did you mean "tags"?)`, "hint: see slipway help"}},
		{"unknown flag", []string{"tags", "--nope"}, 2, []string{"slipway: unknown flag: --nope", "hint: see slipway tags --help"}},
		{"bad progress", []string{"tags", "--progress", "fancy"}, 2, []string{`--progress: "fancy" is not one of`}},
		{"missing file", []string{"-f", "nope.yaml", "tags"}, 2, []string{"nope.yaml not found", "hint:"}},
		{"missing -C dir", []string{"-C", "nowhere", "tags"}, 2, []string{"-C: nowhere is not a folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := slipway(t, dir, nil, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout must be empty on error, got %q", r.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

func TestInvalidRenderedTag(t *testing.T) {
	dir := gitProject(t, map[string]string{"slipway.yaml": `
registry: localhost:5000
images:
  - name: api
    tags: ["{{.ShortCommit}}/x"]
`})
	r := slipway(t, dir, nil, "tags")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, `{{.ShortCommit}}/x`) {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestOutsideGit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte("registry: localhost:5000\ntags: [latest, '{{.ShortCommit}}']\nimages: [{name: web}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := slipway(t, dir, []string{"GIT_CEILING_DIRECTORIES=" + filepath.Dir(dir)}, "tags")
	if r.code != 2 || !strings.Contains(r.stderr, "git") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := slipway(t, t.TempDir(), nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "slipway ") || !strings.Contains(r.stdout, "go:       go1.") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
	r = slipway(t, t.TempDir(), nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "tags") {
		t.Errorf("help: %d %q", r.code, r.stdout)
	}
	r = slipway(t, t.TempDir(), nil, "tags", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--json") || !strings.Contains(r.stdout, "--file") {
		t.Errorf("tags --help: %d %q", r.code, r.stdout)
	}
}
