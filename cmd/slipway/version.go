package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/buildinfo"
)

// Set at link time by the Makefile: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = ""
)

// buildInfo is this binary's version, as `slipway version` and reports give it.
func buildInfo() buildinfo.Info {
	return buildinfo.Read(buildinfo.Stamp{Version: version, Commit: commit})
}

func init() {
	register(command{
		name:    "version",
		summary: "print the version, commit, Go, BuildKit client and cosign versions",
		long: `The version is the release when slipway was installed with
go install .../cmd/slipway@vX.Y.Z, else git describe at build time.
Reports carry the same string in slipwayVersion.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print a JSON object")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return a.usagef("version takes no arguments")
				}
				in := buildInfo()
				if *asJSON {
					enc := json.NewEncoder(a.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(in)
				}
				fmt.Fprintf(a.stdout, "slipway %s\n", in.Version)
				fmt.Fprintf(a.stdout, "commit:   %s\n", orUnknown(in.Commit))
				if in.Date != "" {
					fmt.Fprintf(a.stdout, "date:     %s\n", in.Date)
				}
				fmt.Fprintf(a.stdout, "go:       %s %s\n", in.Go, in.Platform)
				fmt.Fprintf(a.stdout, "buildkit: %s\n", orUnknown(in.Buildkit))
				fmt.Fprintf(a.stdout, "cosign:   %s\n", orUnknown(in.Cosign))
				return nil
			}
		},
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
