package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/sign"
)

func init() {
	register(command{
		name:    "keygen",
		summary: "write a cosign-compatible key pair (cosign.key, cosign.pub)",
		long: `Writes PREFIX.key, the private key encrypted with a password (mode 0600),
and PREFIX.pub, the public key, in the format of cosign generate-key-pair:
the cosign CLI signs and verifies with them. The password comes from
COSIGN_PASSWORD, or is asked for twice when stdin is a terminal. Existing
files are never overwritten. Prints the paths written.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			prefix := fs.String("output-key-prefix", "cosign", "write `PREFIX`.key and PREFIX.pub")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return a.usagef("keygen takes no arguments")
				}
				if *prefix == "" {
					return a.usagef("--output-key-prefix: empty")
				}
				priv, pub, err := sign.GenerateKeyPair(a.passFunc())
				if err != nil {
					return signHint(err)
				}
				keyPath, pubPath, err := sign.WriteKeyPair(a.path(*prefix), priv, pub)
				if err != nil {
					return signHint(err)
				}
				fmt.Fprintln(a.stdout, keyPath)
				fmt.Fprintln(a.stdout, pubPath)
				return nil
			}
		},
	})
}

// passFunc reads key passwords from COSIGN_PASSWORD, or from the terminal
// when stdin is one.
func (a *app) passFunc() sign.PassFunc {
	stdin, _ := a.stdin.(*os.File)
	return sign.PasswordFromEnvOrTerminal(a.lookupEnv, stdin, a.stderr)
}

// signHint attaches the advice that fits err, if any.
func signHint(err error) error {
	var h string
	switch {
	case errors.Is(err, sign.ErrNoPassword):
		h = "set " + sign.PasswordEnv + " (it may be empty), or run in a terminal to be asked"
	case errors.Is(err, sign.ErrWrongPassword):
		h = "check " + sign.PasswordEnv + "; it must be the password the key was made with"
	case errors.Is(err, fs.ErrExist):
		h = "remove the old key pair or choose another --output-key-prefix"
	case errors.Is(err, sign.ErrUnsigned):
		h = "sign it with slipway sign (or cosign sign --key)"
	case errors.Is(err, sign.ErrKeyMismatch):
		h = "the image was signed with another key: check --key"
	default:
		return err
	}
	return &hintError{err: err, hint: h}
}
