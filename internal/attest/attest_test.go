package attest

import (
	"encoding/json"
	"strings"
	"testing"
)

const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

func TestStatement(t *testing.T) {
	b, err := Statement(PredicateSPDX, []byte(`{"spdxVersion":"SPDX-2.3"}`), []Subject{{Name: "r.example/app", Digest: d1}})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string
			Digest map[string]string
		}
		Predicate map[string]string
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != statementType || st.PredicateType != PredicateSPDX || len(st.Subject) != 1 ||
		st.Subject[0].Digest["sha256"] != strings.TrimPrefix(d1, "sha256:") || st.Predicate["spdxVersion"] != "SPDX-2.3" {
		t.Errorf("statement %s", b)
	}
	if _, err := Statement(PredicateSPDX, []byte(`{`), []Subject{{Digest: d1}}); err == nil {
		t.Error("accepted a predicate that is not JSON")
	}
	if _, err := Statement(PredicateSPDX, []byte(`{}`), nil); err == nil {
		t.Error("accepted a statement without subject")
	}
	if _, err := Statement(PredicateSPDX, []byte(`{}`), []Subject{{Digest: "nope"}}); err == nil {
		t.Error("accepted a subject that is not a digest")
	}
}

// buildkitV1 is the shape of BuildKit's SLSA v1 provenance, trimmed.
const buildkitV1 = `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v1",
"subject":[{"name":"_","digest":{"sha256":"9999999999999999999999999999999999999999999999999999999999999999"}}],
"predicate":{"buildDefinition":{"buildType":"https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
"externalParameters":{"request":{"frontend":"dockerfile.v0","args":{"filename":"Dockerfile"}}},
"resolvedDependencies":[{"uri":"pkg:docker/busybox@latest","digest":{"sha256":"ab"}}]},
"runDetails":{"builder":{"id":""},"metadata":{"invocationID":"x",
"buildkit_metadata":{"vcs":{"revision":"0123456789abcdef0123456789abcdef01234567","source":"https://git.example.com/app.git"}}}}}}`

func TestFromProvenance(t *testing.T) {
	b, err := FromProvenance([]byte(buildkitV1), []Subject{{Name: "r/app", Digest: d1}, {Name: "r/app", Digest: d2}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "9999") || !strings.Contains(string(b), strings.TrimPrefix(d2, "sha256:")) || !strings.Contains(string(b), `"predicateType":"https://slsa.dev/provenance/v1"`) {
		t.Errorf("rewritten statement %s", b)
	}
	src, err := ProvenanceSource(b)
	if err != nil || src.Commit != "0123456789abcdef0123456789abcdef01234567" || src.Repository != "https://git.example.com/app.git" {
		t.Errorf("source %+v, %v", src, err)
	}
	if _, err := FromProvenance([]byte(`{"predicateType":"https://spdx.dev/Document","predicate":{}}`), []Subject{{Digest: d1}}); err == nil {
		t.Error("accepted an SBOM as provenance")
	}
	if _, err := ProvenanceSource([]byte(`{"predicate":{"runDetails":{}}}`)); err == nil {
		t.Error("found a commit in a provenance without one")
	}
}

func TestVulnPredicate(t *testing.T) {
	report := []byte(`{"SchemaVersion":2,"CreatedAt":"2026-12-01T10:00:00Z","Results":[]}`)
	b, err := VulnPredicate(report, Scanner{Version: "0.74.0", DBVersion: "2"})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Scanner struct {
			URI, Version string
			Result       map[string]any
		}
		Metadata struct{ ScanStartedOn string }
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Scanner.Version != "0.74.0" || p.Scanner.Result["SchemaVersion"] != float64(2) || p.Metadata.ScanStartedOn != "2026-12-01T10:00:00Z" {
		t.Errorf("predicate %s", b)
	}
}
