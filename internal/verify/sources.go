package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/slipway-build/slipway/manifest"
)

// FromTargets reads the image uses of every file of targets (each with its
// target's rules). show turns a file's path into the name findings give it
// (e.g. relative to the working folder); nil keeps it. Every bad file is
// named in the error.
func FromTargets(ctx context.Context, targets []manifest.Target, show func(string) string) ([]Use, error) {
	if show == nil {
		show = func(s string) string { return s }
	}
	var uses []Use
	var errs []error
	seen := map[string]bool{}
	for _, t := range targets {
		for _, f := range t.Files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			key := f + "\x00" + fmt.Sprint(t.Options.Rules)
			if seen[key] {
				continue
			}
			seen[key] = true
			src, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %s: %w", show(f), unwrapPath(err)))
				continue
			}
			refs, err := manifest.References(show(f), src, t.Options.Rules)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			uses = append(uses, usesOf(refs)...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return uses, nil
}

// FromStream reads the image uses of a manifest stream (stdin as "-").
func FromStream(name string, r io.Reader) ([]Use, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	refs, err := manifest.References(name, src, nil)
	if err != nil {
		return nil, err
	}
	return usesOf(refs), nil
}

func usesOf(refs []manifest.Reference) []Use {
	uses := make([]Use, 0, len(refs))
	for _, r := range refs {
		uses = append(uses, Use{File: r.File, Line: r.Line, Object: r.Object, Container: r.Container,
			Image: r.Image, PullPolicy: r.PullPolicy, HasPullPolicy: r.Container != ""})
	}
	return uses
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ValidatePlatforms checks os/arch[/variant] values.
func ValidatePlatforms(ps []string) error {
	_, err := parsePlatforms(ps)
	return err
}
