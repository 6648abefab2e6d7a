package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/scan"
)

func init() {
	register(command{
		name:    "scan",
		args:    "[IMAGE...]",
		summary: "scan the built images for vulnerabilities with Trivy",
		long: `Scans every platform image of the images in the local store (or the IMAGEs
named) with Trivy, before anything is pushed. Prints per image the counts by
severity and the findings at or above scan.fail-on (default HIGH). Exits 1
when a finding reaches it. scan.db names a prepared Trivy cache folder for
offline scans; without it Trivy downloads its database. Trivy is found
beside slipway or on PATH.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerStore(fs)
			var format, failOn string
			fs.StringVar(&format, "format", "text", "output: text, json or sarif")
			fs.StringVar(&failOn, "fail-on", "", "lowest failing `SEVERITY` (default scan.fail-on, then HIGH)")
			return func(ctx context.Context, a *app, args []string) error {
				switch format {
				case "text", "json", "sarif":
				default:
					return a.usagef("--format: %q is not one of text, json, sarif", format)
				}
				if failOn != "" && !slices.Contains(scan.Severities, strings.ToUpper(failOn)) {
					return a.usagef("--fail-on: %q is not one of %s", failOn, strings.Join(scan.Severities, ", "))
				}
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				cfg, err := a.loadProject()
				if err != nil {
					return err
				}
				// A scan needs the images' names only, not the git facts
				// of their tags.
				images, err := release.Select(cfg, args)
				if err != nil {
					return err
				}
				plan := &release.Plan{}
				for _, img := range images {
					plan.Images = append(plan.Images, release.PlannedImage{Name: img.Name, Config: img})
				}
				so, err := release.FindScanner(cfg, opts)
				if err != nil {
					return err
				}
				if failOn != "" {
					so.FailOn = strings.ToUpper(failOn)
				}
				rep := a.newReport("scan")
				var results []scan.Result
				err = rep.Time("scan", func() error {
					var err error
					results, err = release.Scan(ctx, cfg, plan, so, opts, rep)
					return err
				})
				var failed *release.ScanFailedError
				if err == nil || errors.As(err, &failed) {
					if werr := a.writeScan(format, cfg, results, rep.Images); werr != nil && err == nil {
						err = werr
					}
				}
				return a.finishReport(rep, err)
			}
		},
	})
}

// writeScan prints the scan results in the chosen format.
func (a *app) writeScan(format string, cfg *project.Config, results []scan.Result, images []report.Image) error {
	switch format {
	case "json":
		type imageScans struct {
			Image string        `json:"image"`
			Scans []report.Scan `json:"scans"`
		}
		out := []imageScans{}
		for _, img := range images {
			if len(img.Scans) > 0 {
				out = append(out, imageScans{Image: img.Name, Scans: img.Scans})
			}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "sarif":
		files := map[string]string{}
		for _, img := range cfg.Images {
			files[img.Name] = filepath.ToSlash(a.rel(filepath.Join(img.Context, img.Dockerfile)))
		}
		return scan.WriteSARIF(a.stdout, results, func(image string) string { return files[image] })
	}
	return scan.WriteText(a.stdout, results)
}
