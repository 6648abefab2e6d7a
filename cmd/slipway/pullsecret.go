package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/pusher"
)

func init() {
	register(command{
		name:    "pull-secret",
		args:    "NAME",
		summary: "a kubernetes.io/dockerconfigjson Secret from the local credentials",
		long: `Prints (or writes with -o, mode 0600) an image pull Secret named NAME for
--registry, the same Secret as
kubectl create secret docker-registry NAME --docker-server=HOST
--docker-username=U --docker-password=P --dry-run=client -o yaml.
With --username, the password is read from stdin (--password-stdin);
without, the credentials stored for the registry are used (docker config,
its credential helpers, auth.json: what slipway login wrote). The password
appears in nothing but the Secret. Check the Secret before deploying with
slipway verify --pull-secret FILE.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			reg := fs.String("registry", "", "the registry `HOST[:PORT]` the Secret is for (required)")
			ns := fs.StringP("namespace", "n", "", "the Secret's `NAMESPACE` (default: none, kubectl's current one)")
			user := fs.StringP("username", "u", "", "user `NAME` (default: the stored credentials)")
			fromStdin := fs.Bool("password-stdin", false, "read the password from stdin (with --username)")
			out := fs.StringP("output", "o", "", "write the Secret to `FILE` (mode 0600) instead of stdout")
			sa := fs.String("service-account", "", "add a ServiceAccount `SA` that lists the Secret in imagePullSecrets")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return a.usagef("pull-secret takes one NAME")
				}
				if *reg == "" {
					return a.usagef("--registry is required")
				}
				if strings.Contains(*reg, "://") || strings.ContainsAny(*reg, "/@") {
					return a.usagef("--registry %q: want host[:port]", *reg)
				}
				if _, err := name.NewRegistry(*reg); err != nil {
					return a.usagef("--registry %q: want host[:port]", *reg)
				}
				if *fromStdin && *user == "" {
					return a.usagef("--password-stdin goes with --username")
				}
				spec := access.SecretSpec{Name: args[0], Namespace: *ns, Server: *reg, ServiceAccount: *sa}
				if *user != "" {
					pass, err := a.readPassword(*fromStdin)
					if err != nil {
						return err
					}
					spec.Username, spec.Password = *user, pass
				} else {
					u, p, err := access.LocalCredentials(pusher.Keychain(), *reg)
					if err != nil {
						if errors.Is(err, access.ErrNoCredentials) {
							return &hintError{err: fmt.Errorf("pull-secret: %w", err), hint: "slipway login " + *reg + " first, or give --username and --password-stdin"}
						}
						return fmt.Errorf("pull-secret: %w", err)
					}
					spec.Username, spec.Password = u, p
				}
				data, err := access.PullSecret(spec)
				if err != nil {
					return a.usagef("%v", err)
				}
				if *out != "" {
					return access.WriteFile(a.path(*out), data)
				}
				_, err = a.stdout.Write(data)
				return err
			}
		},
	})
}
