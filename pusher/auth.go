package pusher

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Keychain finds credentials the way the container ecosystem keeps them,
// first match wins:
//
//   - docker's config.json in $DOCKER_CONFIG (default ~/.docker): "auths",
//     and the credential helpers of "credHelpers" and "credsStore";
//   - containers' auth.json at $REGISTRY_AUTH_FILE;
//   - $XDG_RUNTIME_DIR/containers/auth.json;
//   - $XDG_CONFIG_HOME/containers/auth.json (default ~/.config/containers/auth.json).
//
// Entries may name a registry ("host:port") or a repository in it; the
// repository's entry is preferred. With no entry the access is anonymous.
// The environment is read at each lookup.
func Keychain() authn.Keychain {
	return authn.NewMultiKeychain(
		fileKeychain{path: dockerConfigPath, docker: true},
		fileKeychain{path: func() string { return os.Getenv("REGISTRY_AUTH_FILE") }},
		fileKeychain{path: func() string {
			if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
				return filepath.Join(d, "containers", "auth.json")
			}
			return ""
		}},
		fileKeychain{path: func() string {
			d := os.Getenv("XDG_CONFIG_HOME")
			if d == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return ""
				}
				d = filepath.Join(home, ".config")
			}
			return filepath.Join(d, "containers", "auth.json")
		}},
	)
}

func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker")
}

func dockerConfigPath() string {
	d := dockerConfigDir()
	if d == "" {
		return ""
	}
	return filepath.Join(d, config.ConfigFileName)
}

// fileKeychain reads one docker-format credentials file.
type fileKeychain struct {
	path   func() string
	docker bool // credential helpers apply
}

func (k fileKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	path := k.path()
	if path == "" {
		return authn.Anonymous, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	cf := configfile.New(path)
	if err := cf.LoadFromReader(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("reading credentials from %s: %w", path, err)
	}
	if !k.docker {
		cf.CredentialsStore = ""
		cf.CredentialHelpers = nil
	}
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			// The error of a credential helper names the helper, not the secret.
			return nil, fmt.Errorf("reading credentials for %s from %s: %w", key, path, err)
		}
		ac.ServerAddress = ""
		if ac != (clitypes.AuthConfig{}) {
			return authn.FromConfig(authn.AuthConfig{
				Username:      ac.Username,
				Password:      ac.Password,
				Auth:          ac.Auth,
				IdentityToken: ac.IdentityToken,
				RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// Login checks user and password against registry ("host[:port]"), then
// stores them in dir/config.json the way `docker login` does: in the
// credential helper the file names for the registry if any, else base64 in
// auths.<registry>.auth. Other content of the file is kept; the file is
// written whole (temp file and rename) with mode 0600. dir "" means
// $DOCKER_CONFIG, or ~/.docker.
func Login(ctx context.Context, registry, user, password, dir string, opts Options) error {
	o := opts.withDefaults()
	var nopts []name.Option
	if o.isInsecure(registry) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, nopts...)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	host := reg.RegistryStr()
	if user == "" || password == "" {
		return fmt.Errorf("logging in to %s: user and password are both needed", host)
	}
	s, err := newSession(o)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Deadline, fmt.Errorf("%w (%s)", errDeadline, o.Deadline))
	defer cancel()
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	err = s.retry.do(ctx, "logging in to "+host, func(ctx context.Context) error {
		tr, err := transport.NewWithContext(ctx, reg, auth, s.ua, nil)
		if err != nil {
			return err
		}
		req, err := http.NewRequest(http.MethodGet, reg.Scheme()+"://"+host+"/v2/", nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req.WithContext(ctx))
		if err != nil {
			return redactError(err)
		}
		defer drain(resp)
		return transport.CheckError(resp, http.StatusOK)
	})
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, classify(err, host))
	}
	if dir == "" {
		dir = dockerConfigDir()
	}
	if err := storeLogin(dir, host, user, password); err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	return nil
}

// storeLogin writes the credentials into dir/config.json, keeping every
// other key of the file as it was.
func storeLogin(dir, host, user, password string) error {
	key := host
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	path := filepath.Join(dir, config.ConfigFileName)
	doc := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("reading %s: %w", path, err)
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := doc["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("reading %s: auths: %w", path, err)
		}
	}

	entry := map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
	cf := configfile.New(path)
	if data != nil {
		if err := cf.LoadFromReader(bytes.NewReader(data)); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if helper := cf.CredentialHelpers[key]; helper != "" || cf.CredentialsStore != "" {
		// The helper keeps the secret; the file only names the registry.
		store := cf.GetCredentialsStore(key)
		if err := store.Store(clitypes.AuthConfig{Username: user, Password: password, ServerAddress: key}); err != nil {
			return fmt.Errorf("storing credentials with the credential helper: %w", err)
		}
		entry = map[string]string{}
	}
	raw, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	auths[key] = raw
	if doc["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config.json.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
