package lint

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/project"
)

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFrom(t *testing.T) {
	c, err := ConfigFrom(project.Lint{Skip: []string{"base-unpinned", "FromAsCasing"}, Severity: map[string]string{"root-user": "error"}}, "slipway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Skip["base-unpinned"] || !c.Skip["FromAsCasing"] || c.Severity["root-user"] != Error {
		t.Errorf("config %+v", c)
	}
	for _, l := range []project.Lint{
		{Skip: []string{"base-lates"}, Loc: project.Position{Line: 7, Col: 1}},
		{Severity: map[string]string{"NoSuchRule": "info"}, Loc: project.Position{Line: 7, Col: 1}},
	} {
		_, err := ConfigFrom(l, "slipway.yaml")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.ExitCode() != 2 || !strings.HasPrefix(err.Error(), "slipway.yaml:7:1: ") {
			t.Errorf("ConfigFrom(%+v) = %v, want a ConfigError at slipway.yaml:7:1", l, err)
		}
	}
	_, err = ConfigFrom(project.Lint{Skip: []string{"base-lates"}}, "slipway.yaml")
	if err == nil || !strings.Contains(err.Error(), `did you mean "base-latest"`) {
		t.Errorf("no suggestion: %v", err)
	}
}

// TestConfigApplies: skip and severity change what Run returns.
func TestConfigApplies(t *testing.T) {
	df := Dockerfile{Path: filepath.Join("testdata", "dockerfile", "base-latest.Dockerfile"), Shown: "Dockerfile"}
	cfg := Config{Skip: map[string]bool{RuleBaseUnpinned: true}, Severity: map[string]Severity{RuleBaseLatest: Warning}}
	res, err := Run(context.Background(), Request{Dockerfiles: []Dockerfile{df}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	got := rulesOf(res.Findings)
	if _, ok := got[RuleBaseUnpinned]; ok {
		t.Error("base-unpinned not skipped")
	}
	if got[RuleBaseLatest] != Warning {
		t.Errorf("base-latest at %v, want warning", got[RuleBaseLatest])
	}
	if res.Fails(Error) || !res.Fails(Warning) {
		t.Errorf("Fails: error %v, warning %v", res.Fails(Error), res.Fails(Warning))
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"error": Error, "warning": Warning, "info": Info, "none": None} {
		if got, err := ParseSeverity(in, true); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSeverity("none", false); err == nil {
		t.Error("none accepted where it may not be")
	}
	if _, err := ParseSeverity("fatal", true); err == nil {
		t.Error("fatal accepted")
	}
}
