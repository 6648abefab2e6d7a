package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// Set at link time by the Makefile: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = ""
)

func init() {
	register(command{
		name:    "version",
		summary: "print the version, commit and Go version",
		setup: func(fs *pflag.FlagSet) runFunc {
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return a.usagef("version takes no arguments")
				}
				c := commit
				if c == "" {
					c = buildCommit()
				}
				fmt.Fprintf(a.stdout, "slipway %s\ncommit: %s\ngo: %s %s/%s\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	})
}

func buildCommit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
