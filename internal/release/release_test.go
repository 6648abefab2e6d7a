package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/tagging"
)

const testDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: registry.example.com/team/web:old # bumped on release
`

func testProject(t *testing.T, extra map[string]string) (*project.Config, *Plan) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"deploy/web.yaml": deployment}
	for k, v := range extra {
		files[k] = v
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := project.Parse("slipway.yaml", dir, []byte(`
registry: registry.example.com/team
tags: ["{{.Version}}", "{{.ShortCommit}}"]
images: [{name: web}]
sign: {key: cosign.key}
manifests: [{paths: [deploy/]}]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	facts := tagging.Facts{InRepo: true, Commit: "abcdef0123456789", ShortCommit: "abcdef0", Tag: "v1.2.3",
		Version: "1.2.3", Major: "1", Minor: "2", Patch: "3", CommitTime: time.Unix(1700000000, 0)}
	plan, err := MakePlan(cfg, facts, PlanOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, plan
}

// fakes records the order of the stages and fails the one named.
type fakes struct {
	calls []string
	fail  string
}

var errFake = errors.New("fake failure")

func (f *fakes) stages() Stages {
	return Stages{
		OpenSigner: func(ctx context.Context, plan *Plan) (Signer, error) {
			f.calls = append(f.calls, "open-signer")
			if f.fail == "open-signer" {
				return nil, errFake
			}
			return f, nil
		},
		Build: func(ctx context.Context, plan *Plan, rep *report.Report) error {
			f.calls = append(f.calls, "build")
			if f.fail == "build" {
				return errFake
			}
			for _, img := range plan.Images {
				rep.Upsert(img.Name).Digest = testDigest
			}
			return nil
		},
		Push: func(ctx context.Context, plan *Plan, rep *report.Report) error {
			f.calls = append(f.calls, "push")
			if f.fail == "push" {
				return errFake
			}
			for _, img := range plan.Images {
				r := rep.Upsert(img.Name)
				for _, ref := range img.Refs {
					r.Pushed = append(r.Pushed, ref.String()+"@"+r.Digest)
				}
			}
			return nil
		},
	}
}

func (f *fakes) Sign(ctx context.Context, targets []SignTarget, rep *report.Report) error {
	f.calls = append(f.calls, "sign")
	if f.fail == "sign" {
		return errFake
	}
	for _, tg := range targets {
		r := rep.Upsert(tg.Name)
		r.Signatures = append(r.Signatures, tg.Digest.Context().String()+":sha256-1111.sig")
	}
	return nil
}

func TestReleaseOrderAndBump(t *testing.T) {
	cfg, plan := testProject(t, nil)
	f := &fakes{}
	rep := report.New("release", "test")
	changes, err := f.stages().Release(context.Background(), cfg, plan, "", rep, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, ","); got != "open-signer,build,push,sign" {
		t.Errorf("stages ran as %s", got)
	}
	got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
	want := strings.Replace(deployment, "web:old", "web:1.2.3@"+testDigest, 1)
	if string(got) != want {
		t.Errorf("manifest:\n%s\nwant:\n%s", got, want)
	}
	if len(changes.Changed()) != 1 || len(rep.Manifests) != 1 || rep.Manifests[0].Edits[0].New != "registry.example.com/team/web:1.2.3@"+testDigest {
		t.Errorf("edits: %+v", rep.Manifests)
	}
	var stages []string
	for _, s := range rep.Stages {
		stages = append(stages, s.Name)
	}
	if strings.Join(stages, ",") != "build,push,sign,bump" {
		t.Errorf("report stages %v", stages)
	}
	img := rep.Image("web")
	if img.Repository != "registry.example.com/team/web" || strings.Join(img.Tags, ",") != "1.2.3,abcdef0" || len(img.Signatures) != 1 {
		t.Errorf("report image %+v", img)
	}
}

func TestReleaseFailureLeavesManifests(t *testing.T) {
	tests := []struct {
		fail string
		ran  string
	}{
		{"open-signer", "open-signer"},
		{"build", "open-signer,build"},
		{"push", "open-signer,build,push"},
		{"sign", "open-signer,build,push,sign"},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			cfg, plan := testProject(t, nil)
			f := &fakes{fail: tt.fail}
			rep := report.New("release", "test")
			_, err := f.stages().Release(context.Background(), cfg, plan, "", rep, false)
			if !errors.Is(err, errFake) {
				t.Fatalf("err = %v", err)
			}
			if got := strings.Join(f.calls, ","); got != tt.ran {
				t.Errorf("stages ran as %s, want %s", got, tt.ran)
			}
			got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
			if string(got) != deployment {
				t.Errorf("manifest changed by a failed release:\n%s", got)
			}
			if len(rep.Manifests) != 0 {
				t.Errorf("report lists edits of a failed release: %+v", rep.Manifests)
			}
			// What did get pushed stays on record.
			if tt.fail == "sign" && len(rep.Image("web").Pushed) != 2 {
				t.Errorf("pushed refs missing from the report: %+v", rep.Image("web"))
			}
		})
	}
}

func TestReleaseBrokenManifestStopsEarly(t *testing.T) {
	cfg, plan := testProject(t, map[string]string{"deploy/broken.yaml": "apiVersion: v1\nkind: Pod\nspec: [\n"})
	f := &fakes{}
	_, err := f.stages().Release(context.Background(), cfg, plan, "", report.New("release", "test"), false)
	if err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("err = %v, want one naming broken.yaml", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("stages ran before the manifests were checked: %v", f.calls)
	}
}

func TestReleaseDryRun(t *testing.T) {
	cfg, plan := testProject(t, nil)
	f := &fakes{}
	rep := report.New("release", "test")
	changes, err := f.stages().Release(context.Background(), cfg, plan, "", rep, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 {
		t.Errorf("a dry run ran %v", f.calls)
	}
	got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
	if string(got) != deployment {
		t.Error("a dry run wrote a manifest")
	}
	var diff strings.Builder
	if err := changes.Diff(&diff); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff.String(), "+          image: registry.example.com/team/web:1.2.3@"+PlaceholderDigest+" # bumped on release") {
		t.Errorf("dry-run diff:\n%s", diff.String())
	}
	if !rep.DryRun || len(rep.Manifests) != 1 {
		t.Errorf("report: dryRun %v, manifests %+v", rep.DryRun, rep.Manifests)
	}
}

func TestPinOverride(t *testing.T) {
	cfg, plan := testProject(t, nil)
	f := &fakes{}
	if _, err := f.stages().Release(context.Background(), cfg, plan, project.PinDigest, report.New("release", "test"), false); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
	if !strings.Contains(string(got), "image: registry.example.com/team/web@"+testDigest+" #") {
		t.Errorf("pin digest:\n%s", got)
	}
}

func TestPlanFromReportRoundTrip(t *testing.T) {
	cfg, plan := testProject(t, nil)
	rep := report.New("build", "test")
	RecordPlan(plan, rep)
	again, err := PlanFromReport(cfg, rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Images) != 1 || len(again.Images[0].Refs) != len(plan.Images[0].Refs) {
		t.Fatalf("plan from report: %+v", again.Images)
	}
	for i, ref := range plan.Images[0].Refs {
		if again.Images[0].Refs[i].String() != ref.String() {
			t.Errorf("ref %d: %s, want %s", i, again.Images[0].Refs[i], ref)
		}
	}
	if again.Facts.Commit != plan.Facts.Commit {
		t.Errorf("commit %q", again.Facts.Commit)
	}
}

func TestReleaseSkipsWhatIsUnchanged(t *testing.T) {
	cfg, plan := testProject(t, nil)
	f := &fakes{}
	st := f.stages()
	st.Unchanged = func(ctx context.Context, plan *Plan, rep *report.Report) (map[string]Existing, error) {
		f.calls = append(f.calls, "unchanged")
		return map[string]Existing{"web": {}}, nil
	}
	st.Retag = func(ctx context.Context, plan *Plan, found map[string]Existing, rep *report.Report) error {
		f.calls = append(f.calls, "retag")
		for _, img := range plan.Images {
			r := rep.Upsert(img.Name)
			r.Digest, r.Skipped = testDigest, true
		}
		return nil
	}
	rep := report.New("release", "test")
	if _, err := st.Release(context.Background(), cfg, plan, "", rep, false); err != nil {
		t.Fatal(err)
	}
	// Every image is unchanged: nothing is built or pushed, the existing
	// image is tagged, signed (the signer skips what is signed) and bumped.
	if got := strings.Join(f.calls, ","); got != "open-signer,unchanged,retag,sign" {
		t.Errorf("stages ran as %s", got)
	}
	got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
	if !strings.Contains(string(got), "web:1.2.3@"+testDigest) {
		t.Errorf("manifest not bumped to the existing image:\n%s", got)
	}
}
