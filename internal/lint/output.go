package lint

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText writes one line per finding: FILE:LINE:COL: SEVERITY RULE: message.
func WriteText(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if _, err := fmt.Fprintf(w, "%s:%d:%d: %s %s: %s\n", f.File, f.Line, f.Column, f.Severity, f.Rule, f.Message); err != nil {
			return err
		}
	}
	return nil
}

// jsonVersion is the version of the JSON document's shape.
const jsonVersion = 1

// jsonDoc is the --format json document.
type jsonDoc struct {
	Version  int       `json:"version"`
	Findings []Finding `json:"findings"`
	Notes    []string  `json:"notes,omitempty"`
	Summary  summary   `json:"summary"`
}

type summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// WriteJSON writes the result as one JSON document.
func WriteJSON(w io.Writer, r *Result) error {
	doc := jsonDoc{Version: jsonVersion, Findings: r.Findings, Notes: r.Notes,
		Summary: summary{Errors: r.Count(Error), Warnings: r.Count(Warning), Infos: r.Count(Info)}}
	if doc.Findings == nil {
		doc.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// Summary is the one line written after the findings, e.g.
// "2 errors, 1 warning, 0 infos in 3 Dockerfiles, 1 image, 4 manifests".
func (r *Result) Summary() string {
	return fmt.Sprintf("%s, %s, %s in %s, %s, %s",
		count(r.Count(Error), "error"), count(r.Count(Warning), "warning"), count(r.Count(Info), "info"),
		count(r.Dockerfiles, "Dockerfile"), count(r.Images, "image"), count(r.Manifests, "manifest"))
}

func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
