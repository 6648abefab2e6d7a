// Package scan runs the Trivy CLI on the images of the local store, one
// platform image at a time, and decides from its findings whether a
// release may go on.
//
// Trivy is a separate program (found on PATH or beside slipway), not a
// library: its dependency tree would dwarf slipway's. It reads each
// platform image from a small OCI layout that shares the store's blobs.
package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-build/slipway/internal/store"
)

// Severities are Trivy's, lowest first.
var Severities = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Options tune a scan. The zero value uses the trivy found by Find, its
// own database handling, and fails on HIGH.
type Options struct {
	// Trivy is the path of the trivy program. Default: Find's answer.
	Trivy string
	// DB is a prepared Trivy cache folder holding db/trivy.db: the
	// database is then neither downloaded nor updated. Default: Trivy's
	// own cache and update rules (TRIVY_* variables apply).
	DB string
	// FailOn is the lowest severity that fails. Default: HIGH.
	FailOn string
	// IgnoreUnfixed drops findings without a fixed version.
	IgnoreUnfixed bool
	// Ignore lists vulnerability IDs that never fail the scan.
	Ignore []string
	// Log receives Trivy's own messages (stderr). Default: discarded,
	// except that they are quoted in the error of a failed run.
	Log io.Writer
}

func (o Options) failOn() string {
	if o.FailOn == "" {
		return "HIGH"
	}
	return strings.ToUpper(o.FailOn)
}

// Target is one platform image of the store.
type Target struct {
	// Image is the store's name for it.
	Image string
	// Platform is os/arch[/variant]; empty when the config does not say.
	Platform string
	// Digest is the platform manifest's digest.
	Digest string
}

// Finding is one vulnerability of one package.
type Finding struct {
	ID        string `json:"id"`
	Package   string `json:"package"`
	Installed string `json:"installed"`
	Fixed     string `json:"fixed,omitempty"`
	Severity  string `json:"severity"`
	Title     string `json:"title,omitempty"`
	// Ignored is set for IDs listed in Options.Ignore.
	Ignored bool `json:"ignored,omitempty"`
}

// Result is the scan of one platform image.
type Result struct {
	Target
	// Counts are the findings by severity (ignored ones included).
	Counts map[string]int
	// Findings are all findings, most severe first.
	Findings []Finding
	// Failing are the findings at or above FailOn that are not ignored.
	Failing []Finding
	// FailOn is the severity the result was judged by.
	FailOn string
	// Raw is Trivy's JSON report, with every package listed.
	Raw []byte
	// Started and Finished bound the scan.
	Started, Finished time.Time
}

// Passed reports whether no finding fails the scan.
func (r Result) Passed() bool { return len(r.Failing) == 0 }

// Targets lists the platform images of the image called name in st.
func Targets(st *store.Store, name string) ([]Target, error) {
	desc, err := st.Lookup(name)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		p, err := configPlatform(st, desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the store: %w", name, err)
		}
		return []Target{{Image: name, Platform: p, Digest: desc.Digest.String()}}, nil
	}
	raw, err := os.ReadFile(st.BlobPath(desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("reading %s from the store: %w", name, err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("reading %s from the store: %w", name, err)
	}
	var out []Target
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" || m.Annotations["vnd.docker.reference.type"] != "" {
			continue
		}
		out = append(out, Target{Image: name, Platform: formatPlatform(*m.Platform), Digest: m.Digest.String()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("image %s: the store's index lists no platform image", name)
	}
	return out, nil
}

func formatPlatform(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func configPlatform(st *store.Store, d v1.Hash) (string, error) {
	raw, err := os.ReadFile(st.BlobPath(d))
	if err != nil {
		return "", err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	raw, err = os.ReadFile(st.BlobPath(m.Config.Digest))
	if err != nil {
		return "", err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", err
	}
	if cfg.OS == "" {
		return "", nil
	}
	return formatPlatform(v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}), nil
}

// Layout writes a one-image OCI layout for t in a new folder under dir
// (the system's temp folder when empty), whose blobs are the store's:
// Trivy's --input takes the first image of a layout, and the store holds
// many. The caller removes the folder.
func Layout(st *store.Store, t Target, dir string) (string, error) {
	h, err := v1.NewHash(t.Digest)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", t.Image, err)
	}
	fi, err := os.Stat(st.BlobPath(h))
	if err != nil {
		return "", fmt.Errorf("image %s: %w", t.Image, err)
	}
	tmp, err := os.MkdirTemp(dir, "slipway-scan-")
	if err != nil {
		return "", err
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []v1.Descriptor{{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: h, Size: fi.Size()}}}
	b, _ := json.Marshal(idx)
	err = errors.Join(
		os.WriteFile(filepath.Join(tmp, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644),
		os.WriteFile(filepath.Join(tmp, "index.json"), b, 0o644),
		os.Symlink(filepath.Join(st.Dir(), "blobs"), filepath.Join(tmp, "blobs")),
	)
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("image %s: scan layout: %w", t.Image, err)
	}
	return tmp, nil
}

// Args are the trivy arguments that scan the layout dir into out (JSON).
// They are exported so that a benchmark runs Trivy by hand the same way.
func Args(dir, out string, o Options) []string {
	args := []string{"image", "--input", dir, "--format", "json", "--list-all-pkgs", "--output", out,
		"--scanners", "vuln", "--quiet", "--no-progress", "--offline-scan", "--cache-backend", "memory",
		"--skip-java-db-update"}
	if o.DB != "" {
		args = append(args, "--cache-dir", o.DB, "--skip-db-update")
	}
	return args
}

// Scan scans the platform image t of st.
func Scan(ctx context.Context, st *store.Store, t Target, o Options) (Result, error) {
	res := Result{Target: t, FailOn: o.failOn()}
	trivy := o.Trivy
	if trivy == "" {
		var err error
		if trivy, err = Find(); err != nil {
			return res, err
		}
	}
	if o.DB != "" {
		if _, err := os.Stat(filepath.Join(o.DB, "db", "trivy.db")); err != nil {
			return res, fmt.Errorf("scan database %s: no db/trivy.db in it", o.DB)
		}
	}
	dir, err := Layout(st, t, "")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "report.json")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, trivy, Args(dir, out, o)...)
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	if o.Log != nil {
		cmd.Stderr = io.MultiWriter(&stderr, o.Log)
	}
	res.Started = time.Now().UTC()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("scanning %s (%s): trivy: %w%s", t.Image, t.Digest, err, quote(stderr.Bytes()))
	}
	res.Finished = time.Now().UTC()
	if res.Raw, err = os.ReadFile(out); err != nil {
		return res, fmt.Errorf("scanning %s: reading trivy's report: %w", t.Image, err)
	}
	if err := res.judge(o); err != nil {
		return res, fmt.Errorf("scanning %s: %w", t.Image, err)
	}
	return res, nil
}

// quote keeps the last lines of Trivy's messages for an error.
func quote(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return ": " + strings.Join(lines, "; ")
}

// trivyReport is the part of Trivy's JSON report slipway reads.
type trivyReport struct {
	Results []struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Severity         string `json:"Severity"`
			Title            string `json:"Title"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

// judge fills the counts and findings from res.Raw.
func (res *Result) judge(o Options) error {
	var r trivyReport
	if err := json.Unmarshal(res.Raw, &r); err != nil {
		return fmt.Errorf("reading trivy's report: %w", err)
	}
	limit := rank(o.failOn())
	res.Counts = map[string]int{}
	for _, s := range Severities {
		res.Counts[s] = 0
	}
	for _, rr := range r.Results {
		for _, v := range rr.Vulnerabilities {
			if o.IgnoreUnfixed && v.FixedVersion == "" {
				continue
			}
			sev := strings.ToUpper(v.Severity)
			if rank(sev) < 0 {
				sev = "UNKNOWN"
			}
			f := Finding{ID: v.VulnerabilityID, Package: v.PkgName, Installed: v.InstalledVersion,
				Fixed: v.FixedVersion, Severity: sev, Title: v.Title, Ignored: slices.Contains(o.Ignore, v.VulnerabilityID)}
			res.Counts[sev]++
			res.Findings = append(res.Findings, f)
			if !f.Ignored && rank(sev) >= limit {
				res.Failing = append(res.Failing, f)
			}
		}
	}
	order := func(a, b Finding) int {
		if c := rank(b.Severity) - rank(a.Severity); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Package, b.Package)
	}
	slices.SortFunc(res.Findings, order)
	slices.SortFunc(res.Failing, order)
	return nil
}

// rank is a severity's place in Severities, -1 for none.
func rank(sev string) int { return slices.Index(Severities, sev) }

// AtLeast reports whether severity sev reaches limit.
func AtLeast(sev, limit string) bool {
	return rank(strings.ToUpper(sev)) >= rank(strings.ToUpper(limit))
}
