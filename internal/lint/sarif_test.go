package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchemaID is the official identifier of the SARIF 2.1.0 schema;
// testdata/sarif/sarif-schema-2.1.0.json is that document.
const sarifSchemaID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

func loadSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if id := doc.(map[string]any)["id"]; id != sarifSchemaID {
		t.Fatalf("schema id %v, want %s", id, sarifSchemaID)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(sarifSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(sarifSchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validateSARIF(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

// TestSARIFValid: the SARIF log of findings from every kind of rule is
// valid for the SARIF 2.1.0 schema and has what GitHub code scanning reads.
func TestSARIFValid(t *testing.T) {
	sch := loadSARIFSchema(t)
	var dfs []Dockerfile
	for _, n := range []string{"base-latest", "fromascasing", "secrets", "layers", "check-error"} {
		dfs = append(dfs, Dockerfile{Path: filepath.Join("testdata", "dockerfile", n+".Dockerfile"), Shown: "docker files/" + n + ".Dockerfile"})
	}
	ms := []Manifest{{Path: filepath.Join("testdata", "manifests", "deploy.yaml"), Shown: "deploy/deploy.yaml"}}
	res, err := Run(context.Background(), Request{Dockerfiles: dfs, Manifests: ms})
	if err != nil {
		t.Fatal(err)
	}
	res.Findings = append(res.Findings, Finding{File: "web/Dockerfile", Line: 1, Column: 1, Rule: RuleImageSecret, Severity: Error, Message: "image web: layer 2 holds /root/.ssh/id_rsa", URL: DocsURL + "#image-secret", Source: SourceSlipway},
		Finding{File: "x/Dockerfile", Line: 3, Column: 1, Rule: "SomeNewBuildKitRule", Severity: Warning, Message: "a rule this list does not know", URL: "https://docs.docker.com/go/dockerfile/rule/some-new/", Source: SourceBuildKit})
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, res.Findings, "1.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := validateSARIF(t, sch, buf.Bytes()); err != nil {
		t.Fatalf("SARIF not valid: %v\n%s", err, buf.String())
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID      string `json:"id"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "slipway" {
		t.Fatalf("log header: %+v", log)
	}
	run := log.Runs[0]
	if len(run.Results) != len(res.Findings) {
		t.Errorf("%d results for %d findings", len(run.Results), len(res.Findings))
	}
	levels := map[string]bool{}
	for _, r := range run.Results {
		levels[r.Level] = true
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s points at rule %s", r.RuleID, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.Region.StartLine < 1 {
			t.Errorf("%s: startLine %d", r.RuleID, loc.Region.StartLine)
		}
		if u := loc.ArtifactLocation.URI; strings.HasPrefix(u, "/") || strings.Contains(u, ":") || strings.Contains(u, " ") {
			t.Errorf("uri %q is not a relative URI reference", u)
		}
	}
	for _, l := range []string{"error", "warning", "note"} {
		if !levels[l] {
			t.Errorf("no result at level %s", l)
		}
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.HelpURI == "" {
			t.Errorf("rule %s has no helpUri", r.ID)
		}
	}
}

// TestSARIFSchemaRejects: the validator does catch a log that breaks the
// schema, so TestSARIFValid cannot pass by validating nothing.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := loadSARIFSchema(t)
	for name, doc := range map[string]string{
		"no message":    `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r"}]}]}`,
		"bad level":     `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r","level":"info","message":{"text":"m"}}]}]}`,
		"line 0":        `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":0}}}]}]}]}`,
		"wrong version": `{"version":"2.0.0","runs":[]}`,
	} {
		if err := validateSARIF(t, sch, []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJSONOutput(t *testing.T) {
	df := Dockerfile{Path: filepath.Join("testdata", "dockerfile", "base-latest.Dockerfile"), Shown: "Dockerfile"}
	res, err := Run(context.Background(), Request{Dockerfiles: []Dockerfile{df}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version  int       `json:"version"`
		Findings []Finding `json:"findings"`
		Summary  struct{ Errors, Warnings, Infos int }
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Findings) != len(res.Findings) || doc.Summary.Errors != res.Count(Error) {
		t.Fatalf("JSON document %s", buf.String())
	}
	f := doc.Findings[0]
	if f.File != "Dockerfile" || f.Line == 0 || f.Rule == "" || f.Severity == 0 || f.URL == "" || f.Source == "" {
		t.Errorf("finding fields missing: %+v", f)
	}
}
