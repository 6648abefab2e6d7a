package access

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// SecretSpec is what `slipway pull-secret` writes.
type SecretSpec struct {
	// Name of the Secret; a DNS subdomain (lowercase, digits, - and .).
	Name string
	// Namespace, "" for none (kubectl's default: the current context's).
	Namespace string
	// Server is the registry host[:port], the auths key.
	Server string
	// Username and Password are the credentials.
	Username, Password string
	// ServiceAccount, when set, adds a ServiceAccount of that name that
	// lists the Secret in imagePullSecrets.
	ServiceAccount string
}

var (
	subdomainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	})
	labelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`) })
)

// ErrNoCredentials is returned by LocalCredentials when the local stores
// hold nothing for the registry.
var ErrNoCredentials = errors.New("no credentials stored for the registry")

// LocalCredentials finds the user and password that the keychain holds
// for a registry host[:port].
func LocalCredentials(kc authn.Keychain, server string) (user, pass string, err error) {
	reg, err := name.NewRegistry(server)
	if err != nil {
		return "", "", fmt.Errorf("registry %q: %w", server, err)
	}
	auth, err := kc.Resolve(reg)
	if err != nil {
		return "", "", err
	}
	if auth == authn.Anonymous {
		return "", "", fmt.Errorf("%s: %w", server, ErrNoCredentials)
	}
	cfg, err := auth.Authorization()
	if err != nil {
		return "", "", fmt.Errorf("reading credentials for %s: %w", server, err)
	}
	if cfg.Username == "" && cfg.Auth != "" {
		e := AuthEntry{Auth: cfg.Auth}
		if cfg.Username, cfg.Password, err = e.credentials(); err != nil {
			return "", "", fmt.Errorf("reading credentials for %s: %w", server, err)
		}
	}
	if cfg.Username == "" || cfg.Password == "" {
		return "", "", fmt.Errorf("%s: the stored credential is a token, which a pull secret cannot carry: %w", server, ErrNoCredentials)
	}
	return cfg.Username, cfg.Password, nil
}

// PullSecret renders a kubernetes.io/dockerconfigjson Secret as YAML, with
// the keys and the .dockerconfigjson that `kubectl create secret
// docker-registry --dry-run=client -o yaml` writes.
func PullSecret(s SecretSpec) ([]byte, error) {
	if len(s.Name) > 253 || !subdomainRE().MatchString(s.Name) {
		return nil, fmt.Errorf("secret name %q: want lowercase letters, digits, '-' and '.'", s.Name)
	}
	if s.Namespace != "" && (len(s.Namespace) > 63 || !labelRE().MatchString(s.Namespace)) {
		return nil, fmt.Errorf("namespace %q: want lowercase letters, digits and '-'", s.Namespace)
	}
	if s.ServiceAccount != "" && (len(s.ServiceAccount) > 253 || !subdomainRE().MatchString(s.ServiceAccount)) {
		return nil, fmt.Errorf("service account %q: want lowercase letters, digits, '-' and '.'", s.ServiceAccount)
	}
	if _, err := name.NewRegistry(s.Server); err != nil || strings.ContainsAny(s.Server, "/@") {
		return nil, fmt.Errorf("registry %q: want host[:port]", s.Server)
	}
	if s.Username == "" || s.Password == "" {
		return nil, errors.New("pull secret: user name and password are both needed")
	}
	entry := AuthEntry{
		Username: s.Username,
		Password: s.Password,
		Auth:     base64.StdEncoding.EncodeToString([]byte(s.Username + ":" + s.Password)),
	}
	raw, err := json.Marshal(DockerConfig{Auths: map[string]AuthEntry{s.Server: entry}})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	meta := func(n string) {
		b.WriteString("metadata:\n  creationTimestamp: null\n  name: " + n + "\n")
		if s.Namespace != "" {
			b.WriteString("  namespace: " + s.Namespace + "\n")
		}
	}
	b.WriteString("apiVersion: v1\ndata:\n  " + secretKey + ": " + base64.StdEncoding.EncodeToString(raw) + "\nkind: Secret\n")
	meta(s.Name)
	b.WriteString("type: " + SecretType + "\n")
	if s.ServiceAccount != "" {
		b.WriteString("---\napiVersion: v1\nimagePullSecrets:\n- name: " + s.Name + "\nkind: ServiceAccount\n")
		meta(s.ServiceAccount)
	}
	return []byte(b.String()), nil
}

// WriteFile writes a secret's bytes to path whole or not at all, with mode
// 0600 (temp file in the same folder, then rename).
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pull-secret-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
