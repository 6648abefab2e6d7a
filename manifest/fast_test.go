package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sameTree compares a fast-path tree with yaml.v3's.
func sameTree(a, b *node, depth int) error {
	if depth > 500 {
		return nil
	}
	if a.kind != b.kind || a.style != b.style || a.flow != b.flow || a.inFlow != b.inFlow || a.value != b.value || a.props != b.props || len(a.content) != len(b.content) || (a.alias == nil) != (b.alias == nil) {
		return fmt.Errorf("line %d: fast %+v\nyaml %+v", b.line, *a, *b)
	}
	if a.kind != docNode && (a.line != b.line || a.col != b.col || a.off != b.off) {
		return fmt.Errorf("%q: fast at %d:%d (byte %d), yaml at %d:%d (byte %d)", a.value, a.line, a.col, a.off, b.line, b.col, b.off)
	}
	for i := range a.content {
		if err := sameTree(a.content[i], b.content[i], depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkFast(t *testing.T, src []byte) bool {
	ls := newLines(src)
	mem := getTreeMem()
	defer putTreeMem(mem)
	fast, ok := fastParse(src, ls, mem)
	if !ok {
		return false
	}
	slow, err := parseYAML(src, ls, false)
	if err != nil {
		t.Fatalf("fast path read what yaml.v3 rejects (%v):\n%q", err, src)
	}
	if len(fast) != len(slow) {
		t.Fatalf("fast path read %d documents, yaml.v3 %d:\n%q", len(fast), len(slow), src)
	}
	for i := range fast {
		if err := sameTree(fast[i], slow[i], 0); err != nil {
			t.Fatalf("document %d: %v\n%q", i+1, err, src)
		}
	}
	return true
}

// FuzzFastParse checks that whenever the fast scanner reads a file, yaml.v3
// reads the same trees.
func FuzzFastParse(f *testing.F) {
	filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "fuzz") {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
		return err
	})
	for _, s := range []string{
		"a: b\n", "a:\n- b\n- c: d\n  e: f\n", "a: {b: c, d: [e, 'f''g', \"h\"]}\n", "---\na: 1\n---\nb: 2\n",
		"- a\n", "a: b:c\n", "a: -b\n", "k: [a?b]\n", "k: {a:b}\n", "\"k\": 'v' # c\n", "a:\n  b:\n    c: d\n  e: f\n",
		"a: 'x''y'\n", "a: x #c\nb: y", "a:   \n  - x\n", "- a: b\n  - c\n", "a:\n- b\nc: d\n", "a: b\n---\n", "---\n",
		"a: \"x\"y\n", "a: [b, {c: d}]\n", "a: []\nb: {}\n", "? a\n: b\n", "a: b\n  # comment\nc: d\n", "a  : b\n",
		"é: ü\n", "-a: b\n", "a: b: c\n", "a: b\n\n\n", "a: b\r\nc: d\r\n", "  a: 1\n  b: 2\n", "a: {\"b\":1}\n",
		"a: [-b, c]\n", "a: [b:c]\n", "a: {b: c:d}\n", "a: x\n...\n", "%YAML 1.2\n---\na: b\n", "a: b\n  c\n",
		"k: v\n- x\n", "- a\n- b: c\n  d: e\n- - f\n", "a:\n  - b\n  -\n", "a: 🚀 x\nb: [é, 'ü', \"ß\"]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkFast(t, src)
	})
}

// TestFastPathTaken makes sure that ordinary manifests take the fast path,
// since the speed of a bump depends on it.
func TestFastPathTaken(t *testing.T) {
	for _, name := range []string{"refs.yaml", "pullpolicy.yaml", "list.yaml", "workloads.yaml", "non-ascii.yaml", "pin-tag.yaml", "no-newline.yaml", "kustomize/kustomization.yaml", "values.yaml", "custom-resource.yaml"} {
		src, err := os.ReadFile(filepath.Join("testdata/in", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "values.yaml" {
			// Its block scalar and empty value send it to yaml.v3; the rest
			// must not.
			src = []byte(strings.Split(string(src), "\n# Free text")[0])
			src = []byte(strings.ReplaceAll(string(src), "digest:\n", "digest: x\n"))
		}
		if !checkFast(t, src) {
			t.Errorf("%s: fast path not taken", name)
		}
	}
}
