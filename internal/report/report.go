// Package report is slipway's versioned JSON report: what each stage built,
// pushed, signed and bumped. build, push, sign and release write it with
// --report; push, sign and bump read it with --from, so that CI can split a
// release across jobs.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// SchemaVersion is the version of the document this package writes.
const SchemaVersion = 1

// Report is the whole document.
type Report struct {
	SchemaVersion int `json:"schemaVersion"`
	// Command is the slipway command that wrote it: build, push, sign, release, bump.
	Command string `json:"command"`
	// SlipwayVersion is the version of the slipway that wrote it.
	SlipwayVersion string `json:"slipwayVersion,omitempty"`
	// Project is the project file, as given on the command line.
	Project string  `json:"project,omitempty"`
	Git     *Git    `json:"git,omitempty"`
	Images  []Image `json:"images"`
	// Manifests are the files bumped (or, with a dry run, that would be).
	Manifests []ManifestFile `json:"manifests,omitempty"`
	Stages    []Stage        `json:"stages,omitempty"`
	// Findings are verify's verdicts, one per finding (an "ok" for a use
	// with nothing to report).
	Findings []Finding `json:"findings,omitempty"`
	// Success is false when the run failed; what did happen is still listed.
	Success bool   `json:"success"`
	Error   string `json:"error,omitempty"`
	// DryRun marks a report of a plan: nothing was pushed, signed or written.
	DryRun bool `json:"dryRun,omitempty"`
}

// Git is the state of the source the images were built from.
type Git struct {
	Commit string `json:"commit,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Branch string `json:"branch,omitempty"`
	Dirty  bool   `json:"dirty"`
}

// Image is one image of the project.
type Image struct {
	Name string `json:"name"`
	// Repository is the primary repository (first registry).
	Repository string   `json:"repository"`
	Tags       []string `json:"tags"`
	// Refs are every planned reference (repository:tag), primary first.
	Refs   []string `json:"refs"`
	Digest string   `json:"digest,omitempty"`
	// MediaType is the OCI media type of Digest (an index for multi-platform).
	MediaType string `json:"mediaType,omitempty"`
	// PlatformDigests maps os/arch[/variant] to the platform manifest digest.
	PlatformDigests map[string]string `json:"platformDigests,omitempty"`
	// Nodes maps os/arch[/variant] to the BuildKit daemon that built it:
	// a buildkit.nodes host, the buildkit.host address, or "private".
	Nodes map[string]string `json:"nodes,omitempty"`
	// InputDigest is the digest of the image's build inputs, also the
	// annotation dev.slipway.input.digest of what was pushed.
	InputDigest string `json:"inputDigest,omitempty"`
	// Skipped marks an image a release did not build: the registry held
	// one from the same inputs, and its new tags were written to it.
	Skipped bool `json:"skipped,omitempty"`
	// Registries are the registries pushed to, primary first.
	Registries []string `json:"registries,omitempty"`
	// Pushed are the references that now resolve to Digest, as REF@DIGEST.
	Pushed []string `json:"pushed,omitempty"`
	// Signatures are the signature references written for Digest and the platform digests.
	Signatures []string `json:"signatures,omitempty"`
	// Source is the image a promote copied, as REPO@DIGEST.
	Source string `json:"source,omitempty"`
	// Attestations are the cosign attestation (and SBOM) references copied with it.
	Attestations []string `json:"attestations,omitempty"`
	// Referrers are the OCI 1.1 referrers copied with it, as REPO@DIGEST.
	Referrers     []string `json:"referrers,omitempty"`
	BytesUploaded int64    `json:"bytesUploaded"`
	BlobsUploaded int      `json:"blobsUploaded"`
	BlobsSkipped  int      `json:"blobsSkipped"`
	BlobsMounted  int      `json:"blobsMounted"`
	// Store is the local OCI layout the build was exported to.
	Store string `json:"store,omitempty"`
	// Scans are the vulnerability scans of the platform images.
	Scans []Scan `json:"scans,omitempty"`
	// Attested are the attestations a release stored for Digest and the
	// platform digests.
	Attested []Attestation `json:"attested,omitempty"`
}

// Finding is one verdict of verify about one use of an image.
type Finding struct {
	// Rule is resolve, exists, platform, pinned, pull-policy or signed; ""
	// with severity ok.
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity"`
	// File and Line are where the reference is written; empty for a
	// reference given on the command line.
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Object    string `json:"object,omitempty"`
	Container string `json:"container,omitempty"`
	Reference string `json:"reference"`
	// Resolved is the reference as a node pulls it (short names expanded).
	Resolved string `json:"resolved,omitempty"`
	// Digest is what the registry holds for the reference.
	Digest string `json:"digest,omitempty"`
	// Platforms are the platforms the image offers.
	Platforms []string `json:"platforms,omitempty"`
	Message   string   `json:"message,omitempty"`
}

// ManifestFile is one file with the edits made in it.
type ManifestFile struct {
	File  string `json:"file"`
	Edits []Edit `json:"edits"`
}

// Edit is one image value changed.
type Edit struct {
	Document  int    `json:"document"`
	Line      int    `json:"line"`
	Object    string `json:"object,omitempty"`
	Container string `json:"container,omitempty"`
	Field     string `json:"field,omitempty"`
	Old       string `json:"old"`
	New       string `json:"new"`
}

// Stage is how long one stage of the run took.
type Stage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// New starts a report for a command.
func New(command, slipwayVersion string) *Report {
	return &Report{SchemaVersion: SchemaVersion, Command: command, SlipwayVersion: slipwayVersion, Images: []Image{}}
}

// Image returns the image called name, or nil. The pointer is into
// r.Images: it is valid until the next image is added.
func (r *Report) Image(name string) *Image {
	for i := range r.Images {
		if r.Images[i].Name == name {
			return &r.Images[i]
		}
	}
	return nil
}

// Upsert returns the image called name, adding it when absent. The pointer
// is into r.Images: it is valid until the next image is added.
func (r *Report) Upsert(name string) *Image {
	if img := r.Image(name); img != nil {
		return img
	}
	r.Images = append(r.Images, Image{Name: name})
	return &r.Images[len(r.Images)-1]
}

// Time runs f and records its duration as a stage.
func (r *Report) Time(stage string, f func() error) error {
	start := time.Now()
	err := f()
	r.Stages = append(r.Stages, Stage{Name: stage, Seconds: time.Since(start).Seconds()})
	return err
}

// Platforms returns the image's platforms, sorted.
func (img *Image) Platforms() []string {
	var ps []string
	for p := range img.PlatformDigests {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// ErrVersion is returned for a report of a schema this slipway cannot read.
var ErrVersion = errors.New("unsupported report schemaVersion")

// Read loads a report written by this or an earlier slipway.
func Read(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	// The version is checked before the rest is decoded: another version may
	// give a field another shape, and that must read as ErrVersion.
	var v struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("reading report %s: %w", path, err)
	}
	if v.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("reading report %s: schemaVersion %d: %w (want %d)", path, v.SchemaVersion, ErrVersion, SchemaVersion)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading report %s: %w", path, err)
	}
	return &r, nil
}

// Encode writes the report as one JSON document to w.
func Encode(w io.Writer, r *Report) error {
	data, err := json.MarshalIndent(r.normalized(), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// Write stores the report at path whole or not at all; "-" writes it to
// stdout. The document always carries this package's SchemaVersion, and
// lists that are required but empty are written as [], never null.
func Write(path string, r *Report) error {
	data, err := json.MarshalIndent(r.normalized(), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err := os.Stdout.Write(data)
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".report-*.json")
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}

// normalized is a copy of r as the schema describes it: the current
// SchemaVersion, and [] for required lists that are nil. r is not changed.
func (r *Report) normalized() *Report {
	c := *r
	c.SchemaVersion = SchemaVersion
	c.Images = make([]Image, len(r.Images))
	for i, img := range r.Images {
		if img.Tags == nil {
			img.Tags = []string{}
		}
		if img.Refs == nil {
			img.Refs = []string{}
		}
		c.Images[i] = img
	}
	if r.Manifests != nil {
		c.Manifests = make([]ManifestFile, len(r.Manifests))
		for i, m := range r.Manifests {
			if m.Edits == nil {
				m.Edits = []Edit{}
			}
			c.Manifests[i] = m
		}
	}
	return &c
}

// IsReport reports whether the file at path is a report slipway wrote:
// a JSON document with this package's schemaVersion, a command and an
// images list. Build inputs leave such files out, wherever they were written.
func IsReport(path string) bool {
	if filepath.Ext(path) != ".json" {
		return false
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > 64<<20 {
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var v struct {
		SchemaVersion int               `json:"schemaVersion"`
		Command       string            `json:"command"`
		Images        []json.RawMessage `json:"images"`
	}
	return json.Unmarshal(data, &v) == nil && v.SchemaVersion == SchemaVersion && v.Command != "" && v.Images != nil
}
