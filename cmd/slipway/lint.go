package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/lint"
	"github.com/slipway-build/slipway/internal/project"
)

func init() {
	register(command{
		name:    "lint",
		args:    "[PATH...]",
		summary: "best-practice findings for Dockerfiles, built images and manifests",
		long: `Without PATHs, lints every image's Dockerfile (BuildKit's own build checks,
then slipway's rules, with the image's args, target and platforms), every
image in the store, and the project's manifests. PATHs are Dockerfiles
(Dockerfile, *.Dockerfile, Dockerfile.*, Containerfile; --dockerfile for any
other name) and manifest files or folders; slipway.yaml is then optional.

Prints FILE:LINE:COL: SEVERITY RULE: message per finding on stdout (or one
JSON document, or a SARIF 2.1.0 log), and a summary on stderr. Exits 1 when
a finding is at or above --fail-on, or a file cannot be read. Rules, and
how to skip them: docs/lint.md.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			format := fs.String("format", "text", "output: text, json or sarif")
			failOn := fs.String("fail-on", "error", "exit 1 on a finding at or above `LEVEL`: error, warning, info or none")
			dockerfiles := fs.StringArray("dockerfile", nil, "lint `FILE` as a Dockerfile (repeatable)")
			store := fs.String("store", "", "the local image store (default .slipway/store beside slipway.yaml)")
			online := fs.Bool("online", false, "ask registries: base image sizes (base-size) and configs")
			insecure := fs.StringArray("insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			return func(ctx context.Context, a *app, args []string) error {
				switch *format {
				case "text", "json", "sarif":
				default:
					return a.usagef("--format: %q is not one of text, json, sarif", *format)
				}
				threshold, err := lint.ParseSeverity(*failOn, true)
				if err != nil {
					return a.usagef("--fail-on: %v", err)
				}
				s := lint.Scope{StoreDir: a.path(*store), WorkDir: a.wd}
				for _, p := range args {
					s.Paths = append(s.Paths, a.path(p))
				}
				for _, p := range *dockerfiles {
					s.Dockerfiles = append(s.Dockerfiles, a.path(p))
				}
				cfg, err := a.loadProject()
				switch {
				case err == nil:
					s.Project = cfg
				case errors.Is(err, project.ErrNotFound) && (len(args) > 0 || len(*dockerfiles) > 0):
				default:
					return err
				}
				opts := lint.Options{Online: *online}
				if *online {
					if opts.Access, err = access.New(s.Project, access.Options{InsecureRegistries: *insecure}); err != nil {
						return err
					}
				}
				res, err := lint.Lint(ctx, s, opts)
				if res == nil {
					if err != nil && !errors.Is(err, lint.ErrNothing) {
						return fmt.Errorf("linting: %w", err)
					}
					return err
				}
				if werr := a.writeLint(*format, res); werr != nil {
					return werr
				}
				if err != nil {
					return fmt.Errorf("linting: %w", err)
				}
				if res.Fails(threshold) {
					return &exitError{msg: fmt.Sprintf("lint: findings at or above %s", threshold), code: 1}
				}
				return nil
			}
		},
	})
}

// writeLint prints the findings on stdout and the notes and summary on stderr.
func (a *app) writeLint(format string, res *lint.Result) error {
	var err error
	switch format {
	case "json":
		err = lint.WriteJSON(a.stdout, res)
	case "sarif":
		err = lint.WriteSARIF(a.stdout, res.Findings, version)
	default:
		err = lint.WriteText(a.stdout, res.Findings)
	}
	if err != nil {
		return fmt.Errorf("writing the findings: %w", err)
	}
	if a.progress != "quiet" {
		for _, n := range res.Notes {
			fmt.Fprintf(a.stderr, "slipway: note: %s\n", n)
		}
		fmt.Fprintf(a.stderr, "slipway lint: %s\n", res.Summary())
	}
	return nil
}
