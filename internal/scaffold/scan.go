// Package scaffold writes a first slipway.yaml for an existing repository:
// it finds the Dockerfiles, Kubernetes manifests, kustomizations and Helm
// charts, infers each image's name from its folder and the registry from
// the image references the manifests already use.
package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// Project is what Scan found. Paths are slash-separated and relative to
// the scanned folder.
type Project struct {
	Root   string
	Images []Image
	// Registry is the inferred registry+path; "" when no reference in the
	// manifests names one of the images.
	Registry string
	// Votes of Total references to the images agreed on Registry.
	Votes, Total int
	// Manifests are the files holding Kubernetes objects, Kustomizations
	// the kustomization files, Charts the Helm charts.
	Manifests      []string
	Kustomizations []string
	Charts         []Chart
	// Dirs are the manifest folders to bump (the top-most ones holding
	// manifests or kustomizations), Files the manifests at the root itself.
	Dirs, Files []string
	// refs are the image references the manifests and values use.
	refs []string
}

// Image is one Dockerfile and the name given to its image.
type Image struct {
	Name       string
	Context    string // folder of the Dockerfile, "." for the root
	Dockerfile string // file name within Context
	// Used is how many references in the manifests name this image.
	Used int
}

// Chart is a Helm chart and its values files' image fields.
type Chart struct {
	Dir    string
	Values []Values
}

// Values is one values file and the image blocks found in it.
type Values struct {
	File  string
	Rules []Rule
}

// Rule names an image's fields in a values file, as slipway.yaml's rules: do.
type Rule struct {
	Repository, Tag, Digest string
	// Value is the repository the file holds now.
	Value string
}

// skipDirs are never searched: vendored code, packages and test fixtures
// hold Dockerfiles and manifests that are not the project's.
var skipDirs = map[string]bool{"vendor": true, "node_modules": true, "testdata": true}

// Scan walks root and describes the project it holds.
func Scan(ctx context.Context, root string) (*Project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", root, err)
	}
	p := &Project{Root: abs}
	var dockerfiles []string
	chartDirs := map[string]bool{}
	var yamlFiles []string
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(abs, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != abs && (strings.HasPrefix(d.Name(), ".") || skipDirs[d.Name()]) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "Chart.yaml")); err == nil {
				chartDirs[rel] = true
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		n := d.Name()
		switch {
		case n == "Dockerfile" || n == "Containerfile" || strings.HasSuffix(n, ".Dockerfile"):
			dockerfiles = append(dockerfiles, rel)
		case strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml"):
			yamlFiles = append(yamlFiles, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("searching %s: %w", root, err)
	}
	p.Images = imagesFor(dockerfiles, filepath.Base(abs))

	inChart := func(rel string) string {
		for d := filepath.ToSlash(filepath.Dir(rel)); ; d = filepath.ToSlash(filepath.Dir(d)) {
			if chartDirs[d] {
				return d
			}
			if d == "." || d == "/" {
				return ""
			}
		}
	}
	charts := map[string]*Chart{}
	for _, rel := range yamlFiles {
		base := filepath.Base(rel)
		if chart := inChart(rel); chart != "" {
			if filepath.ToSlash(filepath.Dir(rel)) == chart && strings.HasPrefix(base, "values") {
				c := charts[chart]
				if c == nil {
					c = &Chart{Dir: chart}
					charts[chart] = c
				}
				v, refs, err := scanValues(filepath.Join(abs, rel), rel)
				if err != nil {
					return nil, err
				}
				if len(v.Rules) > 0 {
					c.Values = append(c.Values, v)
				}
				p.refs = append(p.refs, refs...)
			}
			continue
		}
		data, err := os.ReadFile(filepath.Join(abs, rel))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", rel, err)
		}
		kind, refs := classify(data, base)
		switch kind {
		case kindKustomization:
			p.Kustomizations = append(p.Kustomizations, rel)
		case kindObject:
			p.Manifests = append(p.Manifests, rel)
		default:
			continue
		}
		p.refs = append(p.refs, refs...)
	}
	for _, c := range charts {
		p.Charts = append(p.Charts, *c)
	}
	sort.Slice(p.Charts, func(i, j int) bool { return p.Charts[i].Dir < p.Charts[j].Dir })
	p.Dirs, p.Files = topFolders(append(append([]string{}, p.Manifests...), p.Kustomizations...))
	p.inferRegistry()
	p.keepOwnValues()
	return p, nil
}

var invalidName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9._-]+`) })

// imagesFor names an image after its Dockerfile's folder (the repository's
// folder for one at the root), or X for X.Dockerfile; clashing names get
// their parent folder's name in front.
func imagesFor(dockerfiles []string, rootName string) []Image {
	sort.Strings(dockerfiles)
	var out []Image
	used := map[string]int{}
	for _, rel := range dockerfiles {
		dir := filepath.ToSlash(filepath.Dir(rel))
		file := filepath.Base(rel)
		n := filepath.Base(dir)
		if dir == "." {
			n = rootName
		}
		if strings.HasSuffix(file, ".Dockerfile") {
			n = strings.TrimSuffix(file, ".Dockerfile")
		}
		n = cleanName(n)
		if used[n] > 0 && dir != "." {
			if parent := filepath.Base(filepath.Dir(dir)); parent != "." {
				n = cleanName(parent) + "-" + n
			}
		}
		used[n]++
		if used[n] > 1 {
			n = fmt.Sprintf("%s-%d", n, used[n])
		}
		out = append(out, Image{Name: n, Context: dir, Dockerfile: file})
	}
	return out
}

func cleanName(s string) string {
	s = strings.Trim(invalidName().ReplaceAllString(strings.ToLower(s), "-"), "-._")
	if s == "" {
		return "app"
	}
	return s
}

type fileKind int

const (
	kindOther fileKind = iota
	kindObject
	kindKustomization
)

// classify tells Kubernetes objects and kustomizations from other YAML, and
// collects the image references they hold.
func classify(data []byte, base string) (fileKind, []string) {
	kind := kindOther
	if base == "kustomization.yaml" || base == "kustomization.yml" {
		kind = kindKustomization
	}
	var refs []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[0]
		api, k := scalar(m, "apiVersion"), scalar(m, "kind")
		switch {
		case k == "Kustomization" || k == "Component":
			kind = kindKustomization
		case api != "" && k != "":
			if kind == kindOther {
				kind = kindObject
			}
		case kind != kindKustomization:
			continue
		}
		collectImages(m, &refs)
	}
	return kind, refs
}

// collectImages gathers the string values of image: keys (containers) and
// of kustomization images: entries' newName or name.
func collectImages(n *yaml.Node, refs *[]string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "image" && v.Kind == yaml.ScalarNode && v.Value != "":
				*refs = append(*refs, v.Value)
			case k.Value == "images" && v.Kind == yaml.SequenceNode:
				for _, e := range v.Content {
					if e.Kind != yaml.MappingNode {
						continue
					}
					if s := scalar(e, "newName"); s != "" {
						*refs = append(*refs, s)
					} else if s := scalar(e, "name"); s != "" {
						*refs = append(*refs, s)
					}
				}
			default:
				collectImages(v, refs)
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			collectImages(c, refs)
		}
	}
}

func scalar(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// scanValues finds the image blocks of a Helm values file: mappings with a
// repository string, and their tag and digest siblings.
func scanValues(path, rel string) (Values, []string, error) {
	v := Values{File: rel}
	data, err := os.ReadFile(path)
	if err != nil {
		return v, nil, fmt.Errorf("reading %s: %w", rel, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return v, nil, nil // not YAML that Helm could read either; nothing to offer
	}
	var refs []string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		if repo := scalar(n, "repository"); repo != "" && !strings.Contains(repo, "{{") {
			r := Rule{Repository: join(path, "repository"), Value: repo}
			if has(n, "tag") {
				r.Tag = join(path, "tag")
			}
			if has(n, "digest") {
				r.Digest = join(path, "digest")
			}
			if r.Tag == "" && r.Digest == "" {
				r.Tag = join(path, "tag")
			}
			v.Rules = append(v.Rules, r)
			refs = append(refs, repo)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if k == "" || strings.ContainsAny(k, ".[]*") {
				continue
			}
			walk(n.Content[i+1], join(path, k))
		}
	}
	walk(doc.Content[0], "")
	return v, refs, nil
}

func has(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// topFolders reduces files to the top-level folders holding them (a
// kustomize tree of bases and overlays is one entry); files at the root
// are returned by name, since walking the root would take in every YAML
// file of the repository.
func topFolders(files []string) (dirs, rootFiles []string) {
	set := map[string]bool{}
	for _, f := range files {
		top, rest, nested := strings.Cut(f, "/")
		if !nested || rest == "" {
			rootFiles = append(rootFiles, f)
			continue
		}
		set[top] = true
	}
	for d := range set {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	sort.Strings(rootFiles)
	return dirs, rootFiles
}

// inferRegistry takes the most common registry+path among the references
// whose repository ends in an image's name.
func (p *Project) inferRegistry() {
	votes := map[string]int{}
	for _, s := range p.refs {
		if !explicitRegistry(s) {
			// "frontend" or "team/web": a placeholder another tool
			// rewrites (Skaffold, kustomize), not a registry in use.
			continue
		}
		ref, err := name.ParseReference(s)
		if err != nil {
			continue
		}
		repo := ref.Context()
		reg := repo.RegistryStr()
		if reg == name.DefaultRegistry {
			reg = "docker.io"
		}
		path := repo.RepositoryStr()
		for i := range p.Images {
			n := p.Images[i].Name
			var base string
			switch {
			case path == n:
				base = reg
			case strings.HasSuffix(path, "/"+n):
				base = reg + "/" + strings.TrimSuffix(path, "/"+n)
			default:
				continue
			}
			p.Images[i].Used++
			votes[base]++
			p.Total++
		}
	}
	for base, n := range votes {
		if n > p.Votes || n == p.Votes && base < p.Registry {
			p.Registry, p.Votes = base, n
		}
	}
}

// explicitRegistry reports whether a reference names its registry, as
// "ghcr.io/acme/web" and "localhost:5000/web" do and "web" does not.
func explicitRegistry(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// keepOwnValues drops values rules for images that are not the project's,
// once some rule names one of its images: a chart's other images (a
// database, a sidecar) are someone else's to bump.
func (p *Project) keepOwnValues() {
	own := func(repo string) bool {
		for _, img := range p.Images {
			if repo == img.Name || strings.HasSuffix(repo, "/"+img.Name) {
				return true
			}
		}
		return false
	}
	any := false
	for _, c := range p.Charts {
		for _, v := range c.Values {
			for _, r := range v.Rules {
				any = any || own(r.Value)
			}
		}
	}
	if !any {
		return
	}
	for ci := range p.Charts {
		vals := p.Charts[ci].Values[:0]
		for _, v := range p.Charts[ci].Values {
			rules := v.Rules[:0]
			for _, r := range v.Rules {
				if own(r.Value) {
					rules = append(rules, r)
				}
			}
			if v.Rules = rules; len(rules) > 0 {
				vals = append(vals, v)
			}
		}
		p.Charts[ci].Values = vals
	}
}

// ErrExists is returned by Write when the file is there and force is not set.
var ErrExists = errors.New("file exists")
