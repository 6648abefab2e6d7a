package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"

	"github.com/slipway-build/slipway/internal/imagepolicy"
)

// Manifest is one Kubernetes YAML or JSON file to check.
type Manifest struct {
	Path  string
	Shown string
}

// containerLists are the keys whose items are containers with an image.
var containerLists = map[string]bool{"containers": true, "initContainers": true, "ephemeralContainers": true}

// imageRef is an image a manifest runs, where it is written, and the
// imagePullPolicy beside it.
type imageRef struct {
	ref, policy string
	line, col   int
}

// lintManifest applies imagepolicy's lint rules to every container image
// of every Kubernetes object of the file. skip reports repositories whose
// references are left out (a release rewrites them). Files that are not
// YAML are an error; documents that are not Kubernetes objects are passed
// over.
func lintManifest(m Manifest, skip func(name.Repository) bool) ([]Finding, error) {
	data, err := os.ReadFile(m.Path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", m.Shown, err)
	}
	refs, err := manifestImages(m.Shown, data)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, r := range refs {
		ref, err := imagepolicy.Parse(r.ref)
		if err != nil {
			continue // not a reference (a template placeholder, say): verify and bump say so
		}
		if skip != nil && skip(ref.Name.Context()) {
			continue
		}
		for _, f := range imagepolicy.Lint.Check(ref, r.policy) {
			rule, _ := RuleByID(f.Rule)
			msg := fmt.Sprintf("image %s: %s", r.ref, f.Message)
			if f.Hint != "" {
				msg += ": " + f.Hint
			}
			out = append(out, Finding{
				File: m.Shown, Line: r.line, Column: r.col, Rule: f.Rule, Severity: severityOf(f.Severity),
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

// manifestImages finds the container images of every document of data
// that is a Kubernetes object (has apiVersion and kind).
func manifestImages(file string, data []byte) ([]imageRef, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []imageRef
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if value(root, "apiVersion") == nil || value(root, "kind") == nil {
			continue
		}
		walkContainers(root, &out)
	}
}

// walkContainers collects the image of every item of a containers,
// initContainers or ephemeralContainers list below n, wherever the object
// keeps its pod spec (Pod, template, jobTemplate, custom resources).
func walkContainers(n *yaml.Node, out *[]imageRef) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			if containerLists[k.Value] && v.Kind == yaml.SequenceNode {
				for _, c := range v.Content {
					c = deref(c)
					img := value(c, "image")
					if img == nil || img.Kind != yaml.ScalarNode {
						continue
					}
					r := imageRef{ref: img.Value, line: img.Line, col: img.Column}
					if p := value(c, "imagePullPolicy"); p != nil && p.Kind == yaml.ScalarNode {
						r.policy = p.Value
					}
					*out = append(*out, r)
				}
				continue
			}
			walkContainers(v, out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walkContainers(c, out)
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// value is the value of key in mapping n, or nil.
func value(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}
