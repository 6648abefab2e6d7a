package access

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// SecretType is the type of an image pull secret.
const SecretType = "kubernetes.io/dockerconfigjson"

// secretKey is the data key of a dockerconfigjson Secret.
const secretKey = ".dockerconfigjson"

// DockerConfig is the JSON a pull secret carries: what a node's kubelet
// reads.
type DockerConfig struct {
	Auths map[string]AuthEntry `json:"auths"`
}

// AuthEntry is one registry's credentials, as kubectl writes them.
type AuthEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// credentials returns the user and password, decoding auth when the
// fields are empty, as the kubelet does.
func (e AuthEntry) credentials() (user, pass string, err error) {
	if e.Username != "" || e.Password != "" || e.Auth == "" {
		return e.Username, e.Password, nil
	}
	raw, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return "", "", errors.New("auth is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("auth is not base64 of USER:PASSWORD")
	}
	return user, pass, nil
}

// ReadPullSecret reads the docker config a file holds: every
// kubernetes.io/dockerconfigjson Secret of a YAML or JSON manifest stream
// (data, base64, or stringData), or a plain config.json with "auths".
// Errors never quote the file's content.
func ReadPullSecret(path string) (DockerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DockerConfig{}, fmt.Errorf("reading pull secret: %w", err)
	}
	cfg, err := parsePullSecret(data)
	if err != nil {
		return DockerConfig{}, fmt.Errorf("reading pull secret %s: %w", path, err)
	}
	return cfg, nil
}

type secretDoc struct {
	Kind       string            `yaml:"kind"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Auths      map[string]any    `yaml:"auths"`
}

func parsePullSecret(data []byte) (DockerConfig, error) {
	out := DockerConfig{Auths: map[string]AuthEntry{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	found := false
	for n := 1; ; n++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// yaml's messages may quote the text; name the document only.
			return out, fmt.Errorf("document %d is not YAML or JSON", n)
		}
		var doc secretDoc
		if err := node.Decode(&doc); err != nil {
			return out, fmt.Errorf("document %d (line %d) is not a Secret or a docker config", n, node.Line)
		}
		var raw []byte
		switch {
		case doc.Kind == "Secret" && doc.Type == SecretType:
			if s, ok := doc.StringData[secretKey]; ok {
				raw = []byte(s)
			} else if s, ok := doc.Data[secretKey]; ok {
				if raw, err = base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
					return out, fmt.Errorf("document %d (line %d): data.%s is not base64", n, node.Line, secretKey)
				}
			} else {
				return out, fmt.Errorf("document %d (line %d): Secret has no %s in data or stringData", n, node.Line, secretKey)
			}
		case doc.Kind == "" && doc.Auths != nil:
			raw, _ = json.Marshal(doc.Auths)
			raw = append(append([]byte(`{"auths":`), raw...), '}')
		default:
			continue
		}
		var dc DockerConfig
		if err := json.Unmarshal(raw, &dc); err != nil {
			return out, fmt.Errorf("document %d (line %d): %s is not a docker config", n, node.Line, secretKey)
		}
		for k, v := range dc.Auths {
			if _, _, err := v.credentials(); err != nil {
				return out, fmt.Errorf("document %d (line %d): auths %q: %w", n, node.Line, k, err)
			}
			out.Auths[k] = v
		}
		found = true
	}
	if !found {
		return out, fmt.Errorf("no %s Secret and no docker config (auths) in it", SecretType)
	}
	return out, nil
}

// PullSecretKeychain reads the pull secrets at paths into a keychain that
// answers as a node's kubelet would: only from these credentials,
// anonymous for a registry none of them names.
func PullSecretKeychain(paths []string) (authn.Keychain, error) {
	var kc secretKeychain
	for _, p := range paths {
		cfg, err := ReadPullSecret(p)
		if err != nil {
			return nil, err
		}
		for key, e := range cfg.Auths {
			m, err := parseAuthKey(key)
			if err != nil {
				return nil, fmt.Errorf("reading pull secret %s: auths %q: %w", p, key, err)
			}
			m.entry = e
			kc = append(kc, m)
		}
	}
	// The most specific entry wins: longer paths first, then exact hosts
	// before globs.
	sort.SliceStable(kc, func(i, j int) bool {
		if len(kc[i].path) != len(kc[j].path) {
			return len(kc[i].path) > len(kc[j].path)
		}
		return !strings.Contains(kc[i].host, "*") && strings.Contains(kc[j].host, "*")
	})
	return kc, nil
}

type authMatch struct {
	host, port, path string
	entry            AuthEntry
}

type secretKeychain []authMatch

// parseAuthKey reads an auths key the way the kubelet does: an optional
// scheme, a host (whose labels may be globs, *.example.com), an optional
// port and an optional path prefix.
func parseAuthKey(key string) (authMatch, error) {
	s := key
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return authMatch{}, errors.New("not a registry host")
	}
	m := authMatch{host: strings.ToLower(u.Hostname()), port: u.Port(), path: strings.TrimSuffix(u.Path, "/")}
	if isDockerHub(m.host) {
		m.host, m.path = "index.docker.io", ""
	}
	return m, nil
}

func isDockerHub(host string) bool {
	return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io"
}

func (m authMatch) matches(host, port, repo string) bool {
	if m.port != port {
		return false
	}
	hl, ml := strings.Split(host, "."), strings.Split(m.host, ".")
	if len(hl) != len(ml) {
		return false
	}
	for i := range ml {
		if ok, _ := filepath.Match(ml[i], hl[i]); !ok {
			return false
		}
	}
	return m.path == "" || repo == strings.TrimPrefix(m.path, "/") || strings.HasPrefix(repo, strings.TrimPrefix(m.path, "/")+"/")
}

func (kc secretKeychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	host, port := strings.ToLower(target.RegistryStr()), ""
	if h, p, ok := strings.Cut(host, ":"); ok {
		host, port = h, p
	}
	if isDockerHub(host) {
		host = "index.docker.io"
	}
	repo := ""
	if r, ok := target.(name.Repository); ok {
		repo = r.RepositoryStr()
	}
	for _, m := range kc {
		if m.matches(host, port, repo) {
			user, pass, _ := m.entry.credentials()
			return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
		}
	}
	return authn.Anonymous, nil
}
