package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/attest"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/verify"
	"github.com/slipway-build/slipway/manifest"
)

func init() {
	register(command{
		name:    "verify",
		args:    "[PATH|REF|-...]",
		summary: "the pre-deploy gate: the manifests' images exist, fit the nodes, are pinned and signed",
		long: `With PATHs (files or folders of manifests, found as bump finds them) or
- (a manifest stream on stdin: kustomize build ... | slipway verify -),
checks every image the manifests name, as a node would meet it: resolve,
exists, platform, pinned, pull-policy, and signed when a key is given
(--key or slipway.yaml's sign:). Without arguments, the manifests of
slipway.yaml when it lists any. REFs beside PATHs are checked the same way.
Prints one line per finding on stdout,
FILE:LINE: OBJECT container NAME: REF: ok|warning|error RULE: why,
hints on stderr, and a summary line. Exits 1 when any finding is an error.

With only REFs (no slipway.yaml needed), or without arguments in a project
without manifests (its plan), checks that each image carries a valid
signature from the key, as cosign verify --key PUB --insecure-ignore-tlog
REF does, and prints REF@DIGEST per verified image.

Credentials are the local ones (docker config, helpers, auth.json), or with
--pull-secret only those of the given kubernetes.io/dockerconfigjson
Secrets or config.json files, exactly what the cluster would use.
slipway.yaml's registries give their ca_file and insecure settings.

--key defaults to the public key beside the project's sign.key (X.pub for
X.key, or the KMS URI itself), else cosign.pub (signature checks of REFs
and the plan). The signature repository defaults to COSIGN_REPOSITORY,
else the project's sign.repository.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			vf := verifyFlags{}
			fs.StringVar(&vf.key, "key", "", "public key `FILE` or KMS URI (default: see above)")
			fs.StringVar(&vf.sigRepo, "signature-repository", "", "look for signatures in `REPO` (like COSIGN_REPOSITORY)")
			annotations := fs.StringArrayP("annotation", "a", nil, "require the signature annotation `KEY=VALUE` (repeatable)")
			fs.BoolVar(&vf.tlog, "tlog", false, "require a verified transparency log entry (default: the project's sign.tlog)")
			fs.StringArrayVar(&vf.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			fs.StringSliceVar(&vf.platforms, "platform", nil, "platforms the nodes run, `os/arch,...` (default verify.platforms, else linux/amd64)")
			fs.BoolVar(&vf.requireDigest, "require-digest", false, "a tag without a digest is an error, not a warning")
			fs.StringArrayVar(&vf.pullSecrets, "pull-secret", nil, "use only the credentials of this image pull Secret or config.json `FILE` (repeatable)")
			fs.IntVar(&vf.jobs, "jobs", 16, "how many images are checked at once")
			fs.IntVar(&vf.retries, "retries", 5, "attempts per registry request for transient failures")
			fs.StringVar(&vf.format, "format", "text", "findings as text or json")
			fs.StringArrayVar(&vf.attestations, "attestation", nil, "require a signed `KIND` attestation: provenance, sbom or vuln (repeatable)")
			return func(ctx context.Context, a *app, args []string) error {
				vf.tlogSet = fs.Changed("tlog")
				vf.annotations = map[string]string{}
				for _, kv := range *annotations {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return a.usagef("--annotation %q: want KEY=VALUE", kv)
					}
					vf.annotations[k] = v
				}
				if vf.format != "text" && vf.format != "json" {
					return a.usagef("--format: %q is not text or json", vf.format)
				}
				if vf.jobs < 1 {
					return a.usagef("--jobs: must be at least 1")
				}
				if vf.retries < 1 {
					return a.usagef("--retries: must be at least 1")
				}
				for _, k := range vf.attestations {
					if !slices.Contains(attest.Kinds, k) {
						return a.usagef("--attestation: %q is not one of provenance, sbom, vuln", k)
					}
				}
				if err := verify.ValidatePlatforms(vf.platforms); err != nil {
					return a.usagef("--platform: %v", err)
				}
				return a.verify(ctx, args, vf)
			}
		},
	})
}

type verifyFlags struct {
	key, sigRepo  string
	annotations   map[string]string
	tlog          bool
	tlogSet       bool
	insecure      []string
	platforms     []string
	requireDigest bool
	pullSecrets   []string
	jobs          int
	retries       int
	format        string
	attestations  []string
}

// verifyArgs sorts the arguments: manifests (files, folders, "-") and
// image references.
type verifyArgs struct {
	paths []string
	stdin bool
	refs  []string
}

func (a *app) splitVerifyArgs(args []string) verifyArgs {
	var va verifyArgs
	for _, s := range args {
		switch {
		case s == "-":
			va.stdin = true
		case isPath(a.path(s)):
			va.paths = append(va.paths, a.path(s))
		default:
			va.refs = append(va.refs, s)
		}
	}
	return va
}

func isPath(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (a *app) verify(ctx context.Context, args []string, vf verifyFlags) error {
	va := a.splitVerifyArgs(args)
	// The project, when there is one, gives the registries' TLS settings
	// even to a check of REFs.
	cfg, err := a.loadProject()
	if err != nil {
		if !errors.Is(err, project.ErrNotFound) || len(args) == 0 {
			return err
		}
		cfg = nil
	}
	secrets := make([]string, len(vf.pullSecrets))
	for i, s := range vf.pullSecrets {
		secrets[i] = a.path(s)
	}
	ao := access.Options{InsecureRegistries: vf.insecure, PullSecrets: secrets, Retries: vf.retries}
	if a.debug {
		ao.Debug = a.stderr
	}
	acc, err := access.New(cfg, ao)
	if err != nil {
		return a.usagef("--pull-secret: %v", err)
	}
	gate := len(va.paths) > 0 || va.stdin || len(args) == 0 && cfg != nil && len(cfg.Manifests) > 0
	if !gate {
		return a.verifySignatures(ctx, cfg, va.refs, vf, acc)
	}
	return a.verifyManifests(ctx, cfg, va, vf, acc)
}

// signOptions are the signature settings of the flags and the project.
func (a *app) signOptions(cfg *project.Config, vf verifyFlags, acc *access.Access) (keyRef string, opts sign.Options, err error) {
	opts = sign.Options{Annotations: vf.annotations, TLog: vf.tlog}
	keyRef = vf.key
	repo := vf.sigRepo
	if repo == "" {
		repo = a.getenv("COSIGN_REPOSITORY")
	}
	if cfg != nil && cfg.Sign != nil {
		s := cfg.Sign
		if keyRef == "" {
			keyRef = publicKeyFor(s.Key)
		}
		if repo == "" {
			repo = s.Repository
		}
		if !vf.tlogSet {
			opts.TLog = s.TLog
		}
		opts.RekorURL = s.RekorURL
	}
	if keyRef != "" && !strings.Contains(keyRef, "://") {
		keyRef = a.path(keyRef)
	}
	if repo != "" {
		r, perr := acc.ParseReference(repo)
		if perr != nil {
			return "", opts, a.usagef("signature repository %q: %v", repo, perr)
		}
		opts.Repository = r.Context()
	}
	return keyRef, opts, nil
}

// verifySignatures checks that each image carries a valid signature.
func (a *app) verifySignatures(ctx context.Context, cfg *project.Config, args []string, vf verifyFlags, acc *access.Access) error {
	keyRef, opts, err := a.signOptions(cfg, vf, acc)
	if err != nil {
		return err
	}
	ro, err := acc.RemoteOptions(vf.jobs)
	if err != nil {
		return err
	}
	opts.RemoteOptions = ro
	var refs []string
	if len(args) > 0 {
		for _, s := range args {
			if _, err := acc.ParseReference(s); err != nil {
				return a.usagef("%q is not an image reference (nor a file): %v", s, err)
			}
		}
		refs = args
	} else {
		plan, err := release.PlanProject(ctx, cfg, release.PlanOptions{Getenv: a.getenv})
		if err != nil {
			return err
		}
		for _, w := range plan.Warnings {
			a.warnf("%s", w)
		}
		for _, img := range plan.Images {
			for _, r := range img.Refs {
				refs = append(refs, r.String())
			}
		}
	}
	if keyRef == "" {
		keyRef = a.path("cosign.pub")
	}
	v, err := sign.LoadVerifier(ctx, keyRef)
	if err != nil {
		return &hintError{err: err, hint: "give the public key with --key (a cosign.pub file or a KMS URI)"}
	}
	var failed []string
	for _, s := range refs {
		ref, _ := acc.ParseReference(s)
		res, err := v.Verify(ctx, ref, opts)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if reason := verifyReason(err); reason != "" {
				fmt.Fprintf(a.stderr, "slipway: %s: %s\n", ref, reason)
			} else {
				fmt.Fprintf(a.stderr, "slipway: %v\n", err)
			}
			failed = append(failed, ref.String())
			continue
		}
		if len(vf.attestations) > 0 {
			if err := attest.Check(ctx, v, res.Digest, a.attestCheck(ctx, cfg, vf), opts); err != nil {
				if ctx.Err() != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "slipway: %s: attestation: %v\n", ref, err)
				failed = append(failed, ref.String())
				continue
			}
		}
		fmt.Fprintf(a.stdout, "%s@%s\n", ref, res.Digest.DigestStr())
	}
	if len(failed) > 0 {
		return &exitError{msg: fmt.Sprintf("verify: %d of %d images failed", len(failed), len(refs)), code: 1}
	}
	return nil
}

// verifyManifests is the gate over manifests.
func (a *app) verifyManifests(ctx context.Context, cfg *project.Config, va verifyArgs, vf verifyFlags, acc *access.Access) error {
	rep := a.newReport("verify")
	res, err := a.runGate(ctx, cfg, va, vf, acc)
	if err == nil {
		rep.Findings = reportFindings(res)
		if res.Failed() {
			err = &exitError{msg: fmt.Sprintf("verify: %s", plural(res.Errors, "image")+" failed"), code: 1}
		}
	}
	return a.finishReport(rep, err)
}

func (a *app) runGate(ctx context.Context, cfg *project.Config, va verifyArgs, vf verifyFlags, acc *access.Access) (*verify.Result, error) {
	uses, err := a.gateUses(ctx, cfg, va)
	if err != nil {
		return nil, err
	}
	opts := verify.Options{Access: acc, Platforms: vf.platforms, RequireDigest: vf.requireDigest, Jobs: vf.jobs}
	if cfg != nil && cfg.Verify != nil {
		if len(opts.Platforms) == 0 {
			opts.Platforms = cfg.Verify.Platforms
		}
		opts.Signed = cfg.Verify.Signed
	}
	if cfg != nil && len(opts.Signed) == 0 {
		for _, r := range cfg.Registry {
			opts.Signed = append(opts.Signed, r.URL)
		}
		for _, img := range cfg.Images {
			for _, r := range img.Registry {
				opts.Signed = append(opts.Signed, r.URL)
			}
		}
	}
	keyRef, so, err := a.signOptions(cfg, vf, acc)
	if err != nil {
		return nil, err
	}
	if keyRef != "" {
		v, err := sign.LoadVerifier(ctx, keyRef)
		if err != nil {
			return nil, &hintError{err: err, hint: "give the public key with --key (a cosign.pub file or a KMS URI)"}
		}
		opts.Verifier, opts.SignOptions = v, so
		if len(vf.attestations) > 0 {
			ac := a.attestCheck(ctx, cfg, vf)
			opts.Attested = func(ctx context.Context, d name.Digest) error { return attest.Check(ctx, v, d, ac, so) }
		}
		if len(opts.Signed) == 0 {
			a.warnf("a key is given but no registry is named (slipway.yaml registry: or verify.signed:): no signature is required")
		}
	}
	res, err := verify.Check(ctx, uses, opts)
	if err != nil {
		return nil, err
	}
	a.printFindings(res, vf.format)
	return res, nil
}

// gateUses collects the image uses of the arguments, or of the project's
// manifests.
func (a *app) gateUses(ctx context.Context, cfg *project.Config, va verifyArgs) ([]verify.Use, error) {
	var targets []manifest.Target
	if len(va.paths) == 0 && !va.stdin && len(va.refs) == 0 {
		ts, err := release.ManifestTargets(cfg, "")
		if err != nil {
			return nil, err
		}
		targets = ts
	} else if len(va.paths) > 0 {
		t, err := manifest.Discover(manifest.Source{Paths: va.paths, Options: manifest.Options{Rules: projectRules(cfg)}})
		if err != nil {
			return nil, err
		}
		targets = []manifest.Target{t}
	}
	a.debugSkipped(targets)
	uses, err := verify.FromTargets(ctx, targets, a.rel)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	if va.stdin {
		su, err := verify.FromStream("-", io.LimitReader(a.stdin, 256<<20))
		if err != nil {
			return nil, fmt.Errorf("reading manifests from stdin: %w", err)
		}
		uses = append(uses, su...)
	}
	for _, r := range va.refs {
		uses = append(uses, verify.Use{Image: r})
	}
	return uses, nil
}

// projectRules are the rules of every manifests entry: Helm values named
// on the command line are read with them.
func projectRules(cfg *project.Config) []manifest.Rule {
	if cfg == nil {
		return nil
	}
	var out []manifest.Rule
	for _, m := range cfg.Manifests {
		for _, r := range m.Rules {
			out = append(out, manifest.Rule{Image: r.Image, Repository: r.Repository, Tag: r.Tag, Digest: r.Digest})
		}
	}
	return out
}

func (a *app) printFindings(res *verify.Result, format string) {
	if format == "json" {
		_ = res.WriteJSON(a.stdout)
	} else {
		for _, f := range res.Findings {
			fmt.Fprintln(a.stdout, f.String())
			if f.Severity == verify.Error && f.Hint != "" {
				fmt.Fprintf(a.stderr, "hint: %s: %s\n", f.Where(), f.Hint)
			}
		}
	}
	fmt.Fprintf(a.stderr, "slipway: %s\n", res.Summary())
}

func reportFindings(res *verify.Result) []report.Finding {
	out := []report.Finding{}
	for _, f := range res.Findings {
		out = append(out, report.Finding{Rule: f.Rule, Severity: f.Severity, File: f.File, Line: f.Line, Object: f.Object,
			Container: f.Container, Reference: f.Reference, Resolved: f.Resolved, Digest: f.Digest, Platforms: f.Platforms, Message: f.Message})
	}
	return out
}

// verifyReason names the kind of failure, or "" when err is another
// problem (network, auth...) whose own message says more.
func verifyReason(err error) string {
	switch {
	case errors.Is(err, sign.ErrNotFound):
		return "missing (no such image)"
	case errors.Is(err, sign.ErrUnsigned):
		return "unsigned"
	case errors.Is(err, sign.ErrKeyMismatch):
		return "signed by another key (no signature verifies with the key)"
	case errors.Is(err, sign.ErrAnnotationMismatch):
		return "signed, but without the required annotations"
	}
	return ""
}

// publicKeyFor names the public key that goes with a signing key: the KMS
// URI itself, or X.pub beside X.key.
func publicKeyFor(signKey string) string {
	if strings.Contains(signKey, "://") {
		return signKey
	}
	if base, ok := strings.CutSuffix(signKey, ".key"); ok {
		return base + ".pub"
	}
	return ""
}

// attestCheck is what --attestation requires; in a project, a provenance
// must name its HEAD.
func (a *app) attestCheck(ctx context.Context, cfg *project.Config, vf verifyFlags) attest.CheckOptions {
	o := attest.CheckOptions{Kinds: vf.attestations}
	if cfg != nil {
		o.SBOMFormat = cfg.SBOMFormat()
		if slices.Contains(vf.attestations, attest.Provenance) {
			o.Head = release.ProjectSource(ctx, cfg, a.getenv)
		}
	}
	return o
}
