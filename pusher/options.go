// Package pusher publishes images and image indexes to OCI registries.
//
// Push uploads an artifact's blobs, then its manifests (children before the
// index), then its tags, to every registry named by the references it is
// given, and finally checks that every reference resolves to the pushed
// digest. The order is the safety: no tag is written before everything it
// points to is present in every target registry, so a push that fails before
// tagging leaves existing tags where they were, and no tag ever points at
// incomplete content.
//
// Requests that fail for a transient reason (408, 429, 5xx, connection
// reset, EOF, timeouts, stalled transfers) are retried with exponential
// backoff and jitter, honouring Retry-After. Credentials come from the docker
// and containers configuration files (see Keychain) and never appear in
// errors or in the debug log.
package pusher

import (
	"io"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Options tune Push and Login. The zero value is ready to use.
type Options struct {
	// Jobs is how many blobs are uploaded at once. Default 4.
	Jobs int

	// Guard, when set, is given the tags found pointing at another digest
	// than the artifact's, before anything is sent; an error from it stops
	// the push there, with nothing written. Default: none (tags move).
	Guard func(moves []Move) error

	// Retries is how many times one operation (a request, or the requests
	// of one blob upload) is tried in all when it fails for a transient
	// reason. Default 5; 1 disables retrying.
	Retries int

	// Deadline bounds the whole push, retries and waits included.
	// Default 10 minutes.
	Deadline time.Duration

	// StallTimeout aborts, and retries, a request that sends or receives no
	// byte for this long, waiting for the response included. Default 60 s.
	StallTimeout time.Duration

	// Keychain finds the credentials for a repository. Default: Keychain().
	Keychain authn.Keychain

	// InsecureRegistries lists registries ("host" or "host:port") that may
	// be reached over plain HTTP. localhost, 127.0.0.0/8 and ::1 always may.
	// TLS, when used, is verified all the same.
	InsecureRegistries []string

	// CAFiles maps a registry ("host" or "host:port") to a PEM file of CA
	// certificates trusted for it, on top of the system's.
	CAFiles map[string]string

	// Progress receives human-readable progress; nil means silent.
	Progress io.Writer

	// ProgressMode picks bars or plain lines. Default ProgressAuto.
	ProgressMode ProgressMode

	// Transport replaces the base HTTP transport (tests). When set, CAFiles
	// are not applied; the plain-HTTP rule still is. Default: a clone of
	// http.DefaultTransport with verified TLS and the CAs of CAFiles.
	Transport http.RoundTripper

	// Debug, when set, receives one line per HTTP request (method, URL with
	// secret-looking query values removed, status, duration) and one per
	// retry. Headers, bodies and credentials are never written.
	Debug io.Writer

	// backoff is the first retry delay, doubled on every attempt (with
	// jitter) up to maxBackoff. Default 250 ms; tests shorten it.
	backoff time.Duration
}

// ProgressMode selects how progress is drawn.
type ProgressMode int

const (
	// ProgressAuto draws bars when Progress is a terminal, plain lines otherwise.
	ProgressAuto ProgressMode = iota
	// ProgressPlain writes one line per event, and a line per running blob every few seconds.
	ProgressPlain
	// ProgressBar redraws one bar per running blob in place (ANSI escapes).
	ProgressBar
)

const maxBackoff = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Minute
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 60 * time.Second
	}
	if o.Keychain == nil {
		o.Keychain = Keychain()
	}
	if o.backoff <= 0 {
		o.backoff = 250 * time.Millisecond
	}
	return o
}

// Move is a tag that already points at another digest than the one pushed.
type Move struct {
	Ref      name.Tag
	Old, New string
}
