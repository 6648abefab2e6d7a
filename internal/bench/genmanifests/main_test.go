package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/manifest"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	if err := generate(dir, n); err != nil {
		t.Fatal(err)
	}
	files, err := manifest.Files([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n {
		t.Fatalf("%d files, want %d", len(files), n)
	}
	var size int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	// 2,000 files should come to about 8 MB.
	if per := size / n; per < 3500 || per > 4500 {
		t.Errorf("%d bytes a file, want about 4,000", per)
	}
	img, err := manifest.ParseSet("registry.example.com:5000/team/web=registry.example.com:5000/team/web:2.0.0")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := manifest.Plan(context.Background(), files, []manifest.Image{img}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(ch.Changed()); got != n {
		t.Errorf("a bump changes %d files, want all %d", got, n)
	}
	for _, e := range ch.Edits() {
		if e.Container != "web" || e.Document != 1 || !strings.HasSuffix(e.New, ":2.0.0") {
			t.Errorf("unexpected edit %+v", e)
		}
	}
	// The same flags give the same files.
	again := t.TempDir()
	if err := generate(again, n); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(filepath.Join(again, filepath.Base(f)))
		if string(a) != string(b) {
			t.Fatalf("%s differs between runs", filepath.Base(f))
		}
	}
}
