package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// ErrNoAttestation: the image has no attestation of the asked predicate
// type that verifies with the key.
var ErrNoAttestation = errors.New("no attestation of this type verifies with the key")

// Attestation is one attestation stored for an image.
type Attestation struct {
	// Image is the attested digest.
	Image name.Digest
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Ref is the attestation image (tag sha256-<hex>.att), pinned to the
	// digest it had after this call.
	Ref name.Digest
	// Existed is true when the same statement, signed by this key, was
	// already stored; nothing was written then.
	Existed bool
}

// Statement is the part of an in-toto statement Attest checks.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
}

// Attest signs the in-toto statement stmt (JSON; its subject must list
// digest) as a DSSE envelope and stores it the way
// `cosign attest --key KEY --replace` does: a layer of the image tagged
// sha256-<hex>.att, which replaces any earlier attestation of the same
// predicate type. When the same statement signed by this key is already
// stored, nothing is written (Existed is set). opts.TLog is not supported
// for attestations: they stay out of public logs.
func (s *Signer) Attest(ctx context.Context, digest name.Digest, stmt []byte, opts Options) (Attestation, error) {
	var st statement
	if err := json.Unmarshal(stmt, &st); err != nil {
		return Attestation{}, fmt.Errorf("attesting %s: statement: %w", digest, err)
	}
	att := Attestation{Image: digest, PredicateType: st.PredicateType}
	if st.PredicateType == "" {
		return att, fmt.Errorf("attesting %s: statement has no predicateType", digest)
	}
	if !hasSubject(st, digest.DigestStr()) {
		return att, fmt.Errorf("attesting %s: the statement's subject does not name this digest", digest)
	}
	oo := opts.ociOptions(ctx)
	se, err := ociremote.SignedEntity(digest, oo...)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if errors.As(err, &nf) {
			return att, fmt.Errorf("attesting %s: %w", digest, ErrNotFound)
		}
		return att, fmt.Errorf("attesting %s: reading image: %w", digest, err)
	}
	existing, err := se.Attestations()
	if err != nil {
		return att, fmt.Errorf("attesting %s: reading existing attestations: %w", digest, err)
	}
	if same, err := s.findStatement(ctx, existing, stmt); err != nil {
		return att, fmt.Errorf("attesting %s: %w", digest, err)
	} else if same {
		ref, err := attImageRef(digest, existing, oo)
		if err != nil {
			return att, fmt.Errorf("attesting %s: %w", digest, err)
		}
		att.Ref, att.Existed = ref, true
		return att, nil
	}

	envelope, err := dsse.WrapSigner(s.sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(stmt), sigopts.WithContext(ctx))
	if err != nil {
		return att, fmt.Errorf("attesting %s with %s: %w", digest, s.keyRef, err)
	}
	sig, err := static.NewAttestation(envelope, static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": st.PredicateType}))
	if err != nil {
		return att, fmt.Errorf("attesting %s: %w", digest, err)
	}
	newSE, err := mutate.AttachAttestationToEntity(se, sig, mutate.WithReplaceOp(cremote.NewReplaceOp(st.PredicateType)))
	if err != nil {
		return att, fmt.Errorf("attesting %s: attaching: %w", digest, err)
	}
	if err := ociremote.WriteAttestations(digest.Repository, newSE, oo...); err != nil {
		return att, fmt.Errorf("attesting %s: pushing attestation: %w", digest, err)
	}
	atts, err := newSE.Attestations()
	if err != nil {
		return att, fmt.Errorf("attesting %s: %w", digest, err)
	}
	if att.Ref, err = attImageRef(digest, atts, oo); err != nil {
		return att, fmt.Errorf("attesting %s: %w", digest, err)
	}
	return att, nil
}

func hasSubject(st statement, digest string) bool {
	alg, hex, _ := cutDigest(digest)
	for _, s := range st.Subject {
		if s.Digest[alg] == hex {
			return true
		}
	}
	return false
}

func cutDigest(d string) (alg, hex string, ok bool) {
	for i := range d {
		if d[i] == ':' {
			return d[:i], d[i+1:], true
		}
	}
	return "", d, false
}

// findStatement reports whether atts holds stmt in an envelope signed by s.
func (s *Signer) findStatement(ctx context.Context, atts oci.Signatures, stmt []byte) (bool, error) {
	list, err := atts.Get()
	if err != nil {
		return false, fmt.Errorf("reading existing attestations: %w", err)
	}
	verifier := dsse.WrapVerifier(s.sv)
	for _, a := range list {
		env, err := a.Payload()
		if err != nil {
			continue
		}
		payload, err := envelopePayload(env)
		if err != nil || !bytes.Equal(payload, stmt) {
			continue
		}
		if verifier.VerifySignature(bytes.NewReader(env), nil, sigopts.WithContext(ctx)) == nil {
			return true, nil
		}
	}
	return false, nil
}

// envelopePayload decodes the payload of a DSSE envelope.
func envelopePayload(env []byte) ([]byte, error) {
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(e.Payload)
}

// attImageRef names the attestation image: the .att tag's repository at
// the digest of atts.
func attImageRef(digest name.Digest, atts oci.Signatures, oo []ociremote.Option) (name.Digest, error) {
	tag, err := ociremote.AttestationTag(digest, oo...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attestation tag: %w", err)
	}
	h, err := atts.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("attestation digest: %w", err)
	}
	return tag.Context().Digest(h.String()), nil
}

// VerifiedStatement is an in-toto statement whose envelope verified.
type VerifiedStatement struct {
	PredicateType string
	// Statement is the whole statement, JSON.
	Statement []byte
}

// VerifyAttestations checks that ref (a tag is resolved first) has at
// least one attestation of predicateType whose DSSE envelope verifies with
// the key and whose subject is ref's digest, like
// `cosign verify-attestation --key KEY --type T --insecure-ignore-tlog`.
// It returns the verified statements of that type. A failure wraps
// ErrNotFound or ErrNoAttestation (none, or none signed by this key).
func (v *Verifier) VerifyAttestations(ctx context.Context, ref name.Reference, predicateType string, opts Options) ([]VerifiedStatement, error) {
	digest, err := resolve(ctx, ref, opts)
	if err != nil {
		return nil, fmt.Errorf("verifying attestations of %s: %w", ref, err)
	}
	co := &cosign.CheckOpts{
		RegistryClientOpts: opts.ociOptions(ctx),
		SigVerifier:        v.v,
		ClaimVerifier:      cosign.IntotoSubjectClaimVerifier,
		IgnoreTlog:         true,
		IgnoreSCT:          true,
	}
	atts, _, err := cosign.VerifyImageAttestations(ctx, digest, co)
	if err != nil {
		var noMatch *cosign.ErrNoMatchingAttestations
		var none *cosign.ErrNoSignaturesFound
		if errors.As(err, &noMatch) || errors.As(err, &none) {
			return nil, fmt.Errorf("verifying attestations of %s: %s: %w (%v)", digest, predicateType, ErrNoAttestation, err)
		}
		return nil, fmt.Errorf("verifying attestations of %s: %w", digest, classify(err))
	}
	var out []VerifiedStatement
	for _, a := range atts {
		env, err := a.Payload()
		if err != nil {
			continue
		}
		payload, err := envelopePayload(env)
		if err != nil {
			continue
		}
		var st statement
		if json.Unmarshal(payload, &st) != nil || st.PredicateType != predicateType {
			continue
		}
		out = append(out, VerifiedStatement{PredicateType: st.PredicateType, Statement: payload})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("verifying attestations of %s: %s: %w", digest, predicateType, ErrNoAttestation)
	}
	return out, nil
}
