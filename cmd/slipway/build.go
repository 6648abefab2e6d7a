package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/release"
)

func init() {
	register(command{
		name:    "build",
		args:    "[IMAGE...]",
		summary: "build images from their Dockerfiles into the local store",
		long: `Builds every image of slipway.yaml (or the IMAGEs named) through BuildKit,
concurrently in one session, into the local OCI store. With no BuildKit
address (--buildkit-host, BUILDKIT_HOST, buildkit.host) slipway starts a
private buildkitd for the run and stops it at the end. Builds are
reproducible: file times are clamped to the commit time. Prints one line
per image: name, digest, platforms.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerJobs(fs)
			p.registerStore(fs)
			p.registerBuild(fs)
			return func(ctx context.Context, a *app, args []string) error {
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				cfg, err := a.loadProject()
				if err != nil {
					return err
				}
				plan, err := a.planFor(ctx, cfg, args, nil)
				if err != nil {
					return err
				}
				rep := a.newReport("build")
				release.RecordPlan(plan, rep)
				err = rep.Time("build", func() error {
					results, err := release.Build(ctx, cfg, plan, opts, rep)
					for _, r := range results {
						if r.Digest == "" {
							continue // a build that failed or was cancelled
						}
						fmt.Fprintf(a.stdout, "%s %s %s\n", r.Name, r.Digest, strings.Join(r.Platforms, ","))
					}
					return err
				})
				return a.finishReport(rep, err)
			}
		},
	})
}
