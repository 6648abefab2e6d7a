// Package access is how slipway reaches registries: one value, built once
// from slipway.yaml and the command's flags, that holds the TLS roots per
// registry (ca_file), the hosts allowed over plain HTTP, the credentials
// (the local stores, or only the given pull secrets) and the retry budget.
// Every command that talks to a registry takes its options from here, so
// push, sign, resolve and verify trust the same CAs and send the same
// credentials.
package access

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/pusher"
)

// Options are the flags that add to slipway.yaml's registry settings.
// The zero value adds nothing.
type Options struct {
	// InsecureRegistries are hosts ("host" or "host:port") allowed over
	// plain HTTP, on top of slipway.yaml's insecure_registries and
	// registries marked insecure. Loopback hosts always are.
	InsecureRegistries []string
	// CAFiles maps a host to a PEM file trusted for it, on top of the
	// ca_file of slipway.yaml's registries (a flag wins for the same host).
	CAFiles map[string]string
	// PullSecrets, when given, are the only credentials used: files holding
	// a kubernetes.io/dockerconfigjson Secret or a docker config.json (see
	// ReadPullSecret). Default: the local stores (pusher.Keychain).
	PullSecrets []string
	// Retries bounds the attempts of one request; 0 means the pusher's
	// default.
	Retries int
	// Debug receives one line per request; never credentials.
	Debug io.Writer
	// Keychain replaces the local stores (tests). Ignored with PullSecrets.
	Keychain authn.Keychain
	// Transport replaces the base HTTP transport (tests); CA files are then
	// not applied.
	Transport http.RoundTripper
}

// Access is the registry settings of one run. It is safe for concurrent
// use.
type Access struct {
	insecure  []string
	caFiles   map[string]string
	keychain  authn.Keychain
	secrets   bool
	retries   int
	debug     io.Writer
	transport http.RoundTripper
}

// New builds the Access of a run from slipway.yaml (cfg may be nil when
// there is no project file) and the flags.
func New(cfg *project.Config, o Options) (*Access, error) {
	a := &Access{caFiles: map[string]string{}, retries: o.Retries, debug: o.Debug, transport: o.Transport, keychain: o.Keychain}
	if cfg != nil {
		a.insecure = append(a.insecure, cfg.InsecureRegistries...)
		add := func(regs project.Registries) {
			for _, r := range regs {
				host := RegistryHost(r.URL)
				if r.CAFile != "" {
					a.caFiles[host] = r.CAFile
				}
				if r.Insecure {
					a.insecure = append(a.insecure, host)
				}
			}
		}
		add(cfg.Registry)
		for _, img := range cfg.Images {
			add(img.Registry)
		}
	}
	a.insecure = append(a.insecure, o.InsecureRegistries...)
	for h, f := range o.CAFiles {
		a.caFiles[h] = f
	}
	if len(o.PullSecrets) > 0 {
		kc, err := PullSecretKeychain(o.PullSecrets)
		if err != nil {
			return nil, err
		}
		a.keychain, a.secrets = kc, true
	}
	if a.keychain == nil {
		a.keychain = pusher.Keychain()
	}
	return a, nil
}

// Keychain finds the credentials for a repository.
func (a *Access) Keychain() authn.Keychain { return a.keychain }

// FromPullSecrets reports whether the credentials are only those of pull
// secrets.
func (a *Access) FromPullSecrets() bool { return a.secrets }

// InsecureRegistries lists the hosts allowed over plain HTTP.
func (a *Access) InsecureRegistries() []string { return slices.Clone(a.insecure) }

// CAFiles maps hosts to the PEM files trusted for them.
func (a *Access) CAFiles() map[string]string {
	m := make(map[string]string, len(a.caFiles))
	for k, v := range a.caFiles {
		m[k] = v
	}
	return m
}

// PushOptions are the pusher's options with this Access's registry
// settings; the caller sets the rest (jobs, deadline, progress).
func (a *Access) PushOptions() pusher.Options {
	return pusher.Options{
		Retries:            a.retries,
		Keychain:           a.keychain,
		InsecureRegistries: a.InsecureRegistries(),
		CAFiles:            a.CAFiles(),
		Transport:          a.transport,
		Debug:              a.debug,
	}
}

// RemoteOptions are go-containerregistry options that reach registries
// the way Push does (see pusher.RemoteOptions). jobs <= 0 means the
// pusher's default.
func (a *Access) RemoteOptions(jobs int) ([]remote.Option, error) {
	po := a.PushOptions()
	po.Jobs = jobs
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return nil, fmt.Errorf("registry access: %w", err)
	}
	return ro, nil
}

// Insecure reports whether host may be reached over plain HTTP by
// configuration (loopback hosts are allowed regardless).
// A host listed without a port covers all its ports.
func (a *Access) Insecure(host string) bool {
	hostOnly, _, _ := strings.Cut(host, ":")
	for _, h := range a.insecure {
		if strings.EqualFold(h, host) || strings.EqualFold(h, hostOnly) {
			return true
		}
	}
	return false
}

// NameOptions are the go-containerregistry parse options for a reference
// or repository s: name.Insecure when its registry is an insecure one.
func (a *Access) NameOptions(s string) []name.Option {
	r, err := name.ParseReference(s)
	if err != nil {
		return nil
	}
	if a.Insecure(r.Context().RegistryStr()) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// ParseReference parses an image reference with NameOptions.
func (a *Access) ParseReference(s string) (name.Reference, error) {
	return name.ParseReference(s, a.NameOptions(s)...)
}

// RegistryHost returns the host[:port] of a registry URL (host/path).
func RegistryHost(url string) string {
	repo, err := name.NewRepository(url+"/x", name.WeakValidation)
	if err != nil {
		host, _, _ := strings.Cut(url, "/")
		return host
	}
	return repo.RegistryStr()
}
