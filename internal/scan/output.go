package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes per image: the counts by severity, then the findings
// at or above the result's FailOn (id, package, installed → fixed,
// severity, title).
func WriteText(w io.Writer, results []Result) error {
	for _, r := range results {
		status := "passed"
		if !r.Passed() {
			status = fmt.Sprintf("FAILED (%d at or above %s)", len(r.Failing), r.FailOn)
		}
		where := r.Image
		if r.Platform != "" {
			where += " " + r.Platform
		}
		var counts []string
		for i := len(Severities) - 1; i >= 0; i-- {
			counts = append(counts, fmt.Sprintf("%s %d", Severities[i], r.Counts[Severities[i]]))
		}
		if _, err := fmt.Fprintf(w, "%s %s: %s; %s\n", where, r.Digest, strings.Join(counts, ", "), status); err != nil {
			return err
		}
		for _, f := range r.Findings {
			if !AtLeast(f.Severity, r.FailOn) {
				continue
			}
			fixed := f.Fixed
			if fixed == "" {
				fixed = "(no fix)"
			}
			note := ""
			if f.Ignored {
				note = " [ignored]"
			}
			if _, err := fmt.Fprintf(w, "  %-8s %s %s %s → %s %s%s\n", f.Severity, f.ID, f.Package, f.Installed, fixed, f.Title, note); err != nil {
				return err
			}
		}
	}
	return nil
}

// SARIF 2.1.0, the part GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription sarifText      `json:"shortDescription"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(sev string) string {
	switch sev {
	case "CRITICAL", "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	}
	return "note"
}

// WriteSARIF writes every finding (ignored ones left out) as a SARIF log.
// file names the source each image comes from (its Dockerfile, relative
// to the repository), where code scanning shows the finding.
func WriteSARIF(w io.Writer, results []Result, file func(image string) string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "slipway scan (trivy)", InformationURI: "https://trivy.dev", Rules: []sarifRule{}}}, Results: []sarifResult{}}
	seen := map[string]bool{}
	for _, r := range results {
		where := r.Image
		if r.Platform != "" {
			where += " (" + r.Platform + ")"
		}
		for _, f := range r.Findings {
			if f.Ignored {
				continue
			}
			if !seen[f.ID] {
				seen[f.ID] = true
				title := f.Title
				if title == "" {
					title = f.ID
				}
				run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{ID: f.ID, ShortDescription: sarifText{Text: title},
					Properties: map[string]any{"security-severity": securitySeverity(f.Severity), "tags": []string{"vulnerability", "security", f.Severity}}})
			}
			fixed := f.Fixed
			if fixed == "" {
				fixed = "no fixed version"
			}
			run.Results = append(run.Results, sarifResult{
				RuleID: f.ID, Level: sarifLevel(f.Severity),
				Message: sarifText{Text: fmt.Sprintf("%s: package %s %s has %s (%s); fixed in %s",
					where, f.Package, f.Installed, f.ID, f.Severity, fixed)},
				Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: file(r.Image)}, Region: sarifRegion{StartLine: 1}}}},
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// securitySeverity is GitHub's numeric severity for a level.
func securitySeverity(sev string) string {
	switch sev {
	case "CRITICAL":
		return "9.5"
	case "HIGH":
		return "8.0"
	case "MEDIUM":
		return "5.5"
	case "LOW":
		return "2.0"
	}
	return "0.0"
}
