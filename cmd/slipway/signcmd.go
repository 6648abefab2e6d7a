package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/release"
)

func init() {
	register(command{
		name:    "sign",
		args:    "[IMAGE...]",
		summary: "sign the pushed digests with cosign",
		long: `Signs, by digest, what the last push published: the digests in the report
given with --from, or else the digests the registry holds for each image's
primary reference. A multi-platform image gets a signature on its index
and on each platform manifest. Signatures are stored the way cosign
stores them (sha256-<hex>.sig), so the cosign CLI verifies them. The key
is sign.key of slipway.yaml; its password comes from COSIGN_PASSWORD or a
terminal prompt. Signing again with the same key adds nothing. Prints one
signature reference per line.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerSign(fs)
			fs.StringArrayVar(&p.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			from := fs.String("from", "", "sign the digests of this report (written by push or release --report)")
			return func(ctx context.Context, a *app, args []string) error {
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				cfg, plan, prev, err := a.planOrReport(ctx, args, nil, *from)
				if err != nil {
					return err
				}
				if cfg.Sign == nil {
					return &exitError{msg: fmt.Sprintf("%s has no sign: section, so there is no key to sign with", cfg.File), code: 2}
				}
				signer, err := release.LoadSigner(ctx, cfg, opts)
				if err != nil {
					return signHint(err)
				}
				so, err := release.SignOptions(cfg, plan, opts)
				if err != nil {
					return err
				}
				rep := a.newReport("sign")
				if prev != nil {
					rep.Git = prev.Git
					for _, img := range plan.Images {
						if r := prev.Image(img.Name); r != nil {
							*rep.Upsert(img.Name) = *r
							rep.Image(img.Name).Signatures = nil
						}
					}
					release.RecordPlan(plan, rep)
				} else if err := release.Resolve(ctx, cfg, plan, opts, rep); err != nil {
					return a.finishReport(rep, withPushHint(err))
				}
				targets, err := release.SignTargets(rep, release.PushOptions(cfg, opts).InsecureRegistries)
				if err != nil {
					return err
				}
				err = rep.Time("sign", func() error {
					sigs, err := release.Sign(ctx, signer, targets, so, rep)
					for _, s := range sigs {
						fmt.Fprintln(a.stdout, s.Ref.String())
					}
					return err
				})
				return a.finishReport(rep, signHint(err))
			}
		},
	})
}
