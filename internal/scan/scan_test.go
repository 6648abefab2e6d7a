package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-build/slipway/internal/scan"
	"github.com/slipway-build/slipway/internal/scan/scantest"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/testenv"
)

var advisories = []scantest.Advisory{
	{ID: "CVE-2099-0001", Package: "libfoo", Fixed: "1.2.4-r2", Severity: "HIGH", Title: "libfoo overflows"},
	{ID: "CVE-2099-0002", Package: "libbar", Fixed: "", Severity: "CRITICAL", Title: "libbar has no fix"},
	{ID: "CVE-2099-0003", Package: "libbaz", Fixed: "2.0-r0", Severity: "LOW", Title: "libbaz leaks"},
}

// alpineImage is an image whose layer declares pkgs.
func alpineImage(t *testing.T, pkgs []scantest.Package) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := scantest.AlpineFiles(pkgs)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, files[n])
	}
	tw.Close()
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func addToStore(t *testing.T, st *store.Store, name string, img v1.Image) {
	t.Helper()
	p, err := layout.FromPath(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{store.AnnotationRefName: name})); err != nil {
		t.Fatal(err)
	}
}

func TestScanWithTrivy(t *testing.T) {
	trivy := testenv.Bin(t, "trivy")
	db := t.TempDir()
	if err := scantest.WriteDB(db, advisories); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	addToStore(t, st, "vulnerable", alpineImage(t, []scantest.Package{{Name: "libfoo", Version: "1.2.4-r1"}, {Name: "libbaz", Version: "1.0-r0"}}))
	addToStore(t, st, "clean", alpineImage(t, []scantest.Package{{Name: "libfoo", Version: "1.2.4-r2"}, {Name: "musl", Version: "1.2.5-r0"}}))
	addToStore(t, st, "unfixed", alpineImage(t, []scantest.Package{{Name: "libbar", Version: "0.9-r0"}}))

	tests := []struct {
		image   string
		opts    scan.Options
		passed  bool
		failing []string
		counts  map[string]int
	}{
		{image: "vulnerable", passed: false, failing: []string{"CVE-2099-0001"}, counts: map[string]int{"HIGH": 1, "LOW": 1}},
		{image: "vulnerable", opts: scan.Options{FailOn: "LOW"}, passed: false, failing: []string{"CVE-2099-0001", "CVE-2099-0003"}},
		{image: "vulnerable", opts: scan.Options{FailOn: "CRITICAL"}, passed: true},
		{image: "vulnerable", opts: scan.Options{Ignore: []string{"CVE-2099-0001"}}, passed: true, counts: map[string]int{"HIGH": 1, "LOW": 1}},
		{image: "clean", passed: true, counts: map[string]int{"HIGH": 0, "LOW": 0, "CRITICAL": 0}},
		{image: "unfixed", passed: false, failing: []string{"CVE-2099-0002"}},
		{image: "unfixed", opts: scan.Options{IgnoreUnfixed: true}, passed: true, counts: map[string]int{"CRITICAL": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.image+"/"+tt.opts.FailOn+strings.Join(tt.opts.Ignore, ","), func(t *testing.T) {
			targets, err := scan.Targets(st, tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if len(targets) != 1 || targets[0].Platform != "linux/amd64" {
				t.Fatalf("targets %+v", targets)
			}
			o := tt.opts
			o.Trivy, o.DB = trivy, db
			res, err := scan.Scan(context.Background(), st, targets[0], o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed() != tt.passed {
				t.Errorf("passed = %v, want %v (findings %+v)", res.Passed(), tt.passed, res.Findings)
			}
			var ids []string
			for _, f := range res.Failing {
				ids = append(ids, f.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.failing, ",") {
				t.Errorf("failing %v, want %v", ids, tt.failing)
			}
			for sev, n := range tt.counts {
				if res.Counts[sev] != n {
					t.Errorf("counts[%s] = %d, want %d (%v)", sev, res.Counts[sev], n, res.Counts)
				}
			}
			if !json.Valid(res.Raw) || !bytes.Contains(res.Raw, []byte(`"Packages"`)) {
				t.Errorf("raw report lacks the package list: %.300s", res.Raw)
			}
		})
	}
}

func TestScanMissingDB(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addToStore(t, st, "x", alpineImage(t, nil))
	targets, err := scan.Targets(st, "x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = scan.Scan(context.Background(), st, targets[0], scan.Options{Trivy: "/bin/false", DB: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "db/trivy.db") {
		t.Errorf("err = %v, want one naming db/trivy.db", err)
	}
}

func TestWriteTextAndSARIF(t *testing.T) {
	res := []scan.Result{{
		Target:   scan.Target{Image: "web", Platform: "linux/amd64", Digest: "sha256:abc"},
		FailOn:   "HIGH",
		Counts:   map[string]int{"HIGH": 1, "LOW": 1},
		Findings: []scan.Finding{{ID: "CVE-1", Package: "libfoo", Installed: "1.0", Fixed: "1.1", Severity: "HIGH", Title: "boom"}, {ID: "CVE-2", Package: "libbaz", Installed: "1", Severity: "LOW"}},
		Failing:  []scan.Finding{{ID: "CVE-1", Package: "libfoo", Installed: "1.0", Fixed: "1.1", Severity: "HIGH", Title: "boom"}},
	}}
	var text bytes.Buffer
	if err := scan.WriteText(&text, res); err != nil {
		t.Fatal(err)
	}
	got := text.String()
	for _, want := range []string{"web linux/amd64 sha256:abc", "HIGH 1", "FAILED", "CVE-1 libfoo 1.0 → 1.1 boom"} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "CVE-2") {
		t.Errorf("text lists a finding below fail-on:\n%s", got)
	}
	var sarif bytes.Buffer
	if err := scan.WriteSARIF(&sarif, res, func(string) string { return "web/Dockerfile" }); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID    string
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(sarif.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 2 {
		t.Fatalf("sarif %s", sarif.Bytes())
	}
	r := doc.Runs[0].Results[0]
	if r.RuleID != "CVE-1" || r.Level != "error" || r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "web/Dockerfile" {
		t.Errorf("first result %+v", r)
	}
}
