// Package sign signs container images with cosign and verifies their
// signatures. It is the only package that talks to the cosign library.
//
// Signatures are stored the way `cosign sign --key` stores them: a simple
// signing payload signed with the key, attached as a layer of the image
// tagged sha256-<hex>.sig in the image's repository (or in
// Options.Repository, like COSIGN_REPOSITORY). Anyone holding the public key
// can check them with the plain cosign CLI:
//
//	cosign verify --key cosign.pub --insecure-ignore-tlog REF
//
// (add --allow-insecure-registry for plain-HTTP registries, and drop
// --insecure-ignore-tlog when signing with Options.TLog).
//
// Keys are cosign key files (the encrypted PEM written by
// `cosign generate-key-pair` or GenerateKeyPair) or KMS URIs: awskms://,
// gcpkms://, azurekms:// and hashivault://.
package sign

import (
	"context"
	"errors"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	// KMS providers register their URI schemes when imported.
	_ "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/azure"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	_ "github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
)

// DefaultRekorURL is the public Rekor transparency log, used when
// Options.TLog is set and Options.RekorURL is empty.
const DefaultRekorURL = "https://rekor.sigstore.dev"

// Errors callers can branch on with errors.Is. The errors returned by this
// package wrap them with the reference and the step that failed.
var (
	// ErrWrongPassword: the key file could not be decrypted with the password.
	ErrWrongPassword = errors.New("wrong password for the private key")
	// ErrNotFound: the image (tag or digest) does not exist in the registry.
	ErrNotFound = errors.New("image not found")
	// ErrUnsigned: the image exists but has no signatures at all.
	ErrUnsigned = errors.New("image is not signed")
	// ErrKeyMismatch: the image has signatures, but none verifies with the
	// key (signed by another key, or the signature is invalid).
	ErrKeyMismatch = errors.New("no signature verifies with the key")
	// ErrAnnotationMismatch: a signature verifies with the key, but none
	// carries the annotations that were required.
	ErrAnnotationMismatch = errors.New("no verified signature has the required annotations")
)

// Options tune signing and verification. The zero value signs and verifies
// without a transparency log, with the default keychain, next to the image.
type Options struct {
	// Annotations. Sign: added to the signed payload ("optional" section of
	// the simple signing payload, like `cosign sign -a`). Verify: required
	// to be present with these values in a verified signature (like
	// `cosign verify -a`). Default: none.
	Annotations map[string]string

	// Repository stores and looks up signatures in this repository instead
	// of the image's own, like COSIGN_REPOSITORY. Default (zero value): the
	// image's repository.
	Repository name.Repository

	// TLog uploads each new signature to the Rekor transparency log at
	// RekorURL (Sign), and requires a verified log entry (Verify). Default:
	// off, so private image names do not leak to a public log. Verifying
	// with TLog fetches Sigstore's public trust root over the network.
	TLog bool

	// RekorURL is the Rekor server used when TLog is set. Default:
	// DefaultRekorURL.
	RekorURL string

	// RemoteOptions are passed to go-containerregistry for every registry
	// call (auth, transport, user agent...). The context of each call is
	// added. Default: remote.WithAuthFromKeychain(authn.DefaultKeychain).
	RemoteOptions []remote.Option
}

func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	ropts := slices.Clone(o.RemoteOptions)
	if len(ropts) == 0 {
		ropts = []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	}
	return append(ropts, remote.WithContext(ctx))
}

func (o Options) ociOptions(ctx context.Context) []ociremote.Option {
	oo := []ociremote.Option{ociremote.WithRemoteOptions(o.remoteOptions(ctx)...)}
	if o.Repository.RepositoryStr() != "" {
		oo = append(oo, ociremote.WithTargetRepository(o.Repository))
	}
	return oo
}

func (o Options) rekorURL() string {
	if o.RekorURL != "" {
		return o.RekorURL
	}
	return DefaultRekorURL
}
