package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/attest"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
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
func (a *app) signOptions(cfg *project.Config, vf verifyFlags, acc *access.Access) (string, sign.Options, error) {
	repo := vf.sigRepo
	if repo == "" {
		repo = a.getenv("COSIGN_REPOSITORY")
	}
	key, opts, err := verify.SignOptions(cfg, verify.SignSettings{Key: vf.key, Repository: repo, TLog: vf.tlog, TLogSet: vf.tlogSet, Annotations: vf.annotations}, acc, a.path)
	if err != nil {
		return "", opts, a.usagef("%v", err)
	}
	return key, opts, nil
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
	v, attested, err := a.verifier(ctx, cfg, vf, keyRef, opts)
	if err != nil {
		return err
	}
	parsed := make([]name.Reference, len(refs))
	for i, s := range refs {
		parsed[i], _ = acc.ParseReference(s)
	}
	results, err := verify.Signatures(ctx, v, parsed, opts, attested)
	if err != nil {
		return err
	}
	if failed := verify.WriteSignatures(a.stdout, a.stderr, results); failed > 0 {
		return &exitError{msg: fmt.Sprintf("verify: %d of %d images failed", failed, len(refs)), code: 1}
	}
	return nil
}

// verifyManifests is the gate over manifests.
func (a *app) verifyManifests(ctx context.Context, cfg *project.Config, va verifyArgs, vf verifyFlags, acc *access.Access) error {
	rep := a.newReport("verify")
	res, err := a.runGate(ctx, cfg, va, vf, acc)
	if err == nil {
		rep.Findings = res.ReportFindings()
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
	opts.ApplyProject(cfg)
	keyRef, so, err := a.signOptions(cfg, vf, acc)
	if err != nil {
		return nil, err
	}
	if keyRef != "" {
		if opts.Verifier, opts.Attested, err = a.verifier(ctx, cfg, vf, keyRef, so); err != nil {
			return nil, err
		}
		opts.SignOptions = so
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
		t, err := manifest.Discover(manifest.Source{Paths: va.paths, Options: manifest.Options{Rules: cfg.BumpRules()}})
		if err != nil {
			return nil, err
		}
		targets = []manifest.Target{t}
	}
	a.debugSkipped(targets)
	src := verify.Sources{Targets: targets, Refs: va.refs}
	if va.stdin {
		src.Stream = a.stdin
	}
	return verify.Gather(ctx, src, a.rel)
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

// verifier loads the public key and, with --attestation, the check of
// the attestations every verified image must carry.
func (a *app) verifier(ctx context.Context, cfg *project.Config, vf verifyFlags, keyRef string, so sign.Options) (*sign.Verifier, func(context.Context, name.Digest) error, error) {
	v, err := sign.LoadVerifier(ctx, keyRef)
	if err != nil {
		return nil, nil, &hintError{err: err, hint: "give the public key with --key (a cosign.pub file or a KMS URI)"}
	}
	if len(vf.attestations) == 0 {
		return v, nil, nil
	}
	ac := a.attestCheck(ctx, cfg, vf)
	return v, func(ctx context.Context, d name.Digest) error { return attest.Check(ctx, v, d, ac, so) }, nil
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
