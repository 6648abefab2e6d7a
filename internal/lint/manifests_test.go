package lint

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/manifest"
)

func TestManifests(t *testing.T) {
	var ms []Manifest
	for _, f := range []string{"deploy.yaml", "pod.json"} {
		ms = append(ms, Manifest{Path: filepath.Join("testdata", "manifests", f), Shown: f})
	}
	res, err := Run(context.Background(), Request{Manifests: ms})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		file string
		line int
		rule string
	}
	got := map[key]Severity{}
	for _, f := range res.Findings {
		got[key{f.File, f.Line, f.Rule}] = f.Severity
	}
	want := map[key]Severity{
		{"deploy.yaml", 10, RuleImageUntagged}: Error,
		{"deploy.yaml", 13, RuleImageLatest}:   Error,
		{"deploy.yaml", 13, RulePullPolicy}:    Warning,
		{"deploy.yaml", 18, RuleImageUnpinned}: Info,
		{"deploy.yaml", 39, RuleImageUnpinned}: Info,
		{"deploy.yaml", 39, RulePullPolicy}:    Warning,
		{"pod.json", 2, RuleImageLatest}:       Error,
		{"pod.json", 2, RulePullPolicy}:        Warning,
	}
	for k, s := range want {
		if got[k] != s {
			t.Errorf("%v: severity %v, want %v", k, got[k], s)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected finding %v", k)
		}
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, res.Findings); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("manifests", "findings.golden"), buf.Bytes())
}

// TestManifestsSkipRepository: a release leaves out the references it
// is about to rewrite.
func TestManifestsSkipRepository(t *testing.T) {
	m := Manifest{Path: filepath.Join("testdata", "manifests", "deploy.yaml"), Shown: "deploy.yaml"}
	skip := func(r name.Repository) bool { return r.Name() == "registry.example.com/web" }
	res, err := Run(context.Background(), Request{Manifests: []Manifest{m}, SkipRepository: skip})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Line == 13 {
			t.Errorf("finding on a skipped repository: %+v", f)
		}
	}
	if len(res.Findings) == 0 {
		t.Error("no findings left at all")
	}
}

func TestManifestNotYAML(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	writeFile(t, p, "a: [\n")
	_, err := Run(context.Background(), Request{Manifests: []Manifest{{Path: p, Shown: "bad.yaml"}}})
	if err == nil {
		t.Fatal("want an error for a file that is not YAML")
	}
}

// TestManifestValuesRules: a values file's image fields, named by rules,
// get the pinning rules but no pull-policy finding (no container there).
func TestManifestValuesRules(t *testing.T) {
	m := Manifest{Path: filepath.Join("testdata", "manifests", "values.yaml"), Shown: "values.yaml",
		Rules: []manifest.Rule{{Repository: "image.repository", Tag: "image.tag"}}}
	res, err := Run(context.Background(), Request{Manifests: []Manifest{m}})
	if err != nil {
		t.Fatal(err)
	}
	got := rulesOf(res.Findings)
	if got[RuleImageLatest] != Error || len(got) != 1 {
		t.Errorf("findings %v, want image-latest only", res.Findings)
	}
	// Without the rules the file names no image.
	m.Rules = nil
	if res, err := Run(context.Background(), Request{Manifests: []Manifest{m}}); err != nil || len(res.Findings) != 0 {
		t.Errorf("without rules: %v, %v", res, err)
	}
}
