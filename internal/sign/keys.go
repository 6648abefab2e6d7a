package sign

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"golang.org/x/term"
)

// PasswordEnv is the environment variable PasswordFromEnvOrTerminal reads,
// the same one the cosign CLI reads.
const PasswordEnv = "COSIGN_PASSWORD"

// ErrNoPassword: a password is needed, PasswordEnv is not set and stdin is
// not a terminal to ask on.
var ErrNoPassword = errors.New(PasswordEnv + " is not set and stdin is not a terminal")

// PassFunc returns the password of a key file. confirm is true when a new
// key is being encrypted, so an interactive source should ask twice. A nil
// PassFunc means the empty password, as in cosign.
type PassFunc func(confirm bool) ([]byte, error)

// PasswordFromEnvOrTerminal returns a PassFunc that takes the password from
// COSIGN_PASSWORD when it is set (even to the empty string, as cosign does),
// else prompts on stderr and reads stdin without echo when stdin is a
// terminal, else fails with ErrNoPassword. lookupEnv is usually os.LookupEnv.
// Passwords never come from flags: they would end up in shell histories and
// process listings.
func PasswordFromEnvOrTerminal(lookupEnv func(string) (string, bool), stdin *os.File, stderr io.Writer) PassFunc {
	return func(confirm bool) ([]byte, error) {
		if pw, ok := lookupEnv(PasswordEnv); ok {
			return []byte(pw), nil
		}
		if stdin == nil || !term.IsTerminal(int(stdin.Fd())) {
			return nil, ErrNoPassword
		}
		pw, err := readPassword(stdin, stderr, "Enter password for private key: ")
		if err != nil {
			return nil, err
		}
		if !confirm {
			return pw, nil
		}
		again, err := readPassword(stdin, stderr, "Enter password for private key again: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("passwords do not match")
		}
		return pw, nil
	}
}

func readPassword(stdin *os.File, stderr io.Writer, prompt string) ([]byte, error) {
	fmt.Fprint(stderr, prompt)
	pw, err := term.ReadPassword(int(stdin.Fd()))
	// The user's Enter is not echoed either; end the prompt line ourselves.
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password from the terminal: %w", err)
	}
	return pw, nil
}

// GenerateKeyPair makes a new ECDSA P-256 key pair in the format of
// `cosign generate-key-pair`: the private key PKCS#8, encrypted with the
// password from pass (scrypt + secretbox), as an "ENCRYPTED SIGSTORE PRIVATE
// KEY" PEM block; the public key as a PKIX "PUBLIC KEY" PEM block. pass is
// called with confirm=true.
func GenerateKeyPair(pass PassFunc) (privatePEM, publicPEM []byte, err error) {
	kb, err := cosign.GenerateKeyPair(wrapPass(pass))
	if err != nil {
		return nil, nil, fmt.Errorf("generating key pair: %w", err)
	}
	return kb.PrivateBytes, kb.PublicBytes, nil
}

// WriteKeyPair writes prefix.key (mode 0600) and prefix.pub (mode 0644), the
// names `cosign generate-key-pair --output-key-prefix` uses. It never
// overwrites: if either file exists it writes nothing and returns an error
// wrapping fs.ErrExist.
func WriteKeyPair(prefix string, privatePEM, publicPEM []byte) (keyPath, pubPath string, err error) {
	keyPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("writing key pair: %s: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("writing key pair: %w", err)
		}
	}
	if err := writeNew(keyPath, privatePEM, 0o600); err != nil {
		return "", "", fmt.Errorf("writing key pair: %w", err)
	}
	if err := writeNew(pubPath, publicPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", fmt.Errorf("writing key pair: %w", err)
	}
	return keyPath, pubPath, nil
}

// writeNew creates path exclusively, so a file that appeared since the
// check is not clobbered either.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// wrapPass adapts a PassFunc to cosign's, adding context to its errors.
func wrapPass(pass PassFunc) cosign.PassFunc {
	if pass == nil {
		return nil
	}
	return func(confirm bool) ([]byte, error) {
		pw, err := pass(confirm)
		if err != nil {
			return nil, fmt.Errorf("reading password: %w", err)
		}
		return pw, nil
	}
}
