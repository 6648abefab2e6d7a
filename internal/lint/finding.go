// Package lint finds departures from container best practices in
// Dockerfiles (BuildKit's own build checks first, then slipway's rules),
// in the images of the local store and in Kubernetes manifests, and writes
// them as text, JSON or SARIF.
package lint

import (
	"fmt"
	"sort"
	"strings"
)

// Severity orders findings: Info < Warning < Error.
type Severity int

const (
	Info Severity = iota + 1
	Warning
	Error
	// None is above every severity: --fail-on none never fails.
	None
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	case None:
		return "none"
	}
	return "unknown"
}

// MarshalText writes the severity's name, for JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b), true)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads info, warning or error; withNone also accepts none.
func ParseSeverity(s string, withNone bool) (Severity, error) {
	switch strings.ToLower(s) {
	case "info":
		return Info, nil
	case "warning":
		return Warning, nil
	case "error":
		return Error, nil
	case "none":
		if withNone {
			return None, nil
		}
	}
	if withNone {
		return 0, fmt.Errorf("%q is not one of error, warning, info, none", s)
	}
	return 0, fmt.Errorf("%q is not one of error, warning, info", s)
}

// Where a rule comes from.
const (
	SourceBuildKit = "buildkit"
	SourceSlipway  = "slipway"
)

// Finding is one departure from a rule, at a place in a file (or in an
// image of the store, whose File is "store:NAME" and Line 0).
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	URL      string   `json:"url,omitempty"`
	Source   string   `json:"source"`
}

// Less sorts findings by file, line, column, then rule.
func (f Finding) less(g Finding) bool {
	if f.File != g.File {
		return f.File < g.File
	}
	if f.Line != g.Line {
		return f.Line < g.Line
	}
	if f.Column != g.Column {
		return f.Column < g.Column
	}
	if f.Rule != g.Rule {
		return f.Rule < g.Rule
	}
	return f.Message < g.Message
}

// Sort orders findings by file and position.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].less(fs[j]) })
}

// Rule describes one check.
type Rule struct {
	ID          string
	Severity    Severity
	Description string
	URL         string
	Source      string
}
