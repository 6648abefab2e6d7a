package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writeLayout writes img (a v1.Image or v1.ImageIndex) as the only entry of
// a fresh OCI layout, as BuildKit's oci exporter would.
func writeLayout(t *testing.T, img remote.Taggable) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(x)
	case v1.Image:
		err = p.AppendImage(x)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func blobCount(t *testing.T, s *Store) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(s.Dir(), "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"oci-layout", "index.json", ".gitignore", "blobs/sha256"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(b) != "*\n" {
		t.Errorf(".gitignore = %q", b)
	}
	// A layout written by Open is readable by go-containerregistry.
	if _, err := layout.FromPath(dir); err != nil {
		t.Errorf("not an OCI layout: %v", err)
	}
	// Opening again keeps what is there.
	if _, err := s.Add("web", writeLayout(t, randomImage(t))); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Lookup("web"); err != nil {
		t.Errorf("entry lost on reopen: %v", err)
	}
}

func TestGitIgnoresStore(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("init", "-q")
	s, err := Open(filepath.Join(repo, ".slipway", "store"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("web", writeLayout(t, randomImage(t))); err != nil {
		t.Fatal(err)
	}
	if out := run("status", "--porcelain", "--untracked-files=all"); out != "" {
		t.Errorf("store dirties the work tree:\n%s", out)
	}
}

func TestAddLookup(t *testing.T) {
	img := randomImage(t)
	wantDigest, _ := img.Digest()
	idx, err := random.Index(128, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("web", writeLayout(t, img)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("multi", writeLayout(t, idx)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		image     string
		digest    v1.Hash
		wantIndex bool
		wantErr   error
	}{
		{name: "single platform", image: "web", digest: wantDigest},
		{name: "index", image: "multi", digest: idxDigest, wantIndex: true},
		{name: "absent", image: "nope", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Lookup(tt.image)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Lookup error = %v, want %v", err, tt.wantErr)
				}
				if _, err := s.Taggable(tt.image); !errors.Is(err, tt.wantErr) {
					t.Errorf("Taggable error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Digest != tt.digest {
				t.Errorf("digest = %s, want %s", d.Digest, tt.digest)
			}
			if d.Annotations[AnnotationRefName] != tt.image || d.Annotations[AnnotationContainerdName] != tt.image {
				t.Errorf("annotations = %v", d.Annotations)
			}
			tg, err := s.Taggable(tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantIndex {
				ii, ok := tg.(v1.ImageIndex)
				if !ok {
					t.Fatalf("Taggable is %T, want an index", tg)
				}
				if got, _ := ii.Digest(); got != tt.digest {
					t.Errorf("index digest = %s", got)
				}
				if _, err := s.Index(tt.image); err != nil {
					t.Error(err)
				}
				if _, err := s.Image(tt.image); err == nil {
					t.Error("Image of an index: no error")
				}
				return
			}
			im, ok := tg.(v1.Image)
			if !ok {
				t.Fatalf("Taggable is %T, want an image", tg)
			}
			// Reading every layer proves the blobs made it into the store.
			ls, err := im.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
			}
			if _, err := s.Index(tt.image); err == nil {
				t.Error("Index of an image: no error")
			}
		})
	}

	es, err := s.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "web" || es[1].Name != "multi" {
		t.Errorf("Entries = %+v", es)
	}
}

func TestReplaceKeepsNewestAndCollects(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := randomImage(t)
	if _, err := s.Add("web", writeLayout(t, old)); err != nil {
		t.Fatal(err)
	}
	other := randomImage(t)
	if _, err := s.Add("api", writeLayout(t, other)); err != nil {
		t.Fatal(err)
	}
	before := blobCount(t, s) // 2 × (manifest + config + 2 layers)
	if before != 8 {
		t.Fatalf("blobs = %d, want 8", before)
	}
	newer := randomImage(t)
	if _, err := s.Add("web", writeLayout(t, newer)); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Entries()
	if len(es) != 2 {
		t.Fatalf("entries = %d, want 2 (one per name)", len(es))
	}
	d, _ := s.Lookup("web")
	if want, _ := newer.Digest(); d.Digest != want {
		t.Errorf("web = %s, want newest %s", d.Digest, want)
	}
	if got := blobCount(t, s); got != 8 {
		t.Errorf("blobs after replace = %d, want 8 (old build collected)", got)
	}
	od, _ := old.Digest()
	if s.HasBlob(od) {
		t.Error("old manifest still in store")
	}
	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 4 {
		t.Errorf("blobs after remove = %d, want 4", got)
	}
}

func TestCommitMissingBlob(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	dir := writeLayout(t, img)
	ls, _ := img.Layers()
	h, _ := ls[0].Digest()
	if err := os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Add("web", dir)
	if err == nil {
		t.Fatal("no error for an incomplete image")
	}
	if _, lerr := s.Lookup("web"); !errors.Is(lerr, ErrNotFound) {
		t.Errorf("incomplete image got an entry: %v", lerr)
	}
	t.Log(err)
}

func TestStagingHoldsOffGC(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A blob no entry reaches, as an export that skipped it relies on it.
	if _, err := s.Add("web", writeLayout(t, randomImage(t))); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 4 {
		t.Errorf("GC ran during a staging: blobs = %d, want 4", got)
	}
	if err := st.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.Dir()); !os.IsNotExist(err) {
		t.Errorf("staging dir left: %v", err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 0 {
		t.Errorf("blobs after GC = %d, want 0", got)
	}
}

// TestHelperProcess holds a staging area of the store in STORE_HELPER_DIR
// until its stdin closes: another process building into the store.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("STORE_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("staged")
	var b [1]byte
	os.Stdin.Read(b[:])
	st.Discard()
}

func TestGCSkipsWhileOtherProcessStages(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("web", writeLayout(t, randomImage(t))); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("web"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "STORE_HELPER_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "staged" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 4 {
		t.Errorf("GC ran while another process staged: blobs = %d, want 4", got)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 0 {
		t.Errorf("blobs after helper ended = %d, want 0", got)
	}
}

func TestConcurrentAdds(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	dirs := make([]string, n)
	want := make([]v1.Hash, n)
	for i := range dirs {
		img := randomImage(t)
		want[i], _ = img.Digest()
		dirs[i] = writeLayout(t, img)
	}
	// A second handle on the same directory stands in for another process.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			_, errs[i] = st.Add(fmt.Sprintf("img%d", i), dirs[i])
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		d, err := s.Lookup(fmt.Sprintf("img%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest != want[i] {
			t.Errorf("img%d = %s, want %s", i, d.Digest, want[i])
		}
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if got := blobCount(t, s); got != 4*n {
		t.Errorf("blobs = %d, want %d", got, 4*n)
	}
}

func TestAddPicksNamedEntry(t *testing.T) {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	a, b := randomImage(t), randomImage(t)
	if err := p.AppendImage(a, layout.WithAnnotations(map[string]string{AnnotationRefName: "a"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(b, layout.WithAnnotations(map[string]string{AnnotationRefName: "b"})); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Add("b", dir)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := b.Digest(); d.Digest != want {
		t.Errorf("picked %s, want %s", d.Digest, want)
	}
	if _, err := s.Add("c", dir); err == nil {
		t.Error("no error for an ambiguous layout")
	}
}

func TestCommitIndex(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var manifests []v1.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		d, err := s.Add("part-"+arch, writeLayout(t, randomImage(t)))
		if err != nil {
			t.Fatal(err)
		}
		d.Platform = &v1.Platform{OS: "linux", Architecture: arch}
		d.Annotations = nil
		manifests = append(manifests, d)
	}
	st, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CommitIndex("web", manifests, map[string]string{"org.opencontainers.image.revision": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup("web")
	if err != nil || got.Digest != d.Digest || !got.MediaType.IsIndex() {
		t.Fatalf("lookup web: %+v, %v; want the index %s", got, err, d.Digest)
	}
	idx, err := s.Index("web")
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || im.Manifests[1].Platform.Architecture != "arm64" || im.Annotations["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("index %+v", im)
	}
	// The parts' entries can go: the index keeps their blobs.
	for _, n := range []string{"part-amd64", "part-arm64"} {
		if err := s.Remove(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image("web"); err == nil {
		t.Error("an index read as a single image")
	}
	for _, m := range im.Manifests {
		if !s.HasBlob(m.Digest) {
			t.Errorf("manifest %s collected although the index needs it", m.Digest)
		}
	}

	// A manifest neither staged nor stored: no entry.
	st, err = s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	missing := v1.Descriptor{MediaType: manifests[0].MediaType, Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064d", 1)}}
	if _, err := st.CommitIndex("broken", []v1.Descriptor{missing}, nil); err == nil {
		t.Error("no error for an index of a missing manifest")
	}
	if _, err := s.Lookup("broken"); !errors.Is(err, ErrNotFound) {
		t.Errorf("broken index got an entry: %v", err)
	}
}
