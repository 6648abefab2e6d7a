package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	rekorclient "github.com/sigstore/rekor/pkg/client"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"
)

// Signer signs image digests with one key. It is safe for concurrent use on
// different digests; signing the same digest concurrently may lose one of
// the signatures (the .sig tag is read, extended and rewritten).
type Signer struct {
	sv     signature.SignerVerifier
	pubPEM []byte
	keyRef string
}

// LoadSigner opens the signing key keyRef: a path to a cosign private key
// file, decrypted with the password from pass (nil: empty password), or a
// KMS URI (awskms://, gcpkms://, azurekms://, hashivault://), which is asked
// for its public key right away so an unreachable KMS fails here, before
// anything is pushed. A wrong password gives an error wrapping
// ErrWrongPassword. Errors never contain the password or key bytes.
func LoadSigner(ctx context.Context, keyRef string, pass PassFunc) (*Signer, error) {
	if keyRef == "" {
		return nil, errors.New("loading signing key: no key given")
	}
	var (
		sv  signature.SignerVerifier
		err error
	)
	if isKMS(keyRef) {
		sv, err = kms.Get(ctx, keyRef, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("loading signing key %s: %w", keyRef, err)
		}
	} else {
		if err := checkFileRef(keyRef); err != nil {
			return nil, fmt.Errorf("loading signing key: %w", err)
		}
		sv, err = loadKeyFile(keyRef, pass)
		if err != nil {
			return nil, fmt.Errorf("loading signing key %s: %w", keyRef, err)
		}
	}
	pub, err := sv.PublicKey(sigopts.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: public key: %w", keyRef, err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: public key: %w", keyRef, err)
	}
	return &Signer{sv: sv, pubPEM: pubPEM, keyRef: keyRef}, nil
}

// loadKeyFile reads and decrypts a cosign private key file. It checks the
// PEM type itself so that a public key or a plain PEM key given by mistake
// gets a clear message.
func loadKeyFile(path string, pass PassFunc) (signature.SignerVerifier, error) {
	kb, err := os.ReadFile(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	block, _ := pem.Decode(kb)
	switch {
	case block == nil:
		return nil, errors.New("not a PEM file")
	case block.Type == "PUBLIC KEY":
		return nil, errors.New("this is a public key; signing needs the private key (.key)")
	case block.Type != cosign.CosignPrivateKeyPemType && block.Type != cosign.SigstorePrivateKeyPemType:
		return nil, fmt.Errorf("PEM block %q is not a cosign private key (import it with `cosign import-key-pair`)", block.Type)
	}
	pw := []byte{}
	if pass != nil {
		pw, err = pass(false)
		if err != nil {
			return nil, fmt.Errorf("reading password: %w", err)
		}
	}
	defer clear(pw)
	sv, err := cosign.LoadPrivateKey(kb, pw, nil)
	if err != nil {
		// The encrypted format authenticates its content, so a failed
		// decryption means a wrong password (or a damaged file).
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, ErrWrongPassword
		}
		return nil, err
	}
	return sv, nil
}

// isKMS reports whether keyRef names a key of a registered KMS provider.
func isKMS(keyRef string) bool {
	for _, p := range kms.SupportedProviders() {
		if strings.HasPrefix(keyRef, p) {
			return true
		}
	}
	return false
}

// checkFileRef refuses URIs of unknown schemes, which cosign's loaders
// would otherwise hand to plugins or fetch over HTTP.
func checkFileRef(keyRef string) error {
	if scheme, _, ok := strings.Cut(keyRef, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return fmt.Errorf("%s: unsupported key URI scheme %q (use a key file or awskms://, gcpkms://, azurekms://, hashivault://)", keyRef, scheme+"://")
	}
	return nil
}

// PublicKeyPEM returns the signer's public key as a PEM "PUBLIC KEY" block,
// the content of a cosign.pub file.
func (s *Signer) PublicKeyPEM() []byte { return bytes.Clone(s.pubPEM) }

// Signature is one signature stored for an image.
type Signature struct {
	// Image is the signed image.
	Image name.Digest
	// Ref is the signature image: tag sha256-<hex>.sig in the signature
	// repository, pinned to the digest it had after this call.
	Ref name.Digest
	// Existed is true when an equal signature (same payload, verified by the
	// same key, with a transparency log entry if one was asked for) was
	// already stored; nothing was written then.
	Existed bool
}

// Tag returns the signature tag, sha256-<hex>.sig.
func (s Signature) Tag() name.Tag {
	return s.Ref.Context().Tag(sigTagName(s.Image))
}

func sigTagName(d name.Digest) string {
	return strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig"
}

// Sign signs the image digest and stores the signature the way
// `cosign sign --key` does. The image must exist (ErrNotFound otherwise).
// Signing the same digest again with the same key and annotations stores no
// second signature (Existed is set). With opts.TLog the signature is also
// uploaded to Rekor and its entry kept in the signature's bundle.
func (s *Signer) Sign(ctx context.Context, digest name.Digest, opts Options) (Signature, error) {
	oo := opts.ociOptions(ctx)
	se, err := ociremote.SignedEntity(digest, oo...)
	if err != nil {
		var nf *ociremote.EntityNotFoundError
		if errors.As(err, &nf) {
			return Signature{}, fmt.Errorf("signing %s: %w", digest, ErrNotFound)
		}
		return Signature{}, fmt.Errorf("signing %s: reading image: %w", digest, err)
	}

	var ann map[string]any
	if len(opts.Annotations) > 0 {
		ann = make(map[string]any, len(opts.Annotations))
		for k, v := range opts.Annotations {
			ann[k] = v
		}
	}
	payload, err := (&sigpayload.Cosign{Image: digest, Annotations: ann}).MarshalJSON()
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: payload: %w", digest, err)
	}
	rawSig, err := s.sv.SignMessage(bytes.NewReader(payload), sigopts.WithContext(ctx))
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s with %s: %w", digest, s.keyRef, err)
	}
	b64 := base64.StdEncoding.EncodeToString(rawSig)
	sig, err := static.NewSignature(payload, b64)
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: %w", digest, err)
	}

	// Look for an equal signature first, before any upload to Rekor: ECDSA
	// signatures differ each time, so equality is "same payload, verified
	// by our key".
	dd := cremote.NewDupeDetector(s.sv)
	existing, err := se.Signatures()
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: reading existing signatures: %w", digest, err)
	}
	dup, err := dd.Find(existing, sig)
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: comparing with existing signatures: %w", digest, err)
	}
	if dup != nil && (!opts.TLog || hasBundle(dup)) {
		ref, err := sigImageRef(digest, existing, oo)
		if err != nil {
			return Signature{}, fmt.Errorf("signing %s: %w", digest, err)
		}
		return Signature{Image: digest, Ref: ref, Existed: true}, nil
	}

	if opts.TLog {
		b, err := s.uploadToRekor(ctx, opts.rekorURL(), payload, rawSig)
		if err != nil {
			return Signature{}, fmt.Errorf("signing %s: transparency log %s: %w", digest, opts.rekorURL(), err)
		}
		if sig, err = static.NewSignature(payload, b64, static.WithBundle(b)); err != nil {
			return Signature{}, fmt.Errorf("signing %s: %w", digest, err)
		}
	}

	newSE, err := mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(dd))
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: attaching signature: %w", digest, err)
	}
	if err := ociremote.WriteSignatures(digest.Repository, newSE, oo...); err != nil {
		return Signature{}, fmt.Errorf("signing %s: pushing signature: %w", digest, err)
	}
	sigs, err := newSE.Signatures()
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: %w", digest, err)
	}
	ref, err := sigImageRef(digest, sigs, oo)
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s: %w", digest, err)
	}
	return Signature{Image: digest, Ref: ref}, nil
}

func hasBundle(sig oci.Signature) bool {
	b, err := sig.Bundle()
	return err == nil && b != nil
}

// sigImageRef names the signature image: the .sig tag's repository at the
// digest of sigs.
func sigImageRef(digest name.Digest, sigs oci.Signatures, oo []ociremote.Option) (name.Digest, error) {
	tag, err := ociremote.SignatureTag(digest, oo...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("signature tag: %w", err)
	}
	h, err := sigs.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("signature digest: %w", err)
	}
	return tag.Context().Digest(h.String()), nil
}

// uploadToRekor records the signature in the transparency log, as
// `cosign sign --tlog-upload` does, and returns the entry as a bundle.
func (s *Signer) uploadToRekor(ctx context.Context, rekorURL string, payload, rawSig []byte) (*cbundle.RekorBundle, error) {
	rc, err := rekorclient.GetRekorClient(rekorURL)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	sum.Write(payload)
	entry, err := cosign.TLogUpload(ctx, rc, rawSig, sum, s.pubPEM)
	if err != nil {
		return nil, err
	}
	b := cbundle.EntryToBundle(entry)
	if b == nil {
		return nil, errors.New("log entry has no inclusion proof")
	}
	return b, nil
}

// SignAll signs each digest in turn (for a multi-platform image: the index
// and each platform manifest, see Manifests) and returns the signatures in
// the same order. It stops at the first error, returning what was signed.
func (s *Signer) SignAll(ctx context.Context, digests []name.Digest, opts Options) ([]Signature, error) {
	out := make([]Signature, 0, len(digests))
	for _, d := range digests {
		sig, err := s.Sign(ctx, d, opts)
		if err != nil {
			return out, err
		}
		out = append(out, sig)
	}
	return out, nil
}

// Manifests returns digest followed by the digests of the manifests an image
// index lists (its platform images, and any attestation manifests), read
// from the registry. For a single-platform image it returns just digest.
// Nested indexes are not descended into.
func Manifests(ctx context.Context, digest name.Digest, opts Options) ([]name.Digest, error) {
	desc, err := remote.Get(digest, opts.remoteOptions(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("reading %s: %w", digest, ErrNotFound)
		}
		return nil, fmt.Errorf("reading %s: %w", digest, err)
	}
	out := []name.Digest{digest}
	if !desc.MediaType.IsIndex() {
		return out, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", digest, err)
	}
	for _, m := range im.Manifests {
		out = append(out, digest.Context().Digest(m.Digest.String()))
	}
	return out, nil
}

// unwrapPath drops the *fs.PathError layer, whose path the caller's message
// already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
