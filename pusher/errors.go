package pusher

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Errors that Push and Login wrap, for errors.Is. The registry's own error
// (a *transport.Error from go-containerregistry) stays reachable with
// errors.As.
var (
	// ErrUnauthorized: the registry wants credentials, or rejected the ones given (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: the credentials may not do this (403, DENIED).
	ErrDenied = errors.New("denied")
	// ErrNotFound: the repository does not exist (404, NAME_UNKNOWN).
	ErrNotFound = errors.New("repository not found")
	// ErrMismatch: after the push a reference resolves to another digest.
	ErrMismatch = errors.New("reference resolves to another digest")
	// ErrRejected: the registry refused the content (MANIFEST_INVALID, DIGEST_INVALID, ...).
	ErrRejected = errors.New("rejected by the registry")
)

// hostError ties an error to a registry host and, when known, a kind above.
// Its text is the underlying error's.
type hostError struct {
	host string
	kind error
	err  error
}

func (e *hostError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("%s: %v", e.host, e.kind)
	}
	// One line: registries end their error bodies with newlines.
	return strings.Join(strings.Fields(e.err.Error()), " ")
}

func (e *hostError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// Hint gives the advice of the package-level Hint, so that a caller that
// collects Hint() from an error chain finds it.
func (e *hostError) Hint() string { return Hint(e) }

// classify tags a permanent registry error with its kind and host.
func classify(err error, host string) error {
	if err == nil {
		return nil
	}
	var he *hostError
	if errors.As(err, &he) {
		return err
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return &hostError{host: host, err: err}
	}
	var kind error
	switch {
	case terr.StatusCode == http.StatusUnauthorized || hasCode(terr, transport.UnauthorizedErrorCode):
		kind = ErrUnauthorized
	case terr.StatusCode == http.StatusForbidden || hasCode(terr, transport.DeniedErrorCode):
		kind = ErrDenied
	case hasCode(terr, transport.NameUnknownErrorCode) || hasCode(terr, transport.NameInvalidErrorCode) || terr.StatusCode == http.StatusNotFound:
		kind = ErrNotFound
	case hasCode(terr, transport.ManifestInvalidErrorCode) || hasCode(terr, transport.DigestInvalidErrorCode) ||
		hasCode(terr, transport.ManifestBlobUnknownErrorCode) || hasCode(terr, transport.SizeInvalidErrorCode) ||
		hasCode(terr, transport.TagInvalidErrorCode) || hasCode(terr, transport.UnsupportedErrorCode):
		kind = ErrRejected
	}
	return &hostError{host: host, kind: kind, err: err}
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// transient reports whether trying again may succeed.
func transient(err error) bool {
	if errors.Is(err, errStalled) {
		return true
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch s := terr.StatusCode; {
		case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
			return true
		case s >= 500 && s != http.StatusNotImplemented && s != http.StatusHTTPVersionNotSupported:
			return true
		}
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.TooManyRequestsErrorCode, transport.UnavailableErrorCode, transport.BlobUploadUnknownErrorCode:
				// A lost upload session is restarted from the beginning.
				return true
			}
		}
		return false
	}
	// A refused connection is a registry restarting under the push, the
	// common case: retried like a 503.
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	// net.ErrClosed: the transport closed the connection under a writer
	// after the peer reset it.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Hint returns one line of advice for an error from Push or Login, or "" when
// there is none.
func Hint(err error) string {
	if err == nil {
		return ""
	}
	host := "REGISTRY"
	var he *hostError
	if errors.As(err, &he) && he.host != "" {
		host = he.host
	}
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return fmt.Sprintf("check the credentials for %s (slipway login %s -u USER --password-stdin)", host, host)
	case errors.Is(err, ErrDenied):
		return fmt.Sprintf("check that these credentials may push to this repository of %s (permissions)", host)
	case errors.Is(err, ErrNotFound):
		return "check the repository name; some registries need a repository to be created before the first push"
	case errors.Is(err, ErrMismatch):
		return "something else moved the tag during the push; push again"
	case errors.Is(err, ErrPlainHTTP), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http has no error type for the second case.
		return fmt.Sprintf("%s speaks plain HTTP, which is used only for loopback and listed registries: add it to insecure_registries (--insecure-registry %s) if that is intended", host, host)
	case errors.As(err, &ua):
		return fmt.Sprintf("the certificate of %s is not signed by a trusted CA: give its CA with ca_file", host)
	case errors.As(err, &hn), errors.As(err, &ci):
		return fmt.Sprintf("the certificate of %s does not fit it: check the registry's TLS setup", host)
	case errors.Is(err, ErrRejected):
		return "the registry refused the content: check that it supports these media types, or rebuild the image (slipway build)"
	case errors.Is(err, errDeadline):
		return "the push ran out of time: raise --push-timeout, or check the network"
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers at %s: check the registry address and that the registry runs, or raise --retries to wait longer for it", host)
	case transient(err):
		return "the registry kept failing: try again later, or raise --retries"
	}
	return ""
}
