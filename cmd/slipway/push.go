package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/pusher"
)

func init() {
	register(command{
		name:    "push",
		args:    "[IMAGE...]",
		summary: "push what the store holds to every planned reference",
		long: `Publishes each image from the local store under every reference of the
plan (slipway tags), on every registry: blobs first (skipped when present,
mounted across repositories of one registry), then manifests, then tags,
so that no tag ever points at incomplete content. Transient registry
failures are retried. With --from, the references come from the report of
an earlier build. Prints REF@DIGEST per reference.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerJobs(fs)
			p.registerStore(fs)
			p.registerPush(fs)
			from := fs.String("from", "", "take the references from this report (written by build --report)")
			return func(ctx context.Context, a *app, args []string) error {
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				cfg, plan, prev, err := a.planOrReport(ctx, args, p.registries, *from)
				if err != nil {
					return err
				}
				rep := a.newReport("push")
				if prev != nil {
					rep.Git = prev.Git
				}
				release.RecordPlan(plan, rep)
				err = rep.Time("push", func() error {
					_, err := release.Push(ctx, cfg, plan, opts, rep)
					return err
				})
				a.printPushed(rep)
				return a.finishReport(rep, withPushHint(err))
			}
		},
	})
}

// planOrReport loads the project and takes the plan from the report named
// by from, or renders it from git.
func (a *app) planOrReport(ctx context.Context, only, registries []string, from string) (*project.Config, *release.Plan, *report.Report, error) {
	cfg, err := a.loadProject()
	if err != nil {
		return nil, nil, nil, err
	}
	if from == "" {
		plan, err := a.planFor(ctx, cfg, only, registries)
		return cfg, plan, nil, err
	}
	if len(registries) > 0 {
		return nil, nil, nil, a.usagef("--registry and --from do not go together: the report fixes the references")
	}
	prev, err := report.Read(a.path(from))
	if err != nil {
		return nil, nil, nil, err
	}
	plan, err := release.PlanFromReport(cfg, prev, only)
	if err != nil {
		return nil, nil, nil, err
	}
	a.hidePlan(cfg, plan)
	return cfg, plan, prev, nil
}

func withPushHint(err error) error {
	if err == nil {
		return nil
	}
	if h := pusher.Hint(err); h != "" {
		return &hintError{err: err, hint: h}
	}
	return err
}
