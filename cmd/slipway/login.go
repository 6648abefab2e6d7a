package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/pusher"
)

func init() {
	register(command{
		name:    "login",
		args:    "REGISTRY",
		summary: "check and store credentials for a registry, like docker login",
		long: `Checks the user name and password against REGISTRY (host[:port]), then
stores them the way docker login does: in the credential helper that
$DOCKER_CONFIG/config.json (default ~/.docker/config.json) names for the
registry (credHelpers, credsStore), else base64-encoded in its "auths".
The rest of the file is kept. push, release, sign and verify find the
credentials there, as docker, crane, skopeo and podman do.

The password comes from stdin with --password-stdin, or is asked for when
stdin is a terminal. It never appears in any output, --debug included.
A slipway.yaml, when there is one, supplies the registry's ca_file and
insecure settings.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			user := fs.StringP("username", "u", "", "user `NAME`")
			fromStdin := fs.Bool("password-stdin", false, "read the password from stdin")
			insecure := fs.StringArray("insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
			caFile := fs.String("ca-file", "", "PEM `FILE` of CA certificates trusted for REGISTRY")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return a.usagef("login takes one REGISTRY")
				}
				if *user == "" {
					return a.usagef("-u/--username is required")
				}
				host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(args[0], "https://"), "http://"), "/")
				reg, err := name.NewRegistry(host)
				if err != nil {
					return a.usagef("%q is not a registry host[:port]: %v", args[0], err)
				}
				pass, err := a.readPassword(*fromStdin)
				if err != nil {
					return err
				}
				opts, err := a.loginOptions(reg.RegistryStr(), *insecure, *caFile)
				if err != nil {
					return err
				}
				dir := a.getenv("DOCKER_CONFIG")
				if dir == "" && a.getenv("HOME") != "" {
					dir = filepath.Join(a.getenv("HOME"), ".docker")
				}
				if err := pusher.Login(ctx, reg.RegistryStr(), *user, pass, dir, opts); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "slipway: logged in to %s\n", reg.RegistryStr())
				return nil
			}
		},
	})
}

// loginOptions are the pusher's options for host: slipway.yaml's registry
// settings when there is a project file, and the flags.
func (a *app) loginOptions(host string, insecure []string, caFile string) (pusher.Options, error) {
	opts := pusher.Options{InsecureRegistries: insecure, CAFiles: map[string]string{}}
	cfg, err := a.loadProject()
	switch {
	case err == nil:
		opts = release.PushOptions(cfg, release.Options{InsecureRegistries: insecure})
		opts.Progress = nil
	case !errors.Is(err, project.ErrNotFound):
		return opts, err
	}
	if caFile != "" {
		opts.CAFiles[host] = a.path(caFile)
	}
	if a.debug {
		opts.Debug = a.stderr
	}
	return opts, nil
}

// readPassword takes the password from stdin, or asks for it on the
// terminal.
func (a *app) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		data, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		pass := strings.TrimRight(string(data), "\r\n")
		if pass == "" {
			return "", a.usagef("--password-stdin: stdin is empty")
		}
		return pass, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", a.usagef("give the password on stdin with --password-stdin")
	}
	fmt.Fprint(a.stderr, "Password: ")
	data, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if len(data) == 0 {
		return "", a.usagef("empty password")
	}
	return string(data), nil
}
