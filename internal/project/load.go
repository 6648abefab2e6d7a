package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.yaml.in/yaml/v3"

	"github.com/slipway-build/slipway/internal/tagging"
)

// ErrNotFound is returned (wrapped) when the project file does not exist.
var ErrNotFound = errors.New("no project file")

// LookupEnv is the environment lookup Load uses; os.LookupEnv in production.
type LookupEnv func(string) (string, bool)

// Load reads, decodes and validates the project file at path. Problems in
// the file come back together as *Problems. Relative paths in the file are
// made absolute against the file's folder.
func Load(path string, getenv LookupEnv) (*Config, error) {
	return LoadNamed(path, path, getenv)
}

// LoadNamed is Load with the name the file is shown as in messages.
func LoadNamed(path, shown string, getenv LookupEnv) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &notFoundError{path: shown}
		}
		return nil, fmt.Errorf("reading %s: %w", shown, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	return Parse(shown, filepath.Dir(abs), data, getenv)
}

type notFoundError struct{ path string }

func (e *notFoundError) Error() string { return e.path + " not found" }
func (e *notFoundError) Unwrap() error { return ErrNotFound }
func (e *notFoundError) ExitCode() int { return 2 }
func (e *notFoundError) Hint() string {
	return "run slipway in the folder of slipway.yaml, or name it with -f FILE or -C DIR"
}

// Parse is Load for bytes already read; file names the source in
// problems, dir is the folder relative paths resolve against.
func Parse(file, dir string, data []byte, getenv LookupEnv) (*Config, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	ps := &Problems{File: file}
	cfg := &Config{File: file, Dir: dir}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.add(file, 0, 0, "the file is empty: it needs at least images:")
			return nil, ps.err()
		}
		line, msg := yamlErrorLine(err)
		ps.add(file, line, 1, msg)
		return nil, ps.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		ps.add(file, extra.Line, extra.Column, "only one YAML document is allowed")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	d := &decoder{file: file, getenv: getenv, problems: ps, failed: map[string]bool{}}
	d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	// Validate even after decoding problems, so that every problem shows at
	// once, but drop what validation says on a line that already has a
	// decoding problem: it is usually the same mistake seen twice.
	decoded := len(ps.Items)
	_, hostSet := getenv("BUILDKIT_HOST")
	validate(cfg, root, ps, d.failed, hostSet)
	if decoded > 0 {
		lines := map[int]bool{}
		for _, p := range ps.Items[:decoded] {
			lines[p.Line] = true
		}
		kept := ps.Items[:decoded]
		for _, p := range ps.Items[decoded:] {
			if !lines[p.Line] {
				kept = append(kept, p)
			}
		}
		ps.Items = kept
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	resolvePaths(cfg)
	checkOutside(cfg, root, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var yamlLineRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRe().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, "YAML syntax: " + m[2]
	}
	return 0, "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")
}

// hostSet says BUILDKIT_HOST (or --buildkit-host) names one daemon for
// everything, so that no platform goes unbuilt.
func validate(cfg *Config, root *yaml.Node, ps *Problems, failed map[string]bool, hostSet bool) {
	at := func(p Position, format string, args ...any) {
		ps.add(cfg.File, p.Line, p.Col, fmt.Sprintf(format, args...))
	}
	rootPos := Position{Line: root.Line, Col: root.Column}
	if cfg.Version != 0 && cfg.Version != 1 {
		at(valuePos(root, "version"), "version: %d is not supported (this slipway reads version 1)", cfg.Version)
	}
	validateRegistries(cfg.Registry, "registry", at)
	for i, h := range cfg.InsecureRegistries {
		if _, err := name.NewRegistry(h, name.WeakValidation); err != nil || strings.Contains(h, "/") {
			at(seqItemPos(root, "insecure_registries", i), "insecure_registries[%d]: %q is not a registry host[:port]", i, h)
		}
	}
	validateTemplates(cfg.Tags, "tags", func(i int) Position { return seqItemPos(root, "tags", i) }, at)
	validateBuildkit(cfg.Buildkit, mappingValue(root, "buildkit"), valuePos(root, "buildkit"), at)

	if len(cfg.Images) == 0 && !failed["images"] {
		p := valuePos(root, "images")
		if p.Line == 0 {
			p = rootPos
		}
		at(p, "no images: add at least one under images:")
	}
	seen := map[string]int{}
	imagesNode := mappingValue(root, "images")
	for i := range cfg.Images {
		img := &cfg.Images[i]
		where := fmt.Sprintf("images[%d]", i)
		imgNode := seqItem(imagesNode, i)
		if img.Name == "" && !failed[where+".name"] {
			at(img.Loc, "%s: name is required", where)
		} else if err := ValidateImageName(img.Name); err != nil {
			at(valuePos(imgNode, "name"), "%s.name: %v", where, err)
		} else if first, dup := seen[img.Name]; dup {
			at(valuePos(imgNode, "name"), "%s.name: image %q is already defined at line %d", where, img.Name, first)
		} else {
			seen[img.Name] = valuePos(imgNode, "name").Line
		}
		if len(img.Registry) == 0 && len(cfg.Registry) == 0 && !failed["registry"] && !failed[where+".registry"] {
			at(img.Loc, "%s: no registry: set registry: at the top of the file or in the image", where)
		}
		validateRegistries(img.Registry, where+".registry", at)
		validateTemplates(img.Tags, where+".tags", func(j int) Position { return seqItemPos(imgNode, "tags", j) }, at)
		for j, p := range img.Platforms {
			if err := validatePlatform(p); err != nil {
				at(seqItemPos(imgNode, "platforms", j), "%s.platforms[%d]: %v", where, j, err)
			} else if len(cfg.Buildkit.Nodes) > 0 && cfg.Buildkit.Host == "" && !hostSet && !cfg.Buildkit.Declares(p) && !nativePlatform(p) {
				at(seqItemPos(imgNode, "platforms", j), "%s.platforms[%d]: no buildkit.nodes entry declares %s, and there is no buildkit.host to build it (the private buildkitd builds %s only)",
					where, j, p, platforms.Format(platforms.DefaultSpec()))
			}
		}
		ids := map[string]bool{}
		for j, s := range img.Secrets {
			w := fmt.Sprintf("%s.secrets[%d]", where, j)
			switch {
			case s.ID == "":
				at(s.Loc, "%s: id is required", w)
			case ids[s.ID]:
				at(s.Loc, "%s: secret id %q is used twice", w, s.ID)
			}
			ids[s.ID] = true
			if (s.Src == "") == (s.Env == "") {
				at(s.Loc, "%s: give exactly one of src (a file) or env (a variable name)", w)
			}
		}
		for j, s := range img.SSH {
			if id, _, _ := strings.Cut(s, "="); id == "" {
				at(seqItemPos(imgNode, "ssh", j), "%s.ssh[%d]: want default, ID or ID=PATH", where, j)
			}
		}
		for j, c := range img.Cache.From {
			if err := validateCacheSpec(c); err != nil {
				at(valuePos(mappingValue(imgNode, "cache"), "from"), "%s.cache.from[%d]: %v", where, j, err)
			}
		}
		for j, c := range img.Cache.To {
			if err := validateCacheSpec(c); err != nil {
				at(valuePos(mappingValue(imgNode, "cache"), "to"), "%s.cache.to[%d]: %v", where, j, err)
			}
		}
	}

	if s := cfg.Sign; s != nil {
		if s.Key == "" {
			at(s.Loc, "sign: key is required (a cosign key file or a KMS URI)")
		}
		if s.Repository != "" {
			if _, err := name.NewRepository(s.Repository); err != nil {
				at(s.Loc, "sign.repository: %q is not a repository: %v", s.Repository, err)
			}
		}
	}

	if v := cfg.Verify; v != nil {
		verifyNode := mappingValue(root, "verify")
		for i, p := range v.Platforms {
			if err := validatePlatform(p); err != nil {
				at(seqItemPos(verifyNode, "platforms", i), "verify.platforms[%d]: %v", i, err)
			}
		}
		for i, p := range v.Signed {
			if err := ValidateRegistry(p); err != nil {
				at(seqItemPos(verifyNode, "signed", i), "verify.signed[%d]: %v", i, err)
			}
		}
	}
	validateLint(cfg.Lint, mappingValue(root, "lint"), at)

	validateScan(cfg, root, at)

	manifestsNode := mappingValue(root, "manifests")
	for i, m := range cfg.Manifests {
		where := fmt.Sprintf("manifests[%d]", i)
		mNode := seqItem(manifestsNode, i)
		if (len(m.Paths) == 0) == (m.Kustomization == "") {
			at(m.Loc, "%s: give exactly one of paths or kustomization", where)
		}
		switch m.Pin {
		case "", PinTag, PinDigest, PinTagDigest:
		default:
			at(valuePos(mNode, "pin"), "%s.pin: %q is not one of tag, digest, tag+digest", where, m.Pin)
		}
		switch m.PullPolicy {
		case "", "Always", "IfNotPresent", "Never":
		default:
			at(valuePos(mNode, "pullPolicy"), "%s.pullPolicy: %q is not one of Always, IfNotPresent, Never", where, m.PullPolicy)
		}
		if len(m.Rules) > 0 && m.Kustomization != "" {
			at(valuePos(mNode, "rules"), "%s.rules: rules apply to paths, not to a kustomization", where)
		}
		for j, r := range m.Rules {
			w := fmt.Sprintf("%s.rules[%d]", where, j)
			switch {
			case r.Image != "" && (r.Repository != "" || r.Tag != "" || r.Digest != ""):
				at(r.Loc, "%s: give either image, or repository with tag and/or digest, not both", w)
			case r.Image == "" && r.Repository == "":
				at(r.Loc, "%s: give image (a whole reference) or repository (with tag and/or digest)", w)
			case r.Repository != "" && r.Tag == "" && r.Digest == "":
				at(r.Loc, "%s: a repository rule needs tag and/or digest", w)
			}
		}
	}
}

func validateRegistries(regs Registries, where string, at func(Position, string, ...any)) {
	for i, r := range regs {
		w := where
		if len(regs) > 1 {
			w = fmt.Sprintf("%s[%d]", where, i)
		}
		if r.URL == "" {
			at(r.Loc, "%s: url is required", w)
			continue
		}
		if err := ValidateRegistry(r.URL); err != nil {
			at(r.Loc, "%s: %v", w, err)
		}
	}
}

// ValidateRegistry checks host[:port][/path]: the host has a dot, a port
// or is localhost (so that nothing defaults to Docker Hub), the path is
// lowercase; then go-containerregistry's own rules. Credentials written
// into the address are refused without being repeated.
func ValidateRegistry(url string) error {
	if at := strings.LastIndex(url, "@"); at >= 0 {
		host := url[at+1:]
		return fmt.Errorf("\"***@%s\": credentials do not belong in the registry address; store them with slipway login (or docker login) and write the registry as host[:port][/path]", host)
	}
	if strings.Contains(url, "://") {
		return fmt.Errorf("%q: write the registry without a scheme (host[:port][/path])", url)
	}
	if strings.HasSuffix(url, "/") || strings.Contains(url, "//") {
		return fmt.Errorf("%q: empty path component", url)
	}
	host, path, _ := strings.Cut(url, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("%q: the registry host %q needs a dot, a port or to be localhost (registry.example.com, host:5000, localhost)", url, host)
	}
	if path != strings.ToLower(path) {
		return fmt.Errorf("%q: the path %q must be lowercase", url, path)
	}
	if _, err := name.NewRepository(url+"/x", name.StrictValidation); err != nil {
		return fmt.Errorf("%q is not a registry host[:port][/path] (path components are lowercase letters, digits and . _ - separators)", url)
	}
	return nil
}

// ValidateImageName checks an image name (a repository path below the
// registry, e.g. web or team/tools/worker) by the distribution spec's rules.
func ValidateImageName(n string) error {
	if err := tagging.CheckRepositoryPath(n); err != nil {
		return fmt.Errorf("%q is not a valid image name: %w", n, err)
	}
	if _, err := name.NewRepository("registry.invalid/"+n, name.StrictValidation); err != nil {
		return fmt.Errorf("%q is not a valid image name: %w", n, err)
	}
	return nil
}

func validatePlatform(p string) error {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("%q is not a platform: want os/arch[/variant], e.g. linux/amd64", p)
	}
	if _, err := v1.ParsePlatform(p); err != nil {
		return fmt.Errorf("%q is not a platform: %w", p, err)
	}
	return nil
}

func validateCacheSpec(s string) error {
	fields := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want comma-separated key=value pairs, e.g. type=registry,ref=REF", s)
		}
		fields[k] = v
	}
	switch fields["type"] {
	case "registry", "local", "inline", "gha", "s3", "azblob":
	case "":
		return fmt.Errorf("%q: type= is required (registry, local, inline...); inside [ ] quote each spec, or commas split it", s)
	default:
		return fmt.Errorf("%q: unknown cache type %q", s, fields["type"])
	}
	return nil
}

func validateLint(l Lint, n *yaml.Node, at func(Position, string, ...any)) {
	for rule, sev := range l.Severity {
		switch sev {
		case "error", "warning", "info":
		default:
			at(valuePos(mappingValue(n, "severity"), rule), "lint.severity.%s: %q is not one of error, warning, info", rule, sev)
		}
	}
	for i, r := range l.Skip {
		if strings.TrimSpace(r) == "" {
			at(seqItemPos(n, "skip", i), "lint.skip[%d]: empty rule name", i)
		}
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"max-layers", l.MaxLayers}, {"max-base-mb", l.MaxBaseMB}, {"max-image-mb", l.MaxImageMB}} {
		if f.v < 0 {
			at(valuePos(n, f.key), "lint.%s: %d is negative", f.key, f.v)
		}
	}
}

func validateBuildkit(b Buildkit, n *yaml.Node, pos Position, at func(Position, string, ...any)) {
	if (b.Cert == "") != (b.Key == "") {
		at(pos, "buildkit: cert and key go together")
	}
	nodesNode := mappingValue(n, "nodes")
	hosts := map[string]int{}
	for i, node := range b.Nodes {
		where := fmt.Sprintf("buildkit.nodes[%d]", i)
		nn := seqItem(nodesNode, i)
		if node.Host == "" {
			at(node.Loc, "%s: host is required", where)
		} else if first, dup := hosts[node.Host]; dup {
			at(valuePos(nn, "host"), "%s.host: %s is already a node at line %d", where, node.Host, first)
		} else {
			hosts[node.Host] = valuePos(nn, "host").Line
		}
		if len(node.Platforms) == 0 {
			at(node.Loc, "%s: platforms is required: the os/arch this daemon builds", where)
		}
		for j, p := range node.Platforms {
			if err := validatePlatform(p); err != nil {
				at(seqItemPos(nn, "platforms", j), "%s.platforms[%d]: %v", where, j, err)
			}
		}
		if (node.Cert == "") != (node.Key == "") {
			at(node.Loc, "%s: cert and key go together", where)
		}
	}
}

// Declares reports whether a node of b declares platform p.
func (b Buildkit) Declares(p string) bool {
	want := normalPlatform(p)
	for _, n := range b.Nodes {
		for _, np := range n.Platforms {
			if normalPlatform(np) == want {
				return true
			}
		}
	}
	return false
}

func normalPlatform(p string) string {
	sp, err := platforms.Parse(p)
	if err != nil {
		return p
	}
	return platforms.Format(platforms.Normalize(sp))
}

// nativePlatform reports whether a private buildkitd on this machine
// builds p without emulation.
func nativePlatform(p string) bool {
	sp, err := platforms.Parse(p)
	if err != nil {
		return false
	}
	return platforms.Only(platforms.DefaultSpec()).Match(sp)
}

// TemplateFuncNames are the functions tag templates may call; the tagging
// package supplies their bodies, these stand-ins only let Load check syntax.
var TemplateFuncNames = []string{"env", "default", "lower", "replace", "trunc"}

func validateTemplates(ts []string, where string, pos func(int) Position, at func(Position, string, ...any)) {
	funcs := template.FuncMap{}
	for _, n := range TemplateFuncNames {
		funcs[n] = func(...any) string { return "" }
	}
	for i, t := range ts {
		if strings.TrimSpace(t) == "" {
			at(pos(i), "%s[%d]: empty tag template", where, i)
			continue
		}
		if _, err := template.New("tag").Funcs(funcs).Option("missingkey=error").Parse(t); err != nil {
			msg := strings.TrimPrefix(err.Error(), "template: tag:")
			at(pos(i), "%s[%d]: template %q: %s", where, i, t, strings.TrimSpace(msg))
		}
	}
}

// mappingValue returns the value node of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

func seqItem(n *yaml.Node, i int) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return resolveAlias(n.Content[i])
}

func valuePos(n *yaml.Node, key string) Position {
	v := mappingValue(n, key)
	if v == nil {
		if n != nil {
			return Position{Line: n.Line, Col: n.Column}
		}
		return Position{}
	}
	return Position{Line: v.Line, Col: v.Column}
}

func seqItemPos(n *yaml.Node, key string, i int) Position {
	if item := seqItem(mappingValue(n, key), i); item != nil {
		return Position{Line: item.Line, Col: item.Column}
	}
	return valuePos(n, key)
}

// resolvePaths makes every path in cfg absolute against cfg.Dir.
func resolvePaths(cfg *Config) {
	abs := func(p string) string {
		if p == "" {
			return p
		}
		if p == "~" || strings.HasPrefix(p, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				return filepath.Join(home, p[1:])
			}
		}
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cfg.Dir, p)
	}
	for i := range cfg.Registry {
		cfg.Registry[i].CAFile = abs(cfg.Registry[i].CAFile)
	}
	cfg.Buildkit.CA, cfg.Buildkit.Cert, cfg.Buildkit.Key = abs(cfg.Buildkit.CA), abs(cfg.Buildkit.Cert), abs(cfg.Buildkit.Key)
	for i := range cfg.Buildkit.Nodes {
		n := &cfg.Buildkit.Nodes[i]
		n.CA, n.Cert, n.Key = abs(n.CA), abs(n.Cert), abs(n.Key)
	}
	for i := range cfg.Images {
		img := &cfg.Images[i]
		if img.Context == "" {
			img.Context = "."
		}
		img.Context = abs(img.Context)
		if img.Dockerfile == "" {
			img.Dockerfile = "Dockerfile"
		}
		for j := range img.Registry {
			img.Registry[j].CAFile = abs(img.Registry[j].CAFile)
		}
		for j := range img.Secrets {
			img.Secrets[j].Src = abs(img.Secrets[j].Src)
		}
		for j, s := range img.SSH {
			if id, paths, ok := strings.Cut(s, "="); ok {
				ps := strings.Split(paths, ",")
				for k := range ps {
					ps[k] = abs(ps[k])
				}
				img.SSH[j] = id + "=" + strings.Join(ps, ",")
			}
		}
		for j := range img.Cache.From {
			img.Cache.From[j] = resolveCachePaths(img.Cache.From[j], abs)
		}
		for j := range img.Cache.To {
			img.Cache.To[j] = resolveCachePaths(img.Cache.To[j], abs)
		}
	}
	if cfg.Sign != nil && !strings.Contains(cfg.Sign.Key, "://") {
		cfg.Sign.Key = abs(cfg.Sign.Key)
	}
	if cfg.Scan != nil {
		cfg.Scan.DB = abs(cfg.Scan.DB)
	}
	for i := range cfg.Manifests {
		m := &cfg.Manifests[i]
		for j := range m.Paths {
			m.Paths[j] = abs(m.Paths[j])
		}
		m.Kustomization = abs(m.Kustomization)
	}
}

func resolveCachePaths(spec string, abs func(string) string) string {
	parts := strings.Split(spec, ",")
	local := false
	for _, p := range parts {
		if p == "type=local" {
			local = true
		}
	}
	if !local {
		return spec
	}
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok && (k == "src" || k == "dest") {
			parts[i] = k + "=" + abs(v)
		}
	}
	return strings.Join(parts, ",")
}

// RegistriesFor returns the image's registries: its own when set, else the project's.
func (c *Config) RegistriesFor(img Image) Registries {
	if len(img.Registry) > 0 {
		return img.Registry
	}
	return c.Registry
}

// TagsFor returns the image's tag templates: its own when set, else the project's.
func (c *Config) TagsFor(img Image) []string {
	if len(img.Tags) > 0 {
		return img.Tags
	}
	return c.Tags
}

// Image returns the image called n.
func (c *Config) Image(n string) (Image, bool) {
	for _, img := range c.Images {
		if img.Name == n {
			return img, true
		}
	}
	return Image{}, false
}
