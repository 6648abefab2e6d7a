package sign

import (
	"context"
	"crypto"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	rekorclient "github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"
)

// Verifier checks image signatures against one public key.
type Verifier struct {
	v      signature.Verifier
	keyRef string
}

// LoadVerifier opens the public key keyRef: a path to a PEM public key file
// (cosign.pub) or a KMS URI (awskms://, gcpkms://, azurekms://,
// hashivault://).
func LoadVerifier(ctx context.Context, keyRef string) (*Verifier, error) {
	if keyRef == "" {
		return nil, errors.New("loading public key: no key given")
	}
	if isKMS(keyRef) {
		sv, err := kms.Get(ctx, keyRef, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("loading public key %s: %w", keyRef, err)
		}
		return &Verifier{v: sv, keyRef: keyRef}, nil
	}
	if err := checkFileRef(keyRef); err != nil {
		return nil, fmt.Errorf("loading public key: %w", err)
	}
	raw, err := os.ReadFile(keyRef)
	if err != nil {
		return nil, fmt.Errorf("loading public key %s: %w", keyRef, unwrapPath(err))
	}
	return newVerifierFromPEM(raw, keyRef)
}

// NewVerifier returns a Verifier for a PEM public key given as bytes (the
// content of a cosign.pub file, or Signer.PublicKeyPEM). name is used in
// messages only.
func NewVerifier(publicPEM []byte, name string) (*Verifier, error) {
	return newVerifierFromPEM(publicPEM, name)
}

func newVerifierFromPEM(raw []byte, keyRef string) (*Verifier, error) {
	// Name the PEM type ourselves: cryptoutils' message for a private key
	// given by mistake is obscure.
	block, _ := pem.Decode(raw)
	switch {
	case block == nil:
		return nil, fmt.Errorf("loading public key %s: not a PEM file", keyRef)
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("loading public key %s: PEM block %q is not a public key (verification needs cosign.pub)", keyRef, block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("loading public key %s: %w", keyRef, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading public key %s: %w", keyRef, err)
	}
	return &Verifier{v: v, keyRef: keyRef}, nil
}

// Verifier returns a Verifier for the signer's own public key.
func (s *Signer) Verifier() *Verifier {
	return &Verifier{v: s.sv, keyRef: s.keyRef}
}

// VerifyResult describes a successful verification.
type VerifyResult struct {
	// Ref is the reference that was checked, as given.
	Ref name.Reference
	// Digest is what Ref resolved to; the signatures are for this digest.
	Digest name.Digest
	// Signatures are the signatures that verified with the key (and carry
	// the required annotations), at least one.
	Signatures []VerifiedSignature
}

// VerifiedSignature is one signature that verified.
type VerifiedSignature struct {
	// Annotations of the signed payload (its "optional" section).
	Annotations map[string]string
}

// Verify checks that ref (a tag is resolved to its digest first) has at
// least one signature that verifies with the key, like
// `cosign verify --key KEY --insecure-ignore-tlog` (or without
// --insecure-ignore-tlog when opts.TLog is set). Signatures are looked up
// in opts.Repository when set. A failure wraps ErrNotFound, ErrUnsigned,
// ErrKeyMismatch or ErrAnnotationMismatch when it is one of those.
func (v *Verifier) Verify(ctx context.Context, ref name.Reference, opts Options) (VerifyResult, error) {
	res := VerifyResult{Ref: ref}
	digest, err := resolve(ctx, ref, opts)
	if err != nil {
		return res, fmt.Errorf("verifying %s: %w", ref, err)
	}
	res.Digest = digest

	co := &cosign.CheckOpts{
		RegistryClientOpts: opts.ociOptions(ctx),
		SigVerifier:        v.v,
		ClaimVerifier:      cosign.SimpleClaimVerifier,
		IgnoreTlog:         !opts.TLog,
		IgnoreSCT:          true,
	}
	if opts.TLog {
		if err := loadTLogTrust(ctx, co); err != nil {
			return res, fmt.Errorf("verifying %s: transparency log trust: %w", ref, err)
		}
		if opts.RekorURL != "" {
			rc, err := rekorclient.GetRekorClient(opts.RekorURL)
			if err != nil {
				return res, fmt.Errorf("verifying %s: transparency log %s: %w", ref, opts.RekorURL, err)
			}
			co.RekorClient = rc
		}
	}
	sigs, _, err := cosign.VerifyImageSignatures(ctx, digest, co)
	if err != nil {
		return res, fmt.Errorf("verifying %s: %w", ref, classify(err))
	}

	for _, s := range sigs {
		p, err := s.Payload()
		if err != nil {
			return res, fmt.Errorf("verifying %s: reading payload: %w", ref, err)
		}
		var sci sigpayload.SimpleContainerImage
		if err := json.Unmarshal(p, &sci); err != nil {
			return res, fmt.Errorf("verifying %s: reading payload: %w", ref, err)
		}
		ann := make(map[string]string, len(sci.Optional))
		for k, val := range sci.Optional {
			if str, ok := val.(string); ok {
				ann[k] = str
			} else {
				ann[k] = fmt.Sprint(val)
			}
		}
		if hasAnnotations(ann, opts.Annotations) {
			res.Signatures = append(res.Signatures, VerifiedSignature{Annotations: ann})
		}
	}
	if len(res.Signatures) == 0 {
		return res, fmt.Errorf("verifying %s: %w", ref, ErrAnnotationMismatch)
	}
	return res, nil
}

// Verify loads the public key keyRef and verifies ref with it; see
// LoadVerifier and Verifier.Verify. To check many images, load the key once
// with LoadVerifier.
func Verify(ctx context.Context, ref name.Reference, keyRef string, opts Options) (VerifyResult, error) {
	v, err := LoadVerifier(ctx, keyRef)
	if err != nil {
		return VerifyResult{Ref: ref}, err
	}
	return v.Verify(ctx, ref, opts)
}

func hasAnnotations(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// resolve turns ref into a digest and makes sure the image exists: cosign
// does not look a digest up, so a missing image would pass for unsigned.
func resolve(ctx context.Context, ref name.Reference, opts Options) (name.Digest, error) {
	ropts := opts.remoteOptions(ctx)
	desc, err := remote.Head(ref, ropts...)
	if err != nil && !isNotFound(err) {
		// Some registries answer HEAD poorly; GET is the reference.
		var gd *remote.Descriptor
		if gd, err = remote.Get(ref, ropts...); err == nil {
			desc = &gd.Descriptor
		}
	}
	if err != nil {
		if isNotFound(err) {
			return name.Digest{}, ErrNotFound
		}
		return name.Digest{}, fmt.Errorf("resolving: %w", err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// classify maps cosign's verification errors to ours.
func classify(err error) error {
	var (
		noSigs   *cosign.ErrNoSignaturesFound
		noMatch  *cosign.ErrNoMatchingSignatures
		notFound *cosign.ErrImageTagNotFound
	)
	switch {
	case errors.As(err, &noSigs):
		return ErrUnsigned
	case errors.As(err, &notFound):
		return ErrNotFound
	case errors.As(err, &noMatch):
		// cosign joins one reason per signature; keep each reason once.
		var reasons []string
		for _, r := range strings.Split(strings.TrimPrefix(noMatch.Error(), "no matching signatures: "), "\n") {
			if r = strings.TrimSpace(r); r != "" && !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		if len(reasons) == 0 {
			return ErrKeyMismatch
		}
		return fmt.Errorf("%w (%s)", ErrKeyMismatch, strings.Join(reasons, "; "))
	}
	return err
}

// loadTLogTrust fills in what cosign needs to check Rekor entries: the
// Sigstore trust root from TUF, or failing that the Rekor public keys.
func loadTLogTrust(ctx context.Context, co *cosign.CheckOpts) error {
	tm, err := cosign.TrustedRoot()
	if err == nil {
		co.TrustedMaterial = tm
		return nil
	}
	pubs, perr := cosign.GetRekorPubs(ctx)
	if perr != nil {
		return errors.Join(err, perr)
	}
	co.RekorPubKeys = pubs
	return nil
}
