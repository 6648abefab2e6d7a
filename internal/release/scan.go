package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/scan"
	"github.com/slipway-build/slipway/internal/store"
)

// SidecarScan is the store sidecar holding Trivy's JSON report of a
// platform image, read by the attest stage.
const SidecarScan = "trivy.json"

// Scanner scans the built images before they are pushed.
type Scanner interface {
	Scan(ctx context.Context, plan *Plan, rep *report.Report) error
}

// ScanFailedError is a scan whose findings reach scan.fail-on: nothing
// may be published.
type ScanFailedError struct {
	FailOn  string
	Results []scan.Result // the failing ones
}

func (e *ScanFailedError) Error() string {
	n := 0
	var parts []string
	for _, r := range e.Results {
		n += len(r.Failing)
		var ids []string
		for _, f := range r.Failing {
			ids = append(ids, fmt.Sprintf("%s %s (%s %s)", f.Severity, f.ID, f.Package, f.Installed))
		}
		where := r.Image
		if r.Platform != "" {
			where += " " + r.Platform
		}
		parts = append(parts, where+": "+strings.Join(ids, ", "))
	}
	return fmt.Sprintf("scan: %d finding(s) at or above %s: %s", n, e.FailOn, strings.Join(parts, "; "))
}

// Hints say what to do.
func (e *ScanFailedError) Hints() []string {
	return []string{
		"update the packages named (a newer base image), or",
		"list accepted IDs under scan.ignore, or raise scan.fail-on in slipway.yaml",
	}
}

// ScanOptions are the scan package's options for slipway.yaml.
func ScanOptions(cfg *project.Config, opts Options) scan.Options {
	so := scan.Options{Log: opts.Debug}
	if s := cfg.Scan; s != nil {
		so.DB, so.FailOn, so.IgnoreUnfixed, so.Ignore = s.DB, s.FailOnSeverity(), s.IgnoreUnfixed, s.Ignore
	}
	return so
}

// FindScanner checks up front that the scanner is installed, so that a
// release that must scan fails before anything is built.
func FindScanner(cfg *project.Config, opts Options) (scan.Options, error) {
	so := ScanOptions(cfg, opts)
	p, err := scan.Find()
	if err != nil {
		return so, err
	}
	so.Trivy = p
	return so, nil
}

// scanJobs is how many platform images are scanned at once: Trivy uses
// every core itself, and two overlap one's reading with the other's work.
const scanJobs = 2

// Scan scans every platform image of the plan's images in the store,
// records the results in rep and keeps Trivy's reports as sidecars for
// the attestations. It returns a *ScanFailedError when a finding fails the
// scan; every image is scanned either way. Results are in plan order.
func Scan(ctx context.Context, cfg *project.Config, plan *Plan, so scan.Options, opts Options, rep *report.Report) ([]scan.Result, error) {
	dir := opts.storeDir(cfg)
	first := "(any)"
	if len(plan.Images) > 0 {
		first = plan.Images[0].Name
	}
	st, err := openExistingStore(dir, first)
	if err != nil {
		return nil, err
	}
	var targets []scan.Target
	for _, img := range plan.Images {
		ts, err := scan.Targets(st, img.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &NotBuiltError{Image: img.Name, Store: dir}
		}
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", img.Name, err)
		}
		targets = append(targets, ts...)
	}
	results := make([]scan.Result, len(targets))
	errs := make([]error, len(targets))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, scanJobs)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			results[i], errs[i] = scan.Scan(ctx, st, t, so)
			if errs[i] == nil {
				if h, err := v1.NewHash(t.Digest); err == nil {
					errs[i] = st.PutSidecar(h, SidecarScan, results[i].Raw)
				}
			}
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var failing []scan.Result
	for i, res := range results {
		if errs[i] != nil {
			continue
		}
		r := rep.Upsert(res.Image)
		if i == 0 || results[i-1].Image != res.Image {
			r.Scans = r.Scans[:0]
		}
		r.Scans = append(r.Scans, scanReport(res))
		if !res.Passed() {
			failing = append(failing, res)
		}
	}
	// The first real failure, not the cancellations it caused.
	var firstErr error
	for _, err := range errs {
		if err != nil && (firstErr == nil || errors.Is(firstErr, context.Canceled) && !errors.Is(err, context.Canceled)) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return results, firstErr
	}
	if len(failing) > 0 {
		return results, &ScanFailedError{FailOn: so.FailOn, Results: failing}
	}
	return results, nil
}

func scanReport(res scan.Result) report.Scan {
	s := report.Scan{Platform: res.Platform, Digest: res.Digest, Scanner: "trivy", FailOn: res.FailOn,
		Passed: res.Passed(), Counts: res.Counts, Findings: []report.VulnFinding{}}
	for _, f := range res.Findings {
		if scan.AtLeast(f.Severity, res.FailOn) {
			s.Findings = append(s.Findings, report.VulnFinding{ID: f.ID, Package: f.Package, Installed: f.Installed,
				Fixed: f.Fixed, Severity: f.Severity, Title: f.Title, Ignored: f.Ignored})
		}
	}
	return s
}

// trivyScanner is the real Scanner.
type trivyScanner struct {
	cfg     *project.Config
	opts    Options
	options scan.Options
}

func (t *trivyScanner) Scan(ctx context.Context, plan *Plan, rep *report.Report) error {
	_, err := Scan(ctx, t.cfg, plan, t.options, t.opts, rep)
	return err
}
