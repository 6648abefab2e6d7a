package lint

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/NAME, or writes it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", p, got, want)
	}
}

func rulesOf(fs []Finding) map[string]Severity {
	m := map[string]Severity{}
	for _, f := range fs {
		if s, ok := m[f.Rule]; !ok || f.Severity > s {
			m[f.Rule] = f.Severity
		}
	}
	return m
}

// TestDockerfiles lints each testdata/dockerfile/*.Dockerfile and compares
// the text output with its .golden file. The table says, besides, which
// rules each file must and must not trip, so that a golden file rewritten
// with -update cannot hide a rule that stopped working.
func TestDockerfiles(t *testing.T) {
	tests := map[string]struct {
		args    map[string]string
		target  string
		cfg     Config
		want    map[string]Severity // rule → highest severity expected
		notWant []string
		wantErr string
	}{
		"clean":            {},
		"fromascasing":     {want: map[string]Severity{"FromAsCasing": Warning}},
		"stagenamecasing":  {want: map[string]Severity{"StageNameCasing": Warning}},
		"jsonargs":         {want: map[string]Severity{"JSONArgsRecommended": Warning}},
		"secrets":          {want: map[string]Severity{"SecretsUsedInArgOrEnv": Warning}},
		"undefinedvar":     {want: map[string]Severity{"UndefinedVar": Warning}},
		"skip":             {notWant: []string{"FromAsCasing", "JSONArgsRecommended"}},
		"check-error":      {want: map[string]Severity{"JSONArgsRecommended": Error}},
		"check-arg":        {args: map[string]string{checkArg: "skip=JSONArgsRecommended"}, want: map[string]Severity{"FromAsCasing": Warning}, notWant: []string{"JSONArgsRecommended"}},
		"check-arg-insert": {args: map[string]string{checkArg: "skip=FromAsCasing"}, want: map[string]Severity{"JSONArgsRecommended": Warning}, notWant: []string{"FromAsCasing"}},
		"base-latest":      {want: map[string]Severity{RuleBaseLatest: Error, RuleBaseUnpinned: Info}},
		"base-unpinned":    {want: map[string]Severity{RuleBaseUnpinned: Info}, notWant: []string{RuleBaseLatest}},
		"root-user":        {want: map[string]Severity{RuleRootUser: Warning}},
		"root-user-arg":    {want: map[string]Severity{RuleRootUser: Warning}},
		"root-user-none":   {want: map[string]Severity{RuleRootUser: Warning}},
		"layers":           {cfg: Config{MaxLayers: 5}, want: map[string]Severity{RuleLayers: Warning}},
		"ignore":           {want: map[string]Severity{"FromAsCasing": Warning}, notWant: []string{RuleBaseLatest, RuleBaseUnpinned, RuleRootUser}},
		"target":           {target: "debug", want: map[string]Severity{RuleRootUser: Warning}},
		"broken":           {wantErr: "broken.Dockerfile:2: "},
	}
	files, err := filepath.Glob("testdata/dockerfile/*.Dockerfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Dockerfiles: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			tt, ok := tests[name]
			if !ok {
				t.Fatalf("%s is not in the table", f)
			}
			df := Dockerfile{Path: f, Shown: filepath.Base(f), Args: tt.args, Target: tt.target}
			res, err := Run(context.Background(), Request{Dockerfiles: []Dockerfile{df}, Config: tt.cfg})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := rulesOf(res.Findings)
			if len(tt.want) == 0 && len(tt.notWant) == 0 && len(res.Findings) > 0 {
				t.Errorf("want no finding, got %v", res.Findings)
			}
			for r, sev := range tt.want {
				if got[r] != sev {
					t.Errorf("rule %s: severity %v, want %v", r, got[r], sev)
				}
			}
			for _, r := range tt.notWant {
				if _, ok := got[r]; ok {
					t.Errorf("rule %s reported, want it skipped", r)
				}
			}
			var buf bytes.Buffer
			if err := WriteText(&buf, res.Findings); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("dockerfile", name+".golden"), buf.Bytes())
		})
	}
}
