// Package attest turns what the build and the scan learnt about an image
// into in-toto statements: BuildKit's SLSA provenance, the scanner's SBOM
// and its vulnerability report (cosign's vuln predicate). Signing them is
// internal/sign's job; this package only writes the statements.
package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Kinds of attestation.
const (
	Provenance = "provenance"
	SBOM       = "sbom"
	Vuln       = "vuln"
)

// Predicate types, as `cosign verify-attestation --type` maps its names
// (slsaprovenance1, spdxjson, cyclonedx, vuln).
const (
	PredicateSLSA1     = "https://slsa.dev/provenance/v1"
	PredicateSLSA02    = "https://slsa.dev/provenance/v0.2"
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	PredicateVuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
)

// statementType is the in-toto statement version written; cosign reads it.
const statementType = "https://in-toto.io/Statement/v0.1"

// Subject is one attested artifact: a repository and a digest.
type Subject struct {
	Name   string // the repository, e.g. registry.example.com/team/web
	Digest string // sha256:<hex>
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Statement writes an in-toto statement of predicate about subjects.
func Statement(predicateType string, predicate []byte, subjects []Subject) ([]byte, error) {
	if len(subjects) == 0 {
		return nil, errors.New("statement without subject")
	}
	if !json.Valid(predicate) {
		return nil, fmt.Errorf("%s predicate is not JSON", predicateType)
	}
	st := statement{Type: statementType, PredicateType: predicateType, Predicate: predicate}
	for _, s := range subjects {
		alg, hex, ok := strings.Cut(s.Digest, ":")
		if !ok || hex == "" {
			return nil, fmt.Errorf("subject %q: not a digest", s.Digest)
		}
		st.Subject = append(st.Subject, subject{Name: s.Name, Digest: map[string]string{alg: hex}})
	}
	return json.Marshal(st)
}

// FromProvenance rewrites BuildKit's provenance statement raw to be about
// subjects, keeping its predicate type and predicate.
func FromProvenance(raw []byte, subjects []Subject) ([]byte, error) {
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("reading the build's provenance: %w", err)
	}
	if st.PredicateType != PredicateSLSA1 && st.PredicateType != PredicateSLSA02 {
		return nil, fmt.Errorf("the build's provenance has predicate type %q", st.PredicateType)
	}
	return Statement(st.PredicateType, st.Predicate, subjects)
}

// Source is the git repository and commit a provenance statement names.
type Source struct {
	Repository string
	Commit     string
}

// ProvenanceSource reads the git source of a build from a provenance
// statement: BuildKit records the vcs:source and vcs:revision frontend
// attributes in its metadata (SLSA v1 runDetails.metadata, v0.2
// metadata), and the resolved git materials of a git context.
func ProvenanceSource(stmt []byte) (Source, error) {
	type vcs struct {
		VCS map[string]string `json:"vcs"`
	}
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				ResolvedDependencies []material `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Metadata struct {
					BuildKit vcs `json:"buildkit_metadata"`
				} `json:"metadata"`
			} `json:"runDetails"`
			Metadata struct {
				BuildKit vcs `json:"https://mobyproject.org/buildkit@v1#metadata"`
			} `json:"metadata"`
			Materials []material `json:"materials"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(stmt, &st); err != nil {
		return Source{}, fmt.Errorf("reading provenance: %w", err)
	}
	p := st.Predicate
	v := p.RunDetails.Metadata.BuildKit.VCS
	if len(v) == 0 {
		v = p.Metadata.BuildKit.VCS
	}
	src := Source{Repository: v["source"], Commit: v["revision"]}
	if src.Commit == "" {
		for _, m := range append(p.BuildDefinition.ResolvedDependencies, p.Materials...) {
			if c := m.Digest["sha1"]; c != "" && (strings.HasPrefix(m.URI, "git") || strings.Contains(m.URI, ".git")) {
				src.Commit = c
				if src.Repository == "" {
					src.Repository, _, _ = strings.Cut(m.URI, "#")
				}
				break
			}
		}
	}
	if src.Commit == "" {
		return src, errors.New("the provenance names no git commit")
	}
	return src, nil
}

type material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// SBOMPredicateType is the predicate type of an SBOM format.
func SBOMPredicateType(format string) string {
	if format == "cyclonedx" {
		return PredicateCycloneDX
	}
	return PredicateSPDX
}

// MakeSBOM converts a Trivy JSON report (written with --list-all-pkgs)
// into an SBOM of format (spdx-json or cyclonedx) with `trivy convert`,
// without scanning again.
func MakeSBOM(ctx context.Context, trivy string, report []byte, format string) ([]byte, error) {
	if format == "" {
		format = "spdx-json"
	}
	dir, err := os.MkdirTemp("", "slipway-sbom-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "report.json"), filepath.Join(dir, "sbom.json")
	if err := os.WriteFile(in, report, 0o600); err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, trivy, "convert", "--format", format, "--quiet", "--output", out, in)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("making the SBOM: trivy convert: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("making the SBOM: %w", err)
	}
	return b, nil
}

// Scanner describes the scanner for the vuln predicate.
type Scanner struct {
	Version   string
	DBVersion string
}

// ScannerInfo asks trivy for its version and its database's.
func ScannerInfo(ctx context.Context, trivy, cacheDir string) Scanner {
	args := []string{"version", "--format", "json"}
	if cacheDir != "" {
		args = append(args, "--cache-dir", cacheDir)
	}
	out, err := exec.CommandContext(ctx, trivy, args...).Output()
	var v struct {
		Version         string
		VulnerabilityDB struct {
			Version   int
			UpdatedAt time.Time
		}
	}
	if err != nil || json.Unmarshal(out, &v) != nil {
		return Scanner{Version: "unknown"}
	}
	s := Scanner{Version: v.Version}
	if v.VulnerabilityDB.Version != 0 {
		s.DBVersion = fmt.Sprintf("%d (%s)", v.VulnerabilityDB.Version, v.VulnerabilityDB.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return s
}

// VulnPredicate is cosign's vuln predicate for a Trivy JSON report.
func VulnPredicate(report []byte, sc Scanner) ([]byte, error) {
	var meta struct {
		CreatedAt time.Time `json:"CreatedAt"`
	}
	if err := json.Unmarshal(report, &meta); err != nil {
		return nil, fmt.Errorf("reading the scan report: %w", err)
	}
	if meta.CreatedAt.IsZero() {
		meta.CreatedAt = time.Now()
	}
	type db struct {
		URI     string `json:"uri"`
		Version string `json:"version"`
	}
	p := map[string]any{
		"invocation": map[string]any{"parameters": nil, "uri": "", "event_id": "", "builder.id": "slipway"},
		"scanner": map[string]any{
			"uri":     "pkg:github/aquasecurity/trivy@" + sc.Version,
			"version": sc.Version,
			"db":      db{URI: "pkg:oci/trivy-db", Version: sc.DBVersion},
			"result":  json.RawMessage(report),
		},
		"metadata": map[string]any{"scanStartedOn": meta.CreatedAt.UTC(), "scanFinishedOn": meta.CreatedAt.UTC()},
	}
	return json.Marshal(p)
}
