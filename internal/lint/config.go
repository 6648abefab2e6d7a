package lint

import (
	"fmt"
	"sort"

	"github.com/slipway-build/slipway/internal/project"
)

// Defaults of the bounds.
const (
	DefaultMaxLayers = 20
	DefaultMaxBaseMB = 300
)

// Config says which rules run, at which severity, with which bounds. The
// zero value checks every rule at its default severity.
type Config struct {
	// Skip holds rules that are not checked.
	Skip map[string]bool
	// Severity overrides the severity of a rule.
	Severity map[string]Severity
	// MaxLayers bounds layers and image-layers; 0 means DefaultMaxLayers.
	MaxLayers int
	// MaxBaseMB bounds base-size; 0 means DefaultMaxBaseMB.
	MaxBaseMB int
	// MaxImageMB bounds image-size; 0 means no bound.
	MaxImageMB int
}

// ConfigError is a lint: setting that names no rule; exit 2.
type ConfigError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}
func (e *ConfigError) ExitCode() int { return 2 }
func (e *ConfigError) Hint() string  { return "docs/lint.md lists every rule" }

// ConfigFrom turns slipway.yaml's lint: into a Config, refusing rule names
// that are neither slipway's nor BuildKit's. file names slipway.yaml in
// the error.
func ConfigFrom(l project.Lint, file string) (Config, error) {
	c := Config{MaxLayers: l.MaxLayers, MaxBaseMB: l.MaxBaseMB, MaxImageMB: l.MaxImageMB}
	check := func(where, id string) error {
		if _, ok := knownRule(id); ok {
			return nil
		}
		msg := fmt.Sprintf("%s: unknown rule %q", where, id)
		if s := project.Suggest(id, ruleNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return &ConfigError{File: file, Line: l.Loc.Line, Col: l.Loc.Col, Msg: msg}
	}
	for _, id := range l.Skip {
		if err := check("lint.skip", id); err != nil {
			return Config{}, err
		}
		if c.Skip == nil {
			c.Skip = map[string]bool{}
		}
		c.Skip[id] = true
	}
	ids := make([]string, 0, len(l.Severity))
	for id := range l.Severity {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := check("lint.severity", id); err != nil {
			return Config{}, err
		}
		sev, err := ParseSeverity(l.Severity[id], false)
		if err != nil {
			return Config{}, &ConfigError{File: file, Line: l.Loc.Line, Col: l.Loc.Col, Msg: fmt.Sprintf("lint.severity.%s: %v", id, err)}
		}
		if c.Severity == nil {
			c.Severity = map[string]Severity{}
		}
		c.Severity[id] = sev
	}
	return c, nil
}

func (c Config) maxLayers() int {
	if c.MaxLayers > 0 {
		return c.MaxLayers
	}
	return DefaultMaxLayers
}

func (c Config) maxBaseMB() int {
	if c.MaxBaseMB > 0 {
		return c.MaxBaseMB
	}
	return DefaultMaxBaseMB
}

// skipped reports whether rule id is turned off.
func (c Config) skipped(id string) bool { return c.Skip[id] }

// apply drops the skipped rules' findings and sets configured severities.
func (c Config) apply(fs []Finding) []Finding {
	out := fs[:0]
	for _, f := range fs {
		if c.Skip[f.Rule] {
			continue
		}
		if s, ok := c.Severity[f.Rule]; ok {
			f.Severity = s
		}
		out = append(out, f)
	}
	return out
}
