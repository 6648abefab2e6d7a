package pusher

import (
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RemoteOptions returns go-containerregistry options that reach registries
// the way Push does, for other stages that use pkg/v1/remote (signing,
// verifying): the same keychain, TLS roots and CA files, plain-HTTP rule,
// stall timeout, debug log, and Jobs. Retrying is go-containerregistry's,
// set to Retries attempts with the same backoff and transient errors; it
// does not honour Retry-After. The deadline is the caller's (use a context).
// A reference to a registry of InsecureRegistries must be parsed with
// name.Insecure for plain HTTP to be tried. The options ping each registry
// once (GET /v2/), however many repositories they reach; make new options
// for a new run.
func RemoteOptions(opts Options) ([]remote.Option, error) {
	o := opts.withDefaults()
	base, err := newBaseTransport(o)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithTransport(newPingCache(base)),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithJobs(o.Jobs),
		remote.WithUserAgent("slipway"),
		remote.WithRetryBackoff(remote.Backoff{Duration: o.backoff, Factor: 2, Jitter: 0.5, Steps: o.Retries, Cap: maxBackoff}),
		remote.WithRetryPredicate(transient),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
	}, nil
}
