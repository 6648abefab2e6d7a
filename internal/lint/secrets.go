package lint

import (
	"bytes"
	"path"
	"strings"
)

// secretKind says why a file in a layer looks like a secret, or "" when it
// does not. peek returns the start of the file's content, for the kinds
// that only count with a key or a token inside.
func secretKind(name string, peek func() []byte) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	base := path.Base(name)
	switch base {
	case "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519":
		return "an SSH private key"
	case "cosign.key":
		return "a cosign private key"
	case ".npmrc":
		if b := peek(); bytes.Contains(b, []byte("_authToken")) || bytes.Contains(b, []byte("_auth=")) || bytes.Contains(b, []byte("_password")) {
			return "an npm token"
		}
		return ""
	}
	if name == ".docker/config.json" || strings.HasSuffix(name, "/.docker/config.json") {
		return "registry credentials (docker config)"
	}
	if strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key") {
		if bytes.Contains(peek(), []byte("PRIVATE KEY-----")) {
			return "a PEM private key"
		}
	}
	return ""
}
