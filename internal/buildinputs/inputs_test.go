package buildinputs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func paths(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestListAppliesDockerignoreAndOwnFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"Dockerfile":                "FROM scratch\n",
		".dockerignore":             "*.log\nnode_modules\n!keep.log\n",
		"app/main.go":               "package main\n",
		"debug.log":                 "x",
		"keep.log":                  "x",
		"node_modules/a/index.js":   "x",
		".slipway/store/index.json": "{}",
		"cosign.key":                "secret",
		"deploy/deployment.yaml":    "kind: Deployment\n",
		"we[i]rd*.txt":              "x",
	})
	in := Input{Context: root, Dockerfile: filepath.Join(root, "Dockerfile"),
		Own: []string{filepath.Join(root, ".slipway"), filepath.Join(root, "cosign.key"), filepath.Join(root, "deploy"), filepath.Join(root, "we[i]rd*.txt")}}
	got, err := List(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "Dockerfile", "app/main.go", "keep.log"}
	if !reflect.DeepEqual(paths(got), want) {
		t.Errorf("List = %v, want %v", paths(got), want)
	}
	wantPats := []string{".slipway", "cosign.key", "deploy", `we\[i\]rd\*.txt`}
	if got := in.OwnPatterns(); !reflect.DeepEqual(got, wantPats) {
		t.Errorf("OwnPatterns = %v, want %v", got, wantPats)
	}
}

func TestDockerfileSpecificIgnoreWins(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"build/web.Dockerfile":              "FROM scratch\n",
		"build/web.Dockerfile.dockerignore": "secret.txt\n",
		".dockerignore":                     "*\n",
		"secret.txt":                        "x",
		"a.txt":                             "x",
	})
	in := Input{Context: root, Dockerfile: filepath.Join(root, "build/web.Dockerfile")}
	if got := in.IgnoreFile(); got != filepath.Join(root, "build/web.Dockerfile.dockerignore") {
		t.Fatalf("IgnoreFile = %s", got)
	}
	got, err := List(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".dockerignore", "a.txt", "build/web.Dockerfile", "build/web.Dockerfile.dockerignore"}
	if !reflect.DeepEqual(paths(got), want) {
		t.Errorf("List = %v, want %v", paths(got), want)
	}
}

func TestDirtyIsPerImage(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"api/Dockerfile":         "FROM scratch\n",
		"api/main.go":            "package main\n",
		"web/Dockerfile":         "FROM scratch\n",
		"web/.dockerignore":      "*.md\n",
		"web/index.html":         "<p>",
		"deploy/deployment.yaml": "kind: Deployment\n",
		"Dockerfile":             "FROM scratch\n",
		"slipway.yaml":           "images: []\n",
	})
	git(t, root, "init", "-q")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "init")

	api := Input{Context: filepath.Join(root, "api"), Dockerfile: filepath.Join(root, "api/Dockerfile")}
	web := Input{Context: filepath.Join(root, "web"), Dockerfile: filepath.Join(root, "web/Dockerfile")}
	whole := Input{Context: root, Dockerfile: filepath.Join(root, "Dockerfile"),
		Own:     []string{filepath.Join(root, "deploy"), filepath.Join(root, "cosign.key"), filepath.Join(root, "cosign.pub")},
		OwnFile: func(p string) bool { return strings.HasSuffix(p, "report.json") }}
	ins := []Input{api, web, whole}

	check := func(name string, want [][]string) {
		t.Helper()
		got, err := Dirty(context.Background(), root, ins)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			for j := range want[i] {
				want[i][j] = filepath.Join(root, want[i][j])
			}
		}
		for i := range got {
			if len(got[i]) == 0 && len(want[i]) == 0 {
				continue
			}
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("%s: input %d dirty = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	check("clean", [][]string{nil, nil, nil})

	// slipway's own files and ignored files change nothing.
	write(t, root, map[string]string{
		"deploy/deployment.yaml": "kind: Deployment # bumped\n",
		"cosign.key":             "k", "cosign.pub": "p",
		"report.json":  "{}",
		"web/NOTES.md": "x",
	})
	check("own files", [][]string{nil, nil, {"web/NOTES.md"}})

	// An edit under api/ makes api (and the whole-tree image) dirty, not web.
	write(t, root, map[string]string{"api/main.go": "package main // edited\n"})
	check("api edit", [][]string{{"api/main.go"}, nil, {"api/main.go", "web/NOTES.md"}})

	// An untracked file in web's context is a change of web.
	write(t, root, map[string]string{"web/new.js": "x"})
	check("untracked", [][]string{{"api/main.go"}, {"web/new.js"}, {"api/main.go", "web/NOTES.md", "web/new.js"}})
}

func TestDirtyOutsideGit(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"Dockerfile": "FROM scratch\n"})
	got, err := Dirty(context.Background(), root, []Input{{Context: root, Dockerfile: filepath.Join(root, "Dockerfile")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("Dirty outside git = %v", got)
	}
}
