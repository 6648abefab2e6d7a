package manifest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func planFiles(t *testing.T, files ...string) *Changes {
	t.Helper()
	ch, err := Plan(context.Background(), files, webImage, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Changed()) != len(files) {
		t.Fatalf("changed %q, want all of %q", ch.Changed(), files)
	}
	return ch
}

// TestApplyRestores: when replacing one file fails, the files already
// replaced get their old bytes, mode and inode contents back.
func TestApplyRestores(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "c.yaml")
	write(t, a, deployWeb, 0o640)
	write(t, b, deployWeb, 0o644)
	write(t, c, deployWeb, 0o600)
	ch := planFiles(t, a, b, c)
	calls := 0
	rename = func(from, to string) error {
		if calls++; to == c {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EIO}
		}
		return os.Rename(from, to)
	}
	defer func() { rename = os.Rename }()
	err := ch.Apply(context.Background())
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != c || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "no file was changed") {
		t.Fatalf("Apply: %v; want an error naming %s", err, c)
	}
	if calls != 3 {
		t.Errorf("%d renames before the failure, want 3", calls)
	}
	checkFile(t, a, deployWeb, 0o640)
	checkFile(t, b, deployWeb, 0o644)
	checkFile(t, c, deployWeb, 0o600)
	checkNoTemp(t, dir)
}

// TestApplyReadOnly: a file nobody may write is refused before any file
// is written.
func TestApplyReadOnly(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, deployWeb, 0o644)
	write(t, b, deployWeb, 0o444)
	ch := planFiles(t, a, b)
	err := ch.Apply(context.Background())
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != b || !strings.Contains(err.Error(), "not writable (mode 0444)") {
		t.Fatalf("Apply: %v; want an error naming %s as read-only", err, b)
	}
	checkFile(t, a, deployWeb, 0o644)
	checkFile(t, b, deployWeb, 0o444)
	checkNoTemp(t, dir)
}

// TestApplyHardLinks: a file with several links is edited in its own
// inode, so that every link sees the change; a failure restores it too.
func TestApplyHardLinks(t *testing.T) {
	dir := t.TempDir()
	a, link := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "elsewhere", "a-link.yaml")
	write(t, a, deployWeb, 0o644)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, link); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(a)
	ch := planFiles(t, a)
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := string(ch.Files[0].New)
	checkFile(t, a, want, 0o644)
	checkFile(t, link, want, 0o644)
	after, _ := os.Stat(a)
	if !os.SameFile(before, after) {
		t.Errorf("%s is another inode after the bump: the link was split", a)
	}
	checkNoTemp(t, dir)

	// Planned again from the new bytes: both names of one file, and a
	// later file that fails, put the linked file back.
	write(t, a, deployWeb, 0o644)
	b := filepath.Join(dir, "b.yaml")
	write(t, b, deployWeb, 0o644)
	ch = planFiles(t, a, b)
	rename = func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EROFS}
	}
	defer func() { rename = os.Rename }()
	if err := ch.Apply(context.Background()); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Apply: %v, want EROFS", err)
	}
	checkFile(t, link, deployWeb, 0o644)
	checkFile(t, b, deployWeb, 0o644)
	checkNoTemp(t, dir)
}
