package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/doctor"
)

func init() {
	register(command{
		name:    "doctor",
		summary: "check that a release can run here: project, git, BuildKit, registries, signing key",
		long: `Each check prints ok, warning, error or skipped, with a fix for what
is wrong: slipway.yaml loads; git facts can be read; a BuildKit daemon
answers at BUILDKIT_HOST or buildkit.host, or buildkitd and runc are found
for a private one (with rootlesskit and user namespaces when not root),
and each daemon of buildkit.nodes answers;
every repository the project pushes to answers GET /v2/ and gives a push
token and its tag list with the local credentials (nothing is written);
the signing key opens, with COSIGN_PASSWORD set or not; trivy is found
(with its offline database, scan.db) when scan: is set. Exits 1 when any
check is an error.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			format := fs.String("format", "text", "output format: text or json")
			insecure := fs.StringArray("insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return a.usagef("doctor takes no arguments")
				}
				if *format != "text" && *format != "json" {
					return a.usagef("--format: %q is not one of text, json", *format)
				}
				shown := a.file
				if a.globals.dir != "" {
					shown = a.rel(a.path(a.file))
				}
				res := doctor.Run(ctx, doctor.Env{
					Dir: a.wd, File: a.path(a.file), Shown: shown,
					LookupEnv: a.lookupEnv, Euid: os.Geteuid(),
					Access: access.Options{InsecureRegistries: *insecure},
				})
				if *format == "json" {
					enc := json.NewEncoder(a.stdout)
					enc.SetIndent("", "  ")
					if err := enc.Encode(res); err != nil {
						return err
					}
				} else {
					for _, c := range res.Checks {
						fmt.Fprintf(a.stdout, "%-8s %s: %s\n", c.Status, c.Name, c.Message)
						if c.Fix != "" {
							fmt.Fprintf(a.stdout, "%-8s fix: %s\n", "", c.Fix)
						}
					}
				}
				if !res.OK {
					n := 0
					for _, c := range res.Checks {
						if c.Status == doctor.Error {
							n++
						}
					}
					return &exitError{msg: fmt.Sprintf("doctor: %s failed", plural(n, "check")), code: 1}
				}
				return nil
			}
		},
	})
}
