package manifest

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/want from the current output")

// goldenImages are the images every golden case is bumped to.
var goldenImages = []Image{
	{Repository: "nginx", Tag: "1.27.3", Digest: "sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"},
	{Repository: "registry.example.com:5000/team/web", Tag: "2.4.0", Digest: "sha256:4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2"},
	{Repository: "ghcr.io/acme/worker", Tag: "v0.9.1"},
	{Repository: "registry.example.com:5000/team/migrate", Digest: "sha256:3bc801a33ea83df414e1aeb962a52412835be99db28668ec25de73fdd4733804"},
	{Match: "quay.io/prometheus/node-exporter", Repository: "registry.example.com:5000/mirror/node-exporter", Tag: "v1.8.2"},
	{Repository: "bitnami/redis", Tag: "7.4"},
}

// goldenOptions are the options of the cases that do not use the defaults.
var goldenOptions = map[string]Options{
	"pullpolicy.yaml":                         {PullPolicy: "IfNotPresent"},
	"manifest.json":                           {PullPolicy: "Always"},
	"no-newline.yaml":                         {PullPolicy: "Always"},
	"pin-tag.yaml":                            {Pin: PinTag},
	"pin-digest.yaml":                         {Pin: PinDigest},
	"kustomize-tag/kustomization.yaml":        {Pin: PinTag},
	"kustomize-digest/kustomization.yaml":     {Pin: PinDigest},
	"kustomize-eof-remove/kustomization.yaml": {Pin: PinTag},
	"kustomize-eof-swap/kustomization.yaml":   {Pin: PinTag},
	"values.yaml": {Rules: []Rule{
		{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"},
		{Repository: "proxy.image.repository", Tag: "proxy.image.tag", Digest: "proxy.image.digest"},
		{Repository: "workers.*.image.repository", Tag: "workers.*.image.tag"},
		{Repository: "redis.image.repository", Tag: "redis.image.tag"},
	}},
	"custom-resource.yaml": {Rules: []Rule{{Image: "spec.components[*].image"}}},
}

// goldenUntouched are cases whose output must be their input.
var goldenUntouched = map[string]bool{"compose.yaml": true, "ci.yml": true, "crd-negative.yaml": true}

func TestGolden(t *testing.T) {
	var cases []string
	err := filepath.WalkDir("testdata/in", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel("testdata/in", p)
			cases = append(cases, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("found %d cases in testdata/in", len(cases))
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata/in", name))
			if err != nil {
				t.Fatal(err)
			}
			opts := goldenOptions[name]
			out, edits, err := Rewrite(name, in, goldenImages, opts)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			report := renderEdits(edits)
			wantOut := filepath.Join("testdata/want", name)
			wantEdits := wantOut + ".edits"
			if *update {
				os.MkdirAll(filepath.Dir(wantOut), 0o755)
				if err := os.WriteFile(wantOut, out, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(wantEdits, []byte(report), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantOut)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s:\n%s", wantOut, lineDiff(want, out))
			}
			wantReport, err := os.ReadFile(wantEdits)
			if err != nil {
				t.Fatal(err)
			}
			if report != string(wantReport) {
				t.Errorf("edits differ from %s:\ngot:\n%s\nwant:\n%s", wantEdits, report, wantReport)
			}
			if goldenUntouched[name] {
				if len(edits) != 0 || !bytes.Equal(out, in) {
					t.Errorf("file that is not a Kubernetes object was changed")
				}
			} else if len(edits) == 0 {
				t.Errorf("no edits in a case meant to show some")
			}
			if bytes.HasSuffix(in, []byte("\n")) != bytes.HasSuffix(out, []byte("\n")) {
				t.Errorf("the final line break was added or removed")
			}
			// The output must differ from the input only in image values,
			// and a second bump must change nothing.
			if _, _, err := compareMasked(in, out, strings.HasSuffix(name, ".json")); err != nil {
				t.Errorf("output changes more than image values: %v", err)
			}
			again, edits2, err := Rewrite(name, out, goldenImages, opts)
			if err != nil || len(edits2) != 0 || !bytes.Equal(again, out) {
				t.Errorf("second bump: err=%v edits=%v", err, edits2)
			}
		})
	}
}

func renderEdits(edits []Edit) string {
	var b strings.Builder
	for _, e := range edits {
		fmt.Fprintf(&b, "%d:%d doc %d", e.Line, e.Column, e.Document)
		if e.Object != "" {
			fmt.Fprintf(&b, " %s", e.Object)
		}
		if e.Container != "" {
			fmt.Fprintf(&b, " container %s", e.Container)
		}
		fmt.Fprintf(&b, " %s: %q -> %q\n", e.Field, e.Old, e.New)
	}
	return b.String()
}

// lineDiff shows the differing lines of two texts for a failure message.
func lineDiff(want, got []byte) string {
	ch := &Changes{Files: []FileChange{{Path: "want→got", Old: want, New: got}}}
	var b bytes.Buffer
	ch.Diff(&b)
	return b.String()
}
