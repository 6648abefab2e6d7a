package pusher

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CheckAccess tells whether repository ("host[:port]/path") can be reached
// with the credentials the keychain holds, without writing anything: a
// GET /v2/, a token for pushing to the repository (where the registry
// hands out tokens), and a read of its tag list with those credentials,
// which a registry that checks passwords per request (htpasswd) refuses
// when they are wrong. A repository that does not exist yet is fine. It
// returns whether credentials were found for the registry.
func CheckAccess(ctx context.Context, repository string, opts Options) (withCredentials bool, err error) {
	o := opts.withDefaults()
	var nopts []name.Option
	if o.isInsecure(repository) {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(repository, nopts...)
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", repository, err)
	}
	host := repo.RegistryStr()
	auth, err := o.Keychain.Resolve(repo)
	if err != nil {
		return false, fmt.Errorf("checking %s: reading credentials: %w", host, err)
	}
	withCredentials = auth != authn.Anonymous
	s, err := newSession(o)
	if err != nil {
		return withCredentials, fmt.Errorf("checking %s: %w", host, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Deadline, fmt.Errorf("%w (%s)", errDeadline, o.Deadline))
	defer cancel()
	err = s.retry.do(ctx, "checking "+repo.String(), func(ctx context.Context) error {
		tr, err := transport.NewWithContext(ctx, repo.Registry, auth, s.ua, []string{repo.Scope(transport.PushScope)})
		if err != nil {
			return err
		}
		u := fmt.Sprintf("%s://%s/v2/%s/tags/list?n=1", repo.Scheme(), host, repo.RepositoryStr())
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return redactError(err)
		}
		defer drain(resp)
		return transport.CheckError(resp, http.StatusOK, http.StatusNotFound)
	})
	if err != nil {
		return withCredentials, fmt.Errorf("checking %s: %w", repo, classify(err, host))
	}
	return withCredentials, nil
}
