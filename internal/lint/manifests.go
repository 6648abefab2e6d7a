package lint

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/imagepolicy"
	"github.com/slipway-build/slipway/manifest"
)

// Manifest is one Kubernetes YAML or JSON file, kustomization or Helm
// values file to check; Rules name the image fields of values files.
type Manifest struct {
	Path  string
	Shown string
	Rules []manifest.Rule
}

// lintManifest applies imagepolicy's lint rules to every image reference
// manifest.References finds in the file (containers of workloads,
// kustomization images, fields rules name). skip reports repositories
// whose references are left out (a release rewrites them). A file that is
// not YAML is an error.
func lintManifest(m Manifest, skip func(name.Repository) bool) ([]Finding, error) {
	data, err := os.ReadFile(m.Path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", m.Shown, err)
	}
	refs, err := manifest.References(m.Shown, data, m.Rules)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, r := range refs {
		ref, err := imagepolicy.Parse(r.Image)
		if err != nil {
			continue // not a reference (a template placeholder, say): verify and bump say so
		}
		if skip != nil && skip(ref.Name.Context()) {
			continue
		}
		rs := imagepolicy.Lint
		if r.Container == "" {
			// Kustomization entries and values fields carry no pull policy.
			rs.PullPolicy = imagepolicy.Rule{}
		}
		for _, f := range rs.Check(ref, r.PullPolicy) {
			rule, _ := RuleByID(f.Rule)
			msg := fmt.Sprintf("image %s: %s", r.Image, f.Message)
			if f.Hint != "" {
				msg += ": " + f.Hint
			}
			out = append(out, Finding{
				File: m.Shown, Line: r.Line, Column: max(r.Column, 1), Rule: f.Rule, Severity: severityOf(f.Severity),
				Message: msg, URL: rule.URL, Source: SourceSlipway,
			})
		}
	}
	return readIgnores(data).filter(out, ""), nil
}

func severityOf(s imagepolicy.Severity) Severity {
	switch s {
	case imagepolicy.Error:
		return Error
	case imagepolicy.Warning:
		return Warning
	}
	return Info
}
