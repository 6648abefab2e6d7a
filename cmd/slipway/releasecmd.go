package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
)

func init() {
	register(command{
		name:    "release",
		args:    "[IMAGE...]",
		summary: "build, push, sign and bump in one go, manifests last",
		long: `Runs the whole pipeline in one process: plan, build (one BuildKit session),
push to every registry, sign (when sign: is set), then bump the manifests
(when manifests: is set). Manifests are written only after every image is
pushed and signed; any failure leaves them as they were and exits 1, and
the report says what did get pushed. Manifests get the primary reference
(first registry, first tag) with its digest unless pin: says otherwise.
It lints the Dockerfiles and manifests first (see slipway lint; not with
lint: {on-release: false}) and builds nothing on a finding at error.
--dry-run prints the plan and the manifest edits as a diff (the digest,
known only after the build, shows as sha256:000...), and builds, pushes,
signs and writes nothing. An image whose input digest (see docs/config.md,
skip_unchanged) the primary registry already holds under its inputs-<hex>
tag is not built: its new tags go to that image, which is signed if it is
not yet (--no-skip builds it anyway). Prints REF@DIGEST per reference.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerJobs(fs)
			p.registerStore(fs)
			p.registerBuild(fs)
			p.registerPush(fs)
			p.registerSign(fs)
			p.registerBump(fs)
			fs.BoolVar(&p.noSkip, "no-skip", false, "build every image, also those the registry holds from the same inputs (default: skip them, unless skip_unchanged: false)")
			fs.BoolVar(&p.immutable, "immutable-tags", false, "refuse to move a tag that names one commit or version to another digest (default: warn)")
			dryRun := fs.Bool("dry-run", false, "print the plan and the manifest diff; build, push, sign and write nothing")
			return func(ctx context.Context, a *app, args []string) error {
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				cfg, err := a.loadProject()
				if err != nil {
					return err
				}
				plan, err := a.planFor(ctx, cfg, args, p.registries)
				if err != nil {
					return err
				}
				rep := a.newReport("release")
				changes, err := release.Release(ctx, cfg, plan, opts, rep, *dryRun)
				// A dry run shows the plan and the diff even when its lint
				// would stop the release, and then says so.
				if *dryRun && (err == nil || release.IsLintError(err)) {
					for _, img := range plan.Images {
						for _, ref := range img.Refs {
							fmt.Fprintln(a.stdout, ref.String())
						}
					}
					if changes != nil {
						if derr := a.relativeChanges(changes).Diff(a.stdout); derr != nil {
							return derr
						}
					}
					return a.finishReport(rep, err)
				}
				a.printPushed(rep)
				a.summarize(rep)
				return a.finishReport(rep, withPushHint(signHint(err)))
			}
		},
	})
}

// summarize writes a short account per image to stderr.
func (a *app) summarize(rep *report.Report) {
	if a.progress == "quiet" {
		return
	}
	files := map[string]int{}
	for _, m := range rep.Manifests {
		files[m.File] = len(m.Edits)
	}
	for _, img := range rep.Images {
		state := "not pushed"
		if len(img.Pushed) > 0 {
			state = "pushed to " + plural(len(img.Pushed), "reference")
		}
		if img.Skipped {
			state = "unchanged, not built; " + state
		}
		signed := "unsigned"
		if len(img.Signatures) > 0 {
			signed = "signed (" + plural(len(img.Signatures), "signature") + ")"
		}
		digest := img.Digest
		if digest == "" {
			digest = "-"
		}
		fmt.Fprintf(a.stageOut("release"), "%s %s: %s, %s\n", img.Name, digest, state, signed)
	}
	if len(files) > 0 {
		var names []string
		for _, m := range rep.Manifests {
			names = append(names, a.rel(m.File))
		}
		fmt.Fprintf(a.stageOut("bump"), "bumped %s: %s\n", plural(len(names), "file"), strings.Join(names, ", "))
	}
}
