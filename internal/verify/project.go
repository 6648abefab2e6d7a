package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/manifest"
)

// ApplyProject fills what the flags left unset from slipway.yaml:
// verify.platforms, and verify.signed, which defaults to the project's
// registries (their images must be signed when a key is given).
func (o *Options) ApplyProject(cfg *project.Config) {
	if cfg == nil {
		return
	}
	if cfg.Verify != nil {
		if len(o.Platforms) == 0 {
			o.Platforms = cfg.Verify.Platforms
		}
		o.Signed = cfg.Verify.Signed
	}
	if len(o.Signed) > 0 {
		return
	}
	for _, r := range cfg.Registry {
		o.Signed = append(o.Signed, r.URL)
	}
	for _, img := range cfg.Images {
		for _, r := range img.Registry {
			o.Signed = append(o.Signed, r.URL)
		}
	}
}

// ReportFindings are the findings as the report records them.
func (r *Result) ReportFindings() []report.Finding {
	out := []report.Finding{}
	for _, f := range r.Findings {
		out = append(out, report.Finding{Rule: f.Rule, Severity: f.Severity, File: f.File, Line: f.Line, Object: f.Object,
			Container: f.Container, Reference: f.Reference, Resolved: f.Resolved, Digest: f.Digest, Platforms: f.Platforms, Message: f.Message})
	}
	return out
}

// Signature is the verdict on one reference checked on its own.
type Signature struct {
	Ref    name.Reference
	Digest name.Digest // set when the signature (and attestations) verified
	// Err is why it failed; Reason names the kind of failure when known.
	Err    error
	Reason string
}

// Signatures checks that each reference carries a valid signature and,
// when attested is set, the attestations it requires. It stops only when
// ctx ends.
func Signatures(ctx context.Context, v *sign.Verifier, refs []name.Reference, so sign.Options, attested func(context.Context, name.Digest) error) ([]Signature, error) {
	var out []Signature
	for _, ref := range refs {
		s := Signature{Ref: ref}
		res, err := v.Verify(ctx, ref, so)
		switch {
		case err != nil:
			s.Err, s.Reason = err, signatureReason(err)
		case attested != nil:
			if aerr := attested(ctx, res.Digest); aerr != nil {
				s.Err, s.Reason = aerr, "attestation: "+aerr.Error()
			} else {
				s.Digest = res.Digest
			}
		default:
			s.Digest = res.Digest
		}
		if s.Err != nil && ctx.Err() != nil {
			return out, s.Err
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteSignatures prints REF@DIGEST on out for each verified reference
// and why the others failed on errw; it returns how many failed.
func WriteSignatures(out, errw io.Writer, rs []Signature) (failed int) {
	for _, r := range rs {
		switch {
		case r.Err == nil:
			fmt.Fprintf(out, "%s@%s\n", r.Ref, r.Digest.DigestStr())
			continue
		case r.Reason != "":
			fmt.Fprintf(errw, "slipway: %s: %s\n", r.Ref, r.Reason)
		default:
			fmt.Fprintf(errw, "slipway: %v\n", r.Err)
		}
		failed++
	}
	return failed
}

// signatureReason names the kind of failure, or "" when err is another
// problem (network, auth...) whose own message says more.
func signatureReason(err error) string {
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

// SignSettings are the signature settings a verification starts from; the
// project's sign: fills what they leave unset.
type SignSettings struct {
	// Key is --key; default the public key beside sign.key.
	Key string
	// Repository is --signature-repository or COSIGN_REPOSITORY; default
	// sign.repository.
	Repository string
	// TLog, when TLogSet, wins over sign.tlog.
	TLog, TLogSet bool
	Annotations   map[string]string
}

// SignOptions resolves the key and the sign options for cfg (which may be
// nil); abs makes a key file's path absolute. The key is "" when none is
// given or implied. An error is a bad signature repository.
func SignOptions(cfg *project.Config, s SignSettings, acc *access.Access, abs func(string) string) (string, sign.Options, error) {
	opts := sign.Options{Annotations: s.Annotations, TLog: s.TLog}
	key, repo := s.Key, s.Repository
	if cfg != nil && cfg.Sign != nil {
		if key == "" {
			key = cfg.Sign.PublicKey()
		}
		if repo == "" {
			repo = cfg.Sign.Repository
		}
		if !s.TLogSet {
			opts.TLog = cfg.Sign.TLog
		}
		opts.RekorURL = cfg.Sign.RekorURL
	}
	if key != "" && !strings.Contains(key, "://") {
		key = abs(key)
	}
	if repo != "" {
		r, err := acc.ParseReference(repo)
		if err != nil {
			return "", opts, fmt.Errorf("signature repository %q: %v", repo, err)
		}
		opts.Repository = r.Context()
	}
	return key, opts, nil
}

// Sources are where the uses of a gate come from: manifest targets, a
// manifest stream (nil for none), and references named alone.
type Sources struct {
	Targets []manifest.Target
	Stream  io.Reader
	Refs    []string
}

// Gather collects the image uses of src; show names files in findings.
func Gather(ctx context.Context, src Sources, show func(string) string) ([]Use, error) {
	uses, err := FromTargets(ctx, src.Targets, show)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	if src.Stream != nil {
		su, err := FromStream("-", io.LimitReader(src.Stream, 256<<20))
		if err != nil {
			return nil, fmt.Errorf("reading manifests from stdin: %w", err)
		}
		uses = append(uses, su...)
	}
	for _, r := range src.Refs {
		uses = append(uses, Use{Image: r})
	}
	return uses, nil
}
