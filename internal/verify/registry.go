package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipway-build/slipway/internal/imagepolicy"
	"github.com/slipway-build/slipway/internal/sign"
)

type platformSet []ocispec.Platform

func (ps platformSet) names() []string {
	var out []string
	for _, p := range ps {
		out = append(out, platforms.Format(p))
	}
	sort.Strings(out)
	return out
}

// missing names the wanted platforms that no platform of the image
// matches, as the node's runtime matches them.
func (ps platformSet) missing(wanted []platformWant) []string {
	var out []string
	for _, w := range wanted {
		found := false
		for _, p := range ps {
			if w.m.Match(p) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, w.name)
		}
	}
	return out
}

// imagePlatforms reads the platforms of a fetched manifest: an index's
// entries (attestation entries left out), or a single image's config.
func imagePlatforms(d *remote.Descriptor) (platformSet, error) {
	if d.MediaType.IsIndex() {
		var im v1.IndexManifest
		if err := json.Unmarshal(d.Manifest, &im); err != nil {
			return nil, err
		}
		var out platformSet
		for _, m := range im.Manifests {
			if m.Platform == nil || m.Platform.OS == "unknown" {
				continue
			}
			out = append(out, ocispec.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant, OSVersion: m.Platform.OSVersion})
		}
		return out, nil
	}
	img, err := d.Image()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if cf.OS == "" && cf.Architecture == "" {
		// No platform to judge; a node's runtime pulls and runs it as is.
		return nil, nil
	}
	return platformSet{{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}}, nil
}

// registryCause words why the registry did not give the image, as the
// kubelet's ErrImagePull would, with what to do.
func (c *checker) registryCause(ctx context.Context, ref imagepolicy.Ref, err error) (msg, hint string) {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			what := "tag " + ref.Tag
			if ref.Digest != "" {
				what = "digest " + ref.Digest
			} else if ref.Tag == "" {
				what = "tag latest"
			}
			if c.repoMissing(ctx, ref, te) {
				return fmt.Sprintf("repository %s/%s does not exist (or is not visible to these credentials); the kubelet reports ErrImagePull: not found", ref.Registry, ref.Repository),
					"check the image name; on Docker Hub a one-word name means library/NAME"
			}
			return fmt.Sprintf("%s not found in %s/%s; the kubelet reports ErrImagePull: not found", what, ref.Registry, ref.Repository),
				"push it first (slipway release), or fix the tag"
		case http.StatusUnauthorized, http.StatusForbidden:
			if c.anonymous(ref) {
				how := "no credentials for " + ref.Registry
				if c.opts.Access.FromPullSecrets() {
					how = "no pull secret has credentials for " + ref.Registry
				}
				return fmt.Sprintf("%s: the registry answered %d; pods fail with ImagePullBackOff (authentication required)", how, te.StatusCode),
					"give the cluster an image pull secret (slipway pull-secret) and check it with --pull-secret"
			}
			return fmt.Sprintf("the credentials for %s were refused (%d); pods fail with ImagePullBackOff (unauthorized)", ref.Registry, te.StatusCode),
				"renew the credentials (slipway login) and the cluster's pull secret (slipway pull-secret)"
		case http.StatusBadRequest:
			if te.Request != nil && te.Request.URL.Scheme == "http" && len(te.Errors) == 0 {
				// HTTPS failed, and the plain-HTTP fallback go-containerregistry
				// tries for loopback hosts reached a TLS server.
				return fmt.Sprintf("TLS: the certificate of %s is signed by an unknown authority", ref.Registry),
					"give the registry's CA as ca_file in slipway.yaml (nodes need it too: containerd's hosts.toml)"
			}
		case http.StatusTooManyRequests:
			return "the registry rate-limits pulls (429); nodes may hit ImagePullBackOff", "authenticate pulls or mirror the image"
		}
		return fmt.Sprintf("the registry answered %d (%s)", te.StatusCode, shortErr(err)), ""
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ua), errors.As(err, &ve) && errors.As(ve.Err, &ua):
		return fmt.Sprintf("TLS: the certificate of %s is signed by an unknown authority", ref.Registry),
			"give the registry's CA as ca_file in slipway.yaml (nodes need it too: containerd's hosts.toml)"
	case errors.As(err, &hn):
		return fmt.Sprintf("TLS: the certificate of %s is not valid for that name", ref.Registry), "use the host name the certificate names"
	case errors.As(err, &ci):
		return fmt.Sprintf("TLS: the certificate of %s is not valid (%v)", ref.Registry, ci), ""
	case errors.As(err, &rh):
		return fmt.Sprintf("TLS: %s does not speak TLS", ref.Registry), "list it under insecure_registries if it is meant to be plain HTTP"
	}
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &de):
		return fmt.Sprintf("cannot resolve the registry host %s", ref.Registry), "check the registry name"
	case errors.As(err, &oe):
		return fmt.Sprintf("cannot connect to %s (%v)", ref.Registry, oe.Err), "check that the registry is up and reachable from here"
	}
	return fmt.Sprintf("reaching %s: %s", ref.Registry, shortErr(err)), ""
}

// repoMissing tells a missing repository from a missing tag: NAME_UNKNOWN
// from the manifest request, else whether listing the repository's tags
// fails with 404 (registries answer MANIFEST_UNKNOWN for both).
func (c *checker) repoMissing(ctx context.Context, ref imagepolicy.Ref, te *transport.Error) bool {
	for _, d := range te.Errors {
		if d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	_, err := remote.List(ref.Name.Context(), c.ro...)
	var le *transport.Error
	return errors.As(err, &le) && le.StatusCode == http.StatusNotFound
}

// anonymous reports whether no credentials are known for ref's registry.
func (c *checker) anonymous(ref imagepolicy.Ref) bool {
	a, err := c.opts.Access.Keychain().Resolve(ref.Name.Context())
	return err == nil && a == authn.Anonymous
}

func parseReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// shortErr is an error's message without the request URL go-containerregistry
// puts in front.
func shortErr(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		if len(te.Errors) > 0 {
			return te.Errors[0].Message
		}
		return http.StatusText(te.StatusCode)
	}
	return err.Error()
}

func signReason(err error) string {
	switch {
	case errors.Is(err, sign.ErrUnsigned):
		return "unsigned: no signature stored for the digest"
	case errors.Is(err, sign.ErrKeyMismatch):
		return "signed by another key: no signature verifies with the key"
	case errors.Is(err, sign.ErrAnnotationMismatch):
		return "signed, but without the required annotations"
	case errors.Is(err, sign.ErrNotFound):
		return "unsigned: the image is missing"
	}
	return "checking the signature: " + err.Error()
}
