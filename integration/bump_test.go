package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/testenv"
)

const bumpPod = `# a pod
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: registry.example.com/team/web:1.0.0
`

// bumpSet bumps the pod's image in dir's deploy folder.
func bumpSet(t *testing.T, dir string) result {
	t.Helper()
	return slipway(t, dir, nil, "bump", "--set", "registry.example.com/team/web=registry.example.com/team/web:2.0.0", "deploy")
}

func writePods(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(bumpPod), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// unchanged fails when any file under dir differs from bumpPod or a
// temporary file is left.
func unchanged(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), ".slipway-") {
			t.Errorf("temporary file left: %s", p)
		}
		if b, _ := os.ReadFile(p); string(b) != bumpPod {
			t.Errorf("%s was changed:\n%s", p, b)
		}
		return nil
	})
}

// TestBumpAllOrNothing: a bump that cannot replace one file of a set
// leaves every file as it was: refused up front when a file may not be
// written, put back when a replacement fails after others succeeded.
func TestBumpAllOrNothing(t *testing.T) {
	testenv.Slipway(t)
	t.Run("replacement fails", func(t *testing.T) {
		dir := t.TempDir()
		writePods(t, dir, "deploy/a.yaml", "deploy/b.yaml", "deploy/c.yaml", "cover.yaml")
		// A file with a mount on it cannot be renamed over (EBUSY), which
		// only the last step finds out: a.yaml and b.yaml are replaced by
		// then.
		c := filepath.Join(dir, "deploy/c.yaml")
		if out, err := exec.Command("mount", "--bind", filepath.Join(dir, "cover.yaml"), c).CombinedOutput(); err != nil {
			t.Skipf("cannot bind-mount a file here: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", c).Run() })
		r := bumpSet(t, dir)
		if r.code != 1 || !strings.Contains(r.stderr, "deploy/c.yaml: replacing: device or resource busy; no file was changed") {
			t.Fatalf("exit %d, stderr %q; want 1 naming deploy/c.yaml", r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
		unchanged(t, dir)
	})
	t.Run("read-only file", func(t *testing.T) {
		dir := t.TempDir()
		writePods(t, dir, "deploy/a.yaml", "deploy/b.yaml")
		b := filepath.Join(dir, "deploy/b.yaml")
		if err := os.Chmod(b, 0o444); err != nil {
			t.Fatal(err)
		}
		r := bumpSet(t, dir)
		if r.code != 1 || !strings.Contains(r.stderr, "deploy/b.yaml: not writable (mode 0444)") {
			t.Fatalf("exit %d, stderr %q; want 1 naming deploy/b.yaml", r.code, r.stderr)
		}
		unchanged(t, dir)
		if fi, _ := os.Stat(b); fi.Mode().Perm() != 0o444 {
			t.Errorf("mode of b.yaml is now %v", fi.Mode())
		}
	})
	t.Run("immutable file", func(t *testing.T) {
		dir := t.TempDir()
		writePods(t, dir, "deploy/a.yaml", "deploy/b.yaml")
		b := filepath.Join(dir, "deploy/b.yaml")
		if out, err := exec.Command("chattr", "+i", b).CombinedOutput(); err != nil {
			t.Skipf("chattr +i: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", b).Run() })
		r := bumpSet(t, dir)
		if r.code != 1 || !strings.Contains(r.stderr, "deploy/b.yaml: not writable: operation not permitted") {
			t.Fatalf("exit %d, stderr %q; want 1 naming deploy/b.yaml", r.code, r.stderr)
		}
		unchanged(t, dir)
	})
	t.Run("hard link", func(t *testing.T) {
		dir := t.TempDir()
		writePods(t, dir, "deploy/a.yaml")
		a, link := filepath.Join(dir, "deploy/a.yaml"), filepath.Join(dir, "other/a.yaml")
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Link(a, link); err != nil {
			t.Fatal(err)
		}
		before, _ := os.Stat(a)
		r := bumpSet(t, dir)
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		want := strings.Replace(bumpPod, ":1.0.0", ":2.0.0", 1)
		for _, p := range []string{a, link} {
			if b, _ := os.ReadFile(p); string(b) != want {
				t.Errorf("%s:\n%s\nwant:\n%s", p, b, want)
			}
		}
		if after, _ := os.Stat(a); !os.SameFile(before, after) {
			t.Errorf("the bump split the hard link")
		}
	})
}
