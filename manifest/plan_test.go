package manifest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const deployWeb = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: registry.example.com:5000/team/web:2.3.1 # app
`

var webImage = []Image{{Repository: "registry.example.com:5000/team/web", Tag: "2.4.0"}}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"deploy/web.yaml", "deploy/db.yml", "deploy/api.JSON", "deploy/README.md",
		"deploy/overlays/prod/Kustomization", "deploy/.git/config.yaml", "deploy/.hidden.yaml",
		"deploy/.cache/x.yaml", "other/notes.txt", "outside/target.yaml", "outside/dir/inner.yaml",
	} {
		write(t, filepath.Join(dir, f), "a: 1\n", 0o644)
	}
	if err := os.Symlink("../outside/target.yaml", filepath.Join(dir, "deploy/link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside/dir", filepath.Join(dir, "deploy/linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing.yaml", filepath.Join(dir, "deploy/dangling.yaml")); err != nil {
		t.Fatal(err)
	}
	p := func(s string) string { return filepath.Join(dir, s) }
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{
			name: "directory walked recursively",
			args: []string{p("deploy")},
			want: []string{p("deploy/api.JSON"), p("deploy/db.yml"), p("deploy/link.yaml"), p("deploy/overlays/prod/Kustomization"), p("deploy/web.yaml")},
		},
		{
			name: "file taken whatever its name, duplicates removed, sorted",
			args: []string{p("other/notes.txt"), p("deploy/web.yaml"), p("deploy/./web.yaml"), p("deploy/db.yml")},
			want: []string{p("deploy/db.yml"), p("deploy/web.yaml"), p("other/notes.txt")},
		},
		{
			name: "glob",
			args: []string{p("deploy/*.yml"), p("deploy/[lw]*.yaml")},
			want: []string{p("deploy/db.yml"), p("deploy/link.yaml"), p("deploy/web.yaml")},
		},
		{name: "dangling symlink named", args: []string{p("deploy/dangling.yaml")}, wantErr: "dangling.yaml"},
		{
			name: "glob matching a folder walks it",
			args: []string{p("deploy/overlay*")},
			want: []string{p("deploy/overlays/prod/Kustomization")},
		},
		{
			name: "folder named through a symlink",
			args: []string{p("deploy/linkdir")},
			want: []string{p("deploy/linkdir/inner.yaml")},
		},
		{name: "missing path", args: []string{p("nope.yaml")}, wantErr: "nope.yaml"},
		{name: "glob matching nothing", args: []string{p("deploy/*.toml")}, wantErr: "no file matches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Files(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Files = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPlanApply(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "deploy/web.yaml"), deployWeb, 0o640)
	write(t, filepath.Join(dir, "deploy/svc.yaml"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n", 0o644)
	write(t, filepath.Join(dir, "real/target.yaml"), strings.ReplaceAll(deployWeb, "name: web\n", "name: linked\n"), 0o600)
	if err := os.Symlink("../real/target.yaml", filepath.Join(dir, "deploy/link.yaml")); err != nil {
		t.Fatal(err)
	}
	files, err := Files([]string{filepath.Join(dir, "deploy")})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Plan(context.Background(), files, webImage, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantChanged := []string{filepath.Join(dir, "deploy/link.yaml"), filepath.Join(dir, "deploy/web.yaml")}
	if got := ch.Changed(); !reflect.DeepEqual(got, wantChanged) {
		t.Fatalf("Changed = %q, want %q", got, wantChanged)
	}
	edits := ch.Edits()
	if len(edits) != 2 || edits[0].Object != "Deployment/linked" || edits[1].File != filepath.Join(dir, "deploy/web.yaml") || edits[1].Line != 10 {
		t.Fatalf("Edits = %+v", edits)
	}
	// Planning writes nothing.
	if b, _ := os.ReadFile(filepath.Join(dir, "deploy/web.yaml")); string(b) != deployWeb {
		t.Fatal("Plan wrote a file")
	}
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(deployWeb, "web:2.3.1", "web:2.4.0")
	checkFile(t, filepath.Join(dir, "deploy/web.yaml"), want, 0o640)
	// The link is still a link, and its target got the new bytes.
	if fi, err := os.Lstat(filepath.Join(dir, "deploy/link.yaml")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link.yaml is no longer a symlink: %v %v", fi.Mode(), err)
	}
	checkFile(t, filepath.Join(dir, "real/target.yaml"), strings.ReplaceAll(want, "name: web\n", "name: linked\n"), 0o600)
	checkNoTemp(t, dir)

	// A second plan finds nothing to change, though the image is still
	// referenced; an image referenced nowhere is reported.
	other := Image{Repository: "nginx", Tag: "1"}
	ch, err = Plan(context.Background(), files, append([]Image{other}, webImage...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Changed()) != 0 || len(ch.Edits()) != 0 {
		t.Fatalf("second plan: changed %q edits %+v", ch.Changed(), ch.Edits())
	}
	if !reflect.DeepEqual(ch.Unmatched, []Image{other}) {
		t.Errorf("Unmatched = %+v, want only %+v", ch.Unmatched, other)
	}
}

func checkFile(t *testing.T, path, want string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s:\n%s\nwant:\n%s", path, b, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".slipway-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
}

func TestPlanAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "a-good.yaml")
	bad := filepath.Join(dir, "b-bad.yaml")
	alsoBad := filepath.Join(dir, "c-bad.json")
	write(t, good, deployWeb, 0o644)
	write(t, bad, "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n    {image: nginx\n", 0o644)
	write(t, alsoBad, "{\"apiVersion\": \"v1\",\n \"kind\": [\"Pod\"}\n", 0o644)
	_, err := Plan(context.Background(), []string{good, bad, alsoBad, filepath.Join(dir, "d-missing.yaml")}, webImage, Options{})
	if err == nil {
		t.Fatal("Plan succeeded with unparsable files")
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != bad || fe.Line == 0 {
		t.Fatalf("error %v: want a *FileError naming %s with a line", err, bad)
	}
	for _, want := range []string{bad + ":5:13: cannot parse YAML", alsoBad + ":2:11: cannot parse YAML", "d-missing.yaml: reading:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestApplyAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	write(t, a, deployWeb, 0o644)
	write(t, b, deployWeb, 0o644)
	ch, err := Plan(context.Background(), []string{a, b}, webImage, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Changed()) != 2 {
		t.Fatalf("changed %q", ch.Changed())
	}
	// b changes after the plan: nothing may be written, a included.
	edited := deployWeb + "# edited meanwhile\n"
	write(t, b, edited, 0o644)
	err = ch.Apply(context.Background())
	if err == nil || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "changed since") {
		t.Fatalf("Apply error %v, want one naming %s", err, b)
	}
	checkFile(t, a, deployWeb, 0o644)
	checkFile(t, b, edited, 0o644)
	checkNoTemp(t, dir)

	// A cancelled context writes nothing either.
	write(t, b, deployWeb, 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ch.Apply(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context: %v", err)
	}
	checkFile(t, a, deployWeb, 0o644)
	checkNoTemp(t, dir)
}

func TestPlanTargets(t *testing.T) {
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yaml")
	values := filepath.Join(dir, "values.yaml")
	write(t, web, deployWeb, 0o644)
	write(t, values, "image:\n  repository: registry.example.com:5000/team/web\n  tag: 2.3.1\n", 0o644)
	images := []Image{{Repository: "registry.example.com:5000/team/web", Tag: "2.4.0", Digest: "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"}}
	ch, err := PlanTargets(context.Background(), []Target{
		{Files: []string{web}, Options: Options{Pin: PinDigest, PullPolicy: "IfNotPresent"}},
		{Files: []string{values}, Options: Options{Pin: PinTag, Rules: []Rule{{Repository: "image.repository", Tag: "image.tag"}}}},
	}, images)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range ch.Files {
		got[filepath.Base(f.Path)] = string(f.New)
	}
	wantWeb := strings.ReplaceAll(deployWeb, "web:2.3.1 # app\n", "web@sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2 # app\n          imagePullPolicy: IfNotPresent\n")
	if got["web.yaml"] != wantWeb {
		t.Errorf("web.yaml:\n%s\nwant:\n%s", got["web.yaml"], wantWeb)
	}
	if want := "image:\n  repository: registry.example.com:5000/team/web\n  tag: 2.4.0\n"; got["values.yaml"] != want {
		t.Errorf("values.yaml:\n%s\nwant:\n%s", got["values.yaml"], want)
	}
	if _, err := PlanTargets(context.Background(), []Target{{Files: []string{web}}, {Files: []string{web}, Options: Options{Pin: "sha"}}}, images); err == nil || !strings.Contains(err.Error(), "manifests entry 2") {
		t.Errorf("bad pin in the second target: %v", err)
	}
}

func TestDiff(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n"
	new := "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nM\nM2\nn"
	ch := &Changes{Files: []FileChange{
		{Path: "same.yaml", Old: []byte("x\n"), New: []byte("x\n")},
		{Path: "deploy/web.yaml", Old: []byte(old), New: []byte(new)},
		{Path: "crlf.yaml", Old: []byte("k: 1\r\nimage: a\r\n"), New: []byte("k: 1\r\nimage: b\r\n")},
	}}
	var b bytes.Buffer
	if err := ch.Diff(&b); err != nil {
		t.Fatal(err)
	}
	want := `--- deploy/web.yaml
+++ deploy/web.yaml
@@ -1,5 +1,5 @@
 a
-b
+B
 c
 d
 e
@@ -10,5 +10,6 @@
 j
 k
 l
-m
-n
+M
+M2
+n
\ No newline at end of file
--- crlf.yaml
+++ crlf.yaml
@@ -1,2 +1,2 @@
 k: 1` + "\r" + `
-image: a` + "\r" + `
+image: b` + "\r" + `
`
	if b.String() != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestDiffLines checks that the edit script rebuilds the new text from the
// old one, on generated pairs of texts.
func TestDiffLines(t *testing.T) {
	seed := uint32(1)
	rnd := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for i := range 500 {
		var a, b []string
		for range rnd(30) {
			a = append(a, string(rune('a'+rnd(5)))+"\n")
		}
		for _, l := range a {
			switch rnd(4) {
			case 0:
			case 1:
				b = append(b, "x\n")
			default:
				b = append(b, l)
			}
			if rnd(5) == 0 {
				b = append(b, string(rune('a'+rnd(5)))+"\n")
			}
		}
		ops := diffLines(a, b)
		var got, kept []string
		for _, o := range ops {
			switch o.kind {
			case ' ':
				if a[o.a] != b[o.b] {
					t.Fatalf("case %d: equal op on different lines", i)
				}
				got = append(got, a[o.a])
				kept = append(kept, a[o.a])
			case '+':
				got = append(got, b[o.b])
			case '-':
				kept = append(kept, a[o.a])
			}
		}
		if strings.Join(got, "") != strings.Join(b, "") {
			t.Fatalf("case %d: script does not rebuild b:\na=%q\nb=%q\ngot=%q", i, a, b, got)
		}
		if strings.Join(kept, "") != strings.Join(a, "") {
			t.Fatalf("case %d: script does not cover a", i)
		}
	}
}
