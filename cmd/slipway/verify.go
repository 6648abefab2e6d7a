package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/pusher"
)

func init() {
	register(command{
		name:    "verify",
		args:    "[REF...]",
		summary: "check that images carry a valid signature from the key",
		long: `With REFs, checks those images (tags are resolved to digests; no
slipway.yaml is needed). Without, checks every reference of the project's
plan. Each image must have a signature stored the way cosign stores them
that verifies with the public key; the same check as
cosign verify --key PUB --insecure-ignore-tlog REF.

Prints each verified image as REF@DIGEST on stdout. Exits 1, naming each
image that is unsigned, signed by another key or missing.

--key defaults to the public key beside the project's sign.key (X.pub for
X.key, or the KMS URI itself), else cosign.pub. The signature repository
defaults to COSIGN_REPOSITORY, else the project's sign.repository.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			key := fs.String("key", "", "public key `FILE` or KMS URI (default: see above)")
			sigRepo := fs.String("signature-repository", "", "look for signatures in `REPO` (like COSIGN_REPOSITORY)")
			annotations := fs.StringArrayP("annotation", "a", nil, "require the signature annotation `KEY=VALUE` (repeatable)")
			tlog := fs.Bool("tlog", false, "require a verified transparency log entry (default: the project's sign.tlog)")
			insecure := fs.StringArray("insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable)")
			return func(ctx context.Context, a *app, args []string) error {
				vf := verifyFlags{key: *key, sigRepo: *sigRepo, tlog: *tlog, tlogSet: fs.Changed("tlog"), insecure: *insecure}
				vf.annotations = map[string]string{}
				for _, kv := range *annotations {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return a.usagef("--annotation %q: want KEY=VALUE", kv)
					}
					vf.annotations[k] = v
				}
				return a.verify(ctx, args, vf)
			}
		},
	})
}

type verifyFlags struct {
	key, sigRepo string
	annotations  map[string]string
	tlog         bool
	tlogSet      bool
	insecure     []string
}

func (a *app) verify(ctx context.Context, args []string, vf verifyFlags) error {
	opts := sign.Options{
		Annotations:   vf.annotations,
		TLog:          vf.tlog,
		RemoteOptions: []remote.Option{remote.WithAuthFromKeychain(pusher.Keychain())},
	}
	keyRef := vf.key
	repo := vf.sigRepo
	if repo == "" {
		repo = a.getenv("COSIGN_REPOSITORY")
	}

	var refs []name.Reference
	if len(args) > 0 {
		for _, s := range args {
			ref, err := parseRef(s, vf.insecure)
			if err != nil {
				return a.usagef("%q is not an image reference: %v", s, err)
			}
			refs = append(refs, ref)
		}
	} else {
		cfg, err := a.loadProject()
		if err != nil {
			return err
		}
		plan, err := release.PlanProject(ctx, cfg, release.PlanOptions{Getenv: a.getenv})
		if err != nil {
			return err
		}
		for _, w := range plan.Warnings {
			a.warnf("%s", w)
		}
		for _, img := range plan.Images {
			for _, r := range img.Refs {
				refs = append(refs, r)
			}
		}
		if s := cfg.Sign; s != nil {
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
	}
	if keyRef == "" {
		keyRef = "cosign.pub"
	}
	if !strings.Contains(keyRef, "://") {
		keyRef = a.path(keyRef)
	}
	if repo != "" {
		r, err := name.NewRepository(repo, nameOpts(repo, vf.insecure)...)
		if err != nil {
			return a.usagef("signature repository %q: %v", repo, err)
		}
		opts.Repository = r
	}

	v, err := sign.LoadVerifier(ctx, keyRef)
	if err != nil {
		return &hintError{err: err, hint: "give the public key with --key (a cosign.pub file or a KMS URI)"}
	}
	var failed []string
	for _, ref := range refs {
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
		fmt.Fprintf(a.stdout, "%s@%s\n", ref, res.Digest.DigestStr())
	}
	if len(failed) > 0 {
		return &exitError{msg: fmt.Sprintf("verify: %d of %d images failed", len(failed), len(refs)), code: 1}
	}
	return nil
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

// parseRef parses an image reference, allowing plain HTTP to the hosts
// listed in insecure.
func parseRef(s string, insecure []string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if slices.Contains(insecure, ref.Context().RegistryStr()) {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

func nameOpts(repo string, insecure []string) []name.Option {
	r, err := name.NewRepository(repo)
	if err == nil && slices.Contains(insecure, r.RegistryStr()) {
		return []name.Option{name.Insecure}
	}
	return nil
}
