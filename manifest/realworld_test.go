package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// realworldDir is the corpus of manifests from public repositories kept
// beside the project (never inside it): SLIPWAY_REALWORLD, or shared/ next
// to the repository.
func realworldDir(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("SLIPWAY_REALWORLD"), "../../shared/realworld/in", "../../../shared/realworld/in"}
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	t.Skip("the real-world corpus (shared/realworld/in beside the repository, or SLIPWAY_REALWORLD) is absent")
	return ""
}

// realworldNotYAML are the corpus files that no YAML parser reads: an
// Alertmanager example broken upstream, and Helm templates copied without
// their chart's Chart.yaml (so nothing tells them from manifests).
var realworldNotYAML = []string{
	"microservices-demo+microservices-demo/deploy/kubernetes/helm-chart/templates/cart-db-dep.yaml",
	"microservices-demo+microservices-demo/deploy/kubernetes/helm-chart/templates/carts-dep.yaml",
	"microservices-demo+microservices-demo/deploy/kubernetes/helm-chart/templates/catalogue-db-dep.yaml",
	"microservices-demo+microservices-demo/deploy/kubernetes/helm-chart/templates/catalogue-dep.yaml",
	"prometheus-operator+kube-prometheus/examples/alertmanager-config-with-template.yaml",
}

// TestRealWorld bumps every image of every file of the corpus and checks
// that only image values change, that every container image and
// kustomization entry is rewritten, and that nothing but real non-YAML is
// refused.
func TestRealWorld(t *testing.T) {
	dir := realworldDir(t)
	found, err := Discover(Source{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Files) < 400 || len(found.Skipped) < 5 {
		t.Fatalf("found %d files and skipped %d chart template folders", len(found.Files), len(found.Skipped))
	}
	srcs := map[string][]byte{}
	// Every repository any file names, each to be bumped to a new tag.
	repos := map[string]bool{}
	var refused []string
	for _, f := range found.Files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := References(f, src, nil)
		if err != nil {
			if !errors.Is(err, errParse) {
				t.Errorf("%v: refused, but not for its syntax", err)
			}
			rel, _ := filepath.Rel(dir, f)
			refused = append(refused, filepath.ToSlash(rel))
			continue
		}
		srcs[f] = src
		for _, r := range refs {
			if ref, err := name.ParseReference(r.Image, name.WeakValidation); err == nil {
				repos[ref.Context().Name()] = true
			}
		}
		if isKustomizationName(filepath.Base(f)) {
			// Entries without newTag or digest are not references yet;
			// a bump gives them one.
			for _, n := range kustomizationNames(src) {
				if r, err := name.NewRepository(n, name.WeakValidation); err == nil {
					repos[r.Name()] = true
				}
			}
		}
	}
	sort.Strings(refused)
	if strings.Join(refused, "\n") != strings.Join(realworldNotYAML, "\n") {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(refused, "\n"), strings.Join(realworldNotYAML, "\n"))
	}
	var images []Image
	for r := range repos {
		images = append(images, Image{Repository: r, Tag: "0.0.0-bumped"})
	}
	containers, entries := 0, 0
	for f, src := range srcs {
		out, edits, err := Rewrite(f, src, images, Options{Pin: PinTag})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		json := strings.EqualFold(filepath.Ext(f), ".json")
		if _, _, err := compareMasked(src, out, json); err != nil {
			t.Errorf("%s: the bump changed more than image values: %v", f, err)
		}
		if bytes.HasSuffix(src, []byte("\n")) != bytes.HasSuffix(out, []byte("\n")) {
			t.Errorf("%s: the final line break changed", f)
		}
		after, err := References(f, out, nil)
		if err != nil {
			t.Errorf("%s: after the bump: %v", f, err)
			continue
		}
		for _, r := range after {
			if _, err := name.ParseReference(r.Image, name.WeakValidation); err != nil {
				continue // not a reference (<YOUR-CONTAINER>): nothing to bump
			}
			if !strings.HasSuffix(r.Image, ":0.0.0-bumped") {
				t.Errorf("%s:%d: %s %s still reads %s", f, r.Line, r.Object, r.Field, r.Image)
			}
			if strings.HasPrefix(r.Field, "images[") {
				entries++
			} else {
				containers++
			}
		}
		for _, e := range edits {
			if !strings.Contains(e.Field, "image") && !strings.HasPrefix(e.Field, "images[") {
				t.Errorf("%s:%d: edited %s, which is not an image field", f, e.Line, e.Field)
			}
		}
	}
	t.Logf("%d files (%d refused as not YAML, %d chart template folders skipped): %d container images and %d kustomization entries bumped",
		len(found.Files), len(refused), len(found.Skipped), containers, entries)
	if containers < 250 || entries < 25 {
		t.Errorf("only %d container images and %d kustomization entries found", containers, entries)
	}
}

// kustomizationNames lists the image of every images: entry: its newName,
// else its name.
func kustomizationNames(src []byte) []string {
	docs, err := parseAll(src, false)
	if err != nil || len(docs) == 0 || len(docs[0].Content) == 0 {
		return nil
	}
	var out []string
	root := docs[0].Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "images" {
			continue
		}
		for _, e := range root.Content[i+1].Content {
			var n, nn string
			for j := 0; j+1 < len(e.Content); j += 2 {
				switch e.Content[j].Value {
				case "name":
					n = e.Content[j+1].Value
				case "newName":
					nn = e.Content[j+1].Value
				}
			}
			if nn != "" {
				n = nn
			}
			out = append(out, n)
		}
	}
	return out
}
