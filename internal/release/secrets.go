package release

import (
	"encoding/base64"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/slipway-build/slipway/internal/project"
)

// maxSecretFile bounds what is read of a secret file to mask it.
const maxSecretFile = 1 << 20

// Secrets are the values this run knows and must never show: every build
// secret of the plan's images (the variable's value or the file's bytes)
// and the registry credentials found for their repositories. The caller
// masks them in what it prints.
func Secrets(cfg *project.Config, plan *Plan, opts Options) []string {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var out []string
	kc := opts.access(cfg).Keychain()
	for _, img := range plan.Images {
		for _, s := range img.Config.Secrets {
			switch {
			case s.Env != "":
				out = append(out, getenv(s.Env))
			case s.Src != "":
				if st, err := os.Stat(s.Src); err == nil && st.Mode().IsRegular() && st.Size() <= maxSecretFile {
					if b, err := os.ReadFile(s.Src); err == nil {
						out = append(out, string(b))
					}
				}
			}
		}
		for _, repo := range img.Repositories {
			auth, err := kc.Resolve(repo)
			if err != nil || auth == authn.Anonymous {
				continue
			}
			cfg, err := auth.Authorization()
			if err != nil {
				continue
			}
			out = append(out, cfg.Password, cfg.IdentityToken, cfg.RegistryToken, cfg.Auth)
			if cfg.Username != "" && cfg.Password != "" {
				out = append(out, base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)))
			}
		}
	}
	return out
}
