package manifest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

var fuzzImages = []Image{
	{Repository: "nginx", Tag: "1.27.3", Digest: "sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"},
	{Repository: "registry.example.com:5000/team/web", Tag: "2.4.0", Digest: "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"},
	{Repository: "ghcr.io/acme/worker", Tag: "v0.9.1"},
	{Repository: "registry.example.com:5000/team/migrate", Digest: "sha256:3bc801a33ea83df414e1aeb962a52412835be99db28668ec25de73fdd4733804"},
	{Match: "quay.io/prometheus/node-exporter", Repository: "registry.example.com:5000/mirror/node-exporter", Tag: "v1.8.2"},
	{Repository: "bitnami/redis", Tag: "7.4"},
}

var fuzzRules = []Rule{
	{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"},
	{Repository: "*.image.repository", Tag: "*.image.tag"},
	{Image: "spec.components[*].image"},
}

// fuzzSetup turns the fuzzer's mode byte into a file name and options.
func fuzzSetup(mode uint8) (string, Options) {
	path := []string{"deploy.yaml", "kustomization.yaml", "deploy.json", "values.yaml"}[mode&3]
	var opts Options
	opts.Pin = []Pin{"", PinTag, PinDigest, PinTagDigest}[(mode>>2)&3]
	if mode&16 != 0 {
		opts.PullPolicy = "Always"
	}
	if mode&32 != 0 {
		opts.Rules = fuzzRules
	}
	return path, opts
}

// allowedValue reports whether v is a value a bump may write.
func allowedValue(v string) bool {
	if v == "" || v == "Always" {
		return true
	}
	for _, img := range fuzzImages {
		for _, s := range []string{img.Tag, img.Digest, img.Tag + "@" + img.Digest, img.Repository} {
			if s != "" && s != "@" && v == s {
				return true
			}
		}
	}
	r, err := name.ParseReference(v, name.WeakValidation)
	if err != nil {
		return false
	}
	for _, img := range fuzzImages {
		repo, _ := name.NewRepository(img.Repository, name.WeakValidation)
		if r.Context().Name() != repo.Name() {
			continue
		}
		for _, suffix := range []string{":" + img.Tag + "@" + img.Digest, ":" + img.Tag, "@" + img.Digest} {
			if suffix != ":" && suffix != "@" && suffix != ":@" && strings.HasSuffix(v, suffix) {
				return true
			}
		}
	}
	return false
}

func FuzzRewrite(f *testing.F) {
	filepath.WalkDir("testdata/in", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, mode := range []uint8{0, 1, 2, 3, 16 | 5, 32 | 3, 32 | 16 | 9} {
			f.Add(b, mode)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, in []byte, mode uint8) {
		path, opts := fuzzSetup(mode)
		checkRewrite(t, path, in, opts)
	})
}

// checkRewrite bumps in to fuzzImages and checks the result with the test
// oracle: only image values change, to values a bump may write, only on
// lines reported as edited, and a second bump changes nothing. It returns
// the output, or nil when Rewrite refused the input or it does not parse.
func checkRewrite(t *testing.T, path string, in []byte, opts Options) []byte {
	t.Helper()
	json := strings.HasSuffix(path, ".json")
	if _, err := parseAll(in, json); err != nil {
		return nil
	}
	out, edits, err := Rewrite(path, in, fuzzImages, opts)
	if err != nil {
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("error is not a *FileError: %v", err)
		}
		return nil
	}
	if len(edits) == 0 {
		if !bytes.Equal(out, in) {
			t.Fatalf("output changed without edits")
		}
		return out
	}
	changes, moved, err := compareMasked(in, out, json)
	if err != nil {
		t.Fatalf("output changes more than image values: %v\nin:\n%s\nout:\n%s", err, in, out)
	}
	for _, c := range changes {
		if !allowedValue(c.new) {
			t.Fatalf("wrote %q (was %q)\nin:\n%s\nout:\n%s", c.new, c.old, in, out)
		}
	}
	// Without added or removed lines, only lines with edits differ.
	if !moved {
		edited := map[int]bool{}
		for _, e := range edits {
			edited[e.Line] = true
		}
		// yaml.v3 may count more lines than '\n' does (\r, U+2028):
		// compare by yaml lines.
		la, lb := newLines(in), newLines(out)
		if len(la.starts) == len(lb.starts) {
			for i := range la.starts {
				if !bytes.Equal(yamlLine(la, i), yamlLine(lb, i)) && !edited[i+1] {
					t.Fatalf("line %d changed without an edit:\n%q\n%q", i+1, yamlLine(la, i), yamlLine(lb, i))
				}
			}
		}
	}
	again, edits2, err := Rewrite(path, out, fuzzImages, opts)
	if err != nil || len(edits2) != 0 || !bytes.Equal(again, out) {
		t.Fatalf("second bump: err=%v edits=%+v\nout:\n%s", err, edits2, out)
	}
	return out
}

func yamlLine(l *lines, i int) []byte {
	end := len(l.src)
	if i+1 < len(l.starts) {
		end = l.starts[i+1]
	}
	return l.src[l.starts[i]:end]
}
