package builder

import (
	"errors"
	"strings"
)

// Errors that Connect returns (wrapped, with hints) when a program it needs
// to start a private buildkitd is missing.
var (
	ErrNoBuildkitd   = errors.New("buildkitd not found")
	ErrNoRunc        = errors.New("runc not found")
	ErrNoRootlesskit = errors.New("rootless BuildKit needs rootlesskit, newuidmap and newgidmap")
)

// hintError carries advice for the person who ran the command.
type hintError struct {
	err   error
	hints []string
}

func (e *hintError) Error() string   { return e.err.Error() }
func (e *hintError) Unwrap() error   { return e.err }
func (e *hintError) Hints() []string { return e.hints }

func withHints(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hints: hints}
}

// Hints returns the advice attached to err or to any error it wraps, in
// order, without duplicates: what a command line prints on "hint:" lines
// after the error. Any error with a `Hints() []string` method takes part.
func Hints(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if h, ok := err.(interface{ Hints() []string }); ok {
			for _, s := range h.Hints() {
				if s = strings.TrimSpace(s); s != "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}
