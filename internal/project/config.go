// Package project loads slipway.yaml: its schema, strict decoding with
// file:line:col errors, environment expansion, defaults and validation.
package project

import (
	"strings"

	"github.com/slipway-build/slipway/manifest"
)

// DefaultFile is the project file looked up when none is named.
const DefaultFile = "slipway.yaml"

// Config is slipway.yaml, schema version 1. Paths in it are absolute after
// Load: relative ones are resolved against the folder of the file.
type Config struct {
	// Version is the schema version; 0 (absent) means 1.
	Version int `yaml:"version"`
	// Registry is where images go: one registry (host[:port][/path]) or a
	// list whose first entry is the primary and the others get copies.
	Registry Registries `yaml:"registry"`
	// InsecureRegistries lists hosts that may be reached over plain HTTP
	// (loopback hosts always may).
	InsecureRegistries []string `yaml:"insecure_registries"`
	// ImmutableTags refuses to move a tag that names one commit or version
	// (rendered from .Commit, .ShortCommit, .Describe or a full .Version)
	// to another digest; without it such a move is a warning.
	ImmutableTags bool `yaml:"immutable_tags"`
	// AllowOutside lists folders or files outside the project folder that
	// build contexts and manifests may use (relative to the project file).
	AllowOutside []string `yaml:"allow_outside"`
	// Tags are Go templates over git facts; default ["{{.ShortCommit}}"].
	Tags []string `yaml:"tags"`
	// SkipUnchanged, when false, makes releases build every image; by
	// default an image whose input digest the registry already holds is
	// not built again.
	SkipUnchanged *bool `yaml:"skip_unchanged"`
	// Buildkit says where BuildKit runs; empty means a private buildkitd.
	Buildkit Buildkit `yaml:"buildkit"`
	// Images are built in file order.
	Images []Image `yaml:"images"`
	// Sign turns on signing of every pushed image.
	Sign *Sign `yaml:"sign"`
	// Manifests are the files bumped after a release.
	Manifests []Manifest `yaml:"manifests"`
	// Verify sets the defaults of slipway verify.
	Verify *Verify `yaml:"verify"`
	// Lint tunes slipway lint and the lint that starts a release.
	Lint Lint `yaml:"lint"`
	// Scan gates a release on a vulnerability scan of the built images.
	Scan *Scan `yaml:"scan"`
	// Attest attaches signed provenance, SBOM and vulnerability attestations.
	Attest *Attest `yaml:"attest"`

	// File is the path the config was loaded from (as given), Dir the
	// absolute folder it lives in.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
}

// Registries is one registry or a list; in YAML either a string, a mapping
// or a sequence of those.
type Registries []Registry

// Registry is one destination registry with optional per-registry TLS.
type Registry struct {
	// URL is host[:port][/path...], e.g. registry.example.com:5000/team.
	URL string `yaml:"url"`
	// CAFile is a PEM bundle trusted for this registry, on top of the system roots.
	CAFile string `yaml:"ca_file"`
	// Insecure allows plain HTTP to this registry.
	Insecure bool `yaml:"insecure"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Buildkit selects the BuildKit daemon.
type Buildkit struct {
	// Host is a BuildKit address (unix://, tcp://, docker-container://,
	// kube-pod://, ssh://). BUILDKIT_HOST and --buildkit-host override it.
	Host string `yaml:"host"`
	// CA, Cert and Key are TLS files for tcp:// hosts.
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Nodes are daemons that each build the platforms they declare; the
	// platforms none declares go to Host (or the private daemon).
	Nodes []BuildkitNode `yaml:"nodes"`
}

// BuildkitNode is a BuildKit daemon for some platforms.
type BuildkitNode struct {
	// Host is its address, in the forms of Buildkit.Host.
	Host string `yaml:"host"`
	// Platforms are the os/arch[/variant] it builds.
	Platforms []string `yaml:"platforms"`
	// CA, Cert and Key are TLS files for a tcp:// host.
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Image is one image built from a Dockerfile.
type Image struct {
	// Name is the repository path below the registry, e.g. web or team/tools/worker.
	Name string `yaml:"name"`
	// Context is the build context folder; default the project folder.
	Context string `yaml:"context"`
	// Dockerfile is relative to Context; default "Dockerfile".
	Dockerfile string `yaml:"dockerfile"`
	// Target is the Dockerfile stage to build; default the last.
	Target string `yaml:"target"`
	// Platforms are os/arch[/variant]; default the daemon's own.
	Platforms []string `yaml:"platforms"`
	// Args are build arguments.
	Args map[string]string `yaml:"args"`
	// Labels are added to the image config.
	Labels map[string]string `yaml:"labels"`
	// Secrets are exposed to RUN --mount=type=secret,id=ID.
	Secrets []Secret `yaml:"secrets"`
	// SSH forwards agent sockets: "default" or "id=path".
	SSH []string `yaml:"ssh"`
	// Cache imports and exports build cache.
	Cache Cache `yaml:"cache"`
	// Tags overrides the top-level tags for this image.
	Tags []string `yaml:"tags"`
	// Registry overrides the top-level registry for this image.
	Registry Registries `yaml:"registry"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Secret is a build secret from a file or an environment variable.
type Secret struct {
	ID  string `yaml:"id"`
	Src string `yaml:"src"`
	Env string `yaml:"env"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Cache holds buildx-style cache specs, e.g. type=registry,ref=REF,mode=max.
type Cache struct {
	From StringList `yaml:"from"`
	To   StringList `yaml:"to"`
}

// StringList is one string or a list of strings.
type StringList []string

// Sign configures cosign signing.
type Sign struct {
	// Key is a cosign key file or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://).
	Key string `yaml:"key"`
	// Repository stores signatures elsewhere, like COSIGN_REPOSITORY.
	Repository string `yaml:"repository"`
	// Annotations are added to every signature, with the git commit and tag.
	Annotations map[string]string `yaml:"annotations"`
	// TLog uploads to the transparency log; default false so that private
	// image names stay private.
	TLog bool `yaml:"tlog"`
	// RekorURL is the transparency log used when TLog is true.
	RekorURL string `yaml:"rekor_url"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Verify holds the defaults of the pre-deploy gate.
type Verify struct {
	// Platforms the cluster's nodes run (os/arch[/variant]); default
	// [linux/amd64]. --platform overrides it.
	Platforms []string `yaml:"platforms"`
	// Signed are repository prefixes (host[:port][/path]) whose images must
	// be signed; default the project's registries.
	Signed []string `yaml:"signed"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Pin modes for manifests.
const (
	PinTag       = "tag"
	PinDigest    = "digest"
	PinTagDigest = "tag+digest"
)

// Manifest is one group of files to bump.
type Manifest struct {
	// Paths are files, folders (recursive) or globs of Kubernetes YAML/JSON.
	Paths []string `yaml:"paths"`
	// Kustomization is a kustomization file whose images: entries are set.
	Kustomization string `yaml:"kustomization"`
	// Pin is tag, digest or tag+digest (default).
	Pin string `yaml:"pin"`
	// PullPolicy, when set, is written as imagePullPolicy of changed containers.
	PullPolicy string `yaml:"pullPolicy"`
	// Rules name image fields by path, for Helm values and custom resources.
	Rules []Rule `yaml:"rules"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Rule names the fields of one image in a values file or custom resource.
// Either Image (a whole reference) or Repository with Tag and/or Digest.
type Rule struct {
	Image      string `yaml:"image"`
	Repository string `yaml:"repository"`
	Tag        string `yaml:"tag"`
	Digest     string `yaml:"digest"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Position is where a value was found in the file, for later errors.
type Position struct {
	Line, Col int
}

// Lint tunes the best-practice checks of slipway lint.
type Lint struct {
	// Skip lists rules that are not checked (slipway's or BuildKit's).
	Skip []string `yaml:"skip"`
	// Severity overrides a rule's severity: error, warning or info.
	Severity map[string]string `yaml:"severity"`
	// OnRelease lints before a release builds; nil means true.
	OnRelease *bool `yaml:"on-release"`
	// MaxLayers bounds filesystem layers of a stage or image; 0 means 20.
	MaxLayers int `yaml:"max-layers"`
	// MaxBaseMB bounds a base image's compressed size; 0 means 300.
	MaxBaseMB int `yaml:"max-base-mb"`
	// MaxImageMB bounds a built image's compressed size; 0 means no bound.
	MaxImageMB int `yaml:"max-image-mb"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// LintOnRelease reports whether a release lints first (lint.on-release, default true).
func (c *Config) LintOnRelease() bool {
	return c.Lint.OnRelease == nil || *c.Lint.OnRelease
}

// Scanners and severities of scan:.
const (
	ScannerTrivy = "trivy"
)

// Severities are Trivy's, lowest first.
var Severities = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Scan configures the vulnerability scan between build and push.
type Scan struct {
	// Scanner is the program that scans; trivy (default) is the only one.
	Scanner string `yaml:"scanner"`
	// FailOn is the lowest severity that fails the scan; default HIGH.
	FailOn string `yaml:"fail-on"`
	// IgnoreUnfixed drops findings that have no fixed version.
	IgnoreUnfixed bool `yaml:"ignore-unfixed"`
	// Ignore lists vulnerability IDs that never fail the scan.
	Ignore []string `yaml:"ignore"`
	// Skip turns the scan off while keeping the section.
	Skip bool `yaml:"skip"`
	// DB is a prepared Trivy cache folder (holding db/trivy.db): the scan
	// then runs offline. Empty: Trivy downloads and caches its database.
	DB string `yaml:"db"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Provenance modes of attest:.
const (
	ProvenanceMax = "max"
	ProvenanceMin = "min"
	ProvenanceOff = "off"
)

// SBOM formats of attest:.
const (
	SBOMSPDX      = "spdx-json"
	SBOMCycloneDX = "cyclonedx"
)

// Attest configures the signed attestations stored next to each image.
type Attest struct {
	// Provenance is max (default), min or off: BuildKit's SLSA provenance.
	Provenance string `yaml:"provenance"`
	// SBOM attaches the scanner's SBOM; default true when scan: is set.
	SBOM *bool `yaml:"sbom"`
	// SBOMFormat is spdx-json (default) or cyclonedx.
	SBOMFormat string `yaml:"sbom-format"`
	// Vuln attaches the scan's findings; default true when scan: is set.
	Vuln *bool `yaml:"vuln"`

	// Loc is where the entry starts in the file.
	Loc Position `yaml:"-"`
}

// Scanning reports whether the project scans its images.
func (c *Config) Scanning() bool { return c.Scan != nil && !c.Scan.Skip }

// ProvenanceMode is the provenance BuildKit is asked for: "" when none.
func (c *Config) ProvenanceMode() string {
	if c.Attest == nil || c.Attest.Provenance == ProvenanceOff {
		return ""
	}
	if c.Attest.Provenance == "" {
		return ProvenanceMax
	}
	return c.Attest.Provenance
}

// AttestSBOM reports whether an SBOM attestation is made.
func (c *Config) AttestSBOM() bool {
	if c.Attest == nil || !c.Scanning() {
		return false
	}
	return c.Attest.SBOM == nil || *c.Attest.SBOM
}

// AttestVuln reports whether a vulnerability attestation is made.
func (c *Config) AttestVuln() bool {
	if c.Attest == nil || !c.Scanning() {
		return false
	}
	return c.Attest.Vuln == nil || *c.Attest.Vuln
}

// SBOMFormat is the SBOM format of attest:, spdx-json by default.
func (c *Config) SBOMFormat() string {
	if c.Attest == nil || c.Attest.SBOMFormat == "" {
		return SBOMSPDX
	}
	return c.Attest.SBOMFormat
}

// BumpRules are the entry's rules as the manifest package takes them.
func (m Manifest) BumpRules() []manifest.Rule {
	var out []manifest.Rule
	for _, r := range m.Rules {
		out = append(out, manifest.Rule{Image: r.Image, Repository: r.Repository, Tag: r.Tag, Digest: r.Digest})
	}
	return out
}

// BumpRules are the rules of every manifests entry, for files named
// outside them (Helm values given on the command line).
func (c *Config) BumpRules() []manifest.Rule {
	if c == nil {
		return nil
	}
	var out []manifest.Rule
	for _, m := range c.Manifests {
		out = append(out, m.BumpRules()...)
	}
	return out
}

// PublicKey names the public key that goes with the signing key: the KMS
// URI itself, or X.pub beside X.key; "" when there is none to name.
func (s *Sign) PublicKey() string {
	if s == nil {
		return ""
	}
	if strings.Contains(s.Key, "://") {
		return s.Key
	}
	if base, ok := strings.CutSuffix(s.Key, ".key"); ok {
		return base + ".pub"
	}
	return ""
}
