package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/promote"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
)

func init() {
	register(command{
		name:    "promote",
		args:    "--from REPORT --to REGISTRY[/PATH] [IMAGE...] | SRC_REF DST_REPO",
		summary: "copy released images to another registry by digest, with signatures and referrers",
		report:  true,
		long: `Copies each image of the report (or the IMAGEs named) from where it was
pushed to REGISTRY/PATH/NAME, by digest and byte for byte: the index, every
platform manifest and blob, the cosign signatures, attestations and SBOMs
(sha256-<hex>.sig, .att, .sbom) and the OCI referrers of each. The copies
get the report's tags, or those of --tag. With SRC_REF DST_REPO, one image
is copied without a report (a tag in SRC_REF is resolved and reused).

Blobs are skipped when present, mounted within one registry and otherwise
streamed; manifests go before tags, the image tags last, and every tag is
read back. A destination tag that points at another digest is refused
unless --force. With --key (default: the public key beside the project's
sign.key) the signatures are verified at the destination. --bump rewrites
the image lines of the given manifests to the promoted references after
the copy. Prints REF@DIGEST per promoted tag; --dry-run prints the plan
and writes nothing.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerJobs(fs)
			fs.StringArrayVar(&p.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			fs.IntVar(&p.retries, "retries", 5, "attempts per registry request for transient failures")
			p.registerBump(fs)
			var f promoteFlags
			fs.StringVar(&f.from, "from", "", "promote the images of this `REPORT` (written by push or release --report)")
			fs.StringVar(&f.to, "to", "", "destination `REGISTRY[/PATH]`; each image goes to REGISTRY/PATH/NAME")
			fs.StringArrayVar(&f.tags, "tag", nil, "give the copies tag `T` instead of the report's (repeatable)")
			fs.BoolVar(&f.force, "force", false, "move destination tags that point at other digests")
			fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be copied; write nothing")
			fs.StringVar(&f.key, "key", "", "verify the copied signatures with this public key `FILE` or KMS URI")
			fs.StringVar(&f.caFile, "to-ca-file", "", "trust the CA certificates in `FILE` for the destination registry")
			fs.StringVar(&f.sigRepo, "signature-repository", "", "look for the source's signatures in `REPO` (default $COSIGN_REPOSITORY, then sign.repository)")
			fs.StringArrayVar(&f.bump, "bump", nil, "after the copy, rewrite the manifests at `PATH` to the promoted references (repeatable)")
			return func(ctx context.Context, a *app, args []string) error {
				return a.promote(ctx, p, f, args)
			}
		},
	})
}

type promoteFlags struct {
	from, to, key, caFile string
	sigRepo               string
	tags, bump            []string
	force, dryRun         bool
}

func (a *app) promote(ctx context.Context, p *pipelineFlags, f promoteFlags, args []string) error {
	if f.from == "" && len(args) != 2 {
		return a.usagef("give --from REPORT --to REGISTRY[/PATH], or SRC_REF DST_REPO")
	}
	if f.from != "" && f.to == "" {
		return a.usagef("--from needs --to REGISTRY[/PATH]")
	}
	if f.from == "" && f.to != "" {
		return a.usagef("--to goes with --from; without a report, give SRC_REF DST_REPO")
	}
	for _, t := range f.tags {
		if _, err := name.NewTag("x:" + t); err != nil {
			return a.usagef("--tag %q: not a valid tag", t)
		}
	}
	opts, err := a.options(p)
	if err != nil {
		return err
	}
	cfg, err := a.loadProject()
	switch {
	case errors.Is(err, project.ErrNotFound):
		cfg = &project.Config{Dir: a.wd}
	case err != nil:
		return err
	}
	acc, err := access.New(cfg, access.Options{InsecureRegistries: p.insecure, Retries: p.retries, Debug: opts.Debug})
	if err != nil {
		return err
	}
	insecure := acc.InsecureRegistries()

	var images []promote.Image
	var prev *report.Report
	dest := f.to
	if f.from == "" {
		dest = args[1]
	}
	if f.from != "" {
		if dest, err = promote.Destination(f.to, insecure); err != nil {
			return a.usagef("--to: %v", err)
		}
	}
	if f.caFile != "" {
		// A destination slipway.yaml does not name: its CA joins the rest.
		host := access.RegistryHost(dest)
		if acc, err = access.New(cfg, access.Options{InsecureRegistries: p.insecure, Retries: p.retries, Debug: opts.Debug,
			CAFiles: map[string]string{host: a.path(f.caFile)}}); err != nil {
			return err
		}
	}
	ropts, err := acc.RemoteOptions(p.jobs)
	if err != nil {
		return err
	}
	if f.from != "" {
		if prev, err = report.Read(a.path(f.from)); err != nil {
			return err
		}
		if images, err = promote.FromReport(prev, dest, args, f.tags, insecure); err != nil {
			return &exitError{msg: "promoting: " + err.Error(), code: 2}
		}
	} else {
		img, err := promote.ResolveSource(ctx, args[0], dest, insecure, ropts)
		if err != nil {
			return withPushHint(err)
		}
		if len(f.tags) > 0 {
			img.Tags = f.tags
		}
		images = []promote.Image{img}
	}

	popts := promote.Options{Remote: ropts, Jobs: p.jobs, Force: f.force, DryRun: f.dryRun}
	sigRepo := f.sigRepo
	if sigRepo == "" {
		sigRepo = a.getenv("COSIGN_REPOSITORY")
	}
	if sigRepo == "" && cfg.Sign != nil {
		sigRepo = cfg.Sign.Repository
	}
	if sigRepo != "" {
		r, err := name.NewRepository(sigRepo, acc.NameOptions(sigRepo+":x")...)
		if err != nil {
			return a.usagef("signature repository %q: %v", sigRepo, err)
		}
		popts.SignatureRepository = r
	}
	if a.progress != "quiet" {
		popts.Progress = a.stderr
	}
	if keyRef := a.promoteKey(f.key, cfg); keyRef != "" {
		v, err := sign.LoadVerifier(ctx, keyRef)
		if err != nil {
			return &hintError{err: err, hint: "give the public key with --key (a cosign.pub file or a KMS URI)"}
		}
		popts.Verifier = v
	}
	if len(f.bump) > 0 {
		pin := p.pin
		if pin == "" {
			pin = projectPin(cfg)
		}
		if popts.Bump, err = a.bumpTargets(cfg, f.bump, pin); err != nil {
			return err
		}
	}

	rep := a.newReport("promote")
	if prev != nil {
		rep.Git = prev.Git
	}
	var res *promote.Result
	err = rep.Time("promote", func() error {
		var err error
		res, err = promote.Run(ctx, images, popts)
		return err
	})
	if res != nil {
		res.Record(rep)
		for _, u := range res.Unmatched {
			a.warnf("--bump: no reference to %s", u)
		}
	}
	if err != nil {
		if errors.Is(err, sign.ErrKeyMismatch) || errors.Is(err, sign.ErrUnsigned) {
			err = &hintError{err: err, hint: "no promoted image tag was written; give the release's public key with --key, or sign the image at the source"}
		}
		return a.finishReport(rep, withPushHint(err))
	}
	if f.dryRun {
		if err := res.WritePlan(a.stdout); err != nil {
			return err
		}
		if res.Changes != nil {
			if err := a.relativeChanges(res.Changes).Diff(a.stdout); err != nil {
				return err
			}
		}
		return a.finishReport(rep, nil)
	}
	if res.Changes != nil {
		release.RecordEdits(res.Changes, rep)
		for _, e := range res.Changes.Edits() {
			if e.Old != e.New {
				fmt.Fprintf(a.stderr, "%s:%d: %s%s: %s -> %s\n", a.rel(e.File), e.Line, e.Object, withSpace(e.Container), e.Old, e.New)
			}
		}
	}
	for _, c := range res.Images {
		if len(c.Pushed) == 0 {
			fmt.Fprintf(a.stdout, "%s@%s\n", c.Dest, c.Digest)
		}
		for _, p := range c.Pushed {
			fmt.Fprintln(a.stdout, p)
		}
	}
	return a.finishReport(rep, nil)
}

// promoteKey is the public key that checks the copied signatures: --key,
// else the one beside the project's sign.key; "" skips the check.
func (a *app) promoteKey(flag string, cfg *project.Config) string {
	k := flag
	if k == "" {
		k = cfg.Sign.PublicKey()
	}
	if k != "" && !strings.Contains(k, "://") {
		k = a.path(k)
	}
	return k
}

// projectPin is the pin every manifests entry of slipway.yaml agrees on,
// else "" (tag+digest).
func projectPin(cfg *project.Config) string {
	pin := ""
	for i, m := range cfg.Manifests {
		if i > 0 && m.Pin != pin {
			return ""
		}
		pin = m.Pin
	}
	return pin
}

func withSpace(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}
