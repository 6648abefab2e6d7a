package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/scaffold"
)

func init() {
	register(command{
		name:    "init",
		summary: "write a first slipway.yaml from the Dockerfiles and manifests found here",
		long: `Searches the folder (-C) for Dockerfiles (Dockerfile, *.Dockerfile,
Containerfile), Kubernetes manifests, kustomizations and Helm charts,
skipping vendor/, node_modules/, testdata/ and hidden folders. Each image
is named after its Dockerfile's folder; the registry is the one most of
the manifests' references to those images use. Writes a commented
slipway.yaml with images:, tags: (semver and short commit) and manifests:
(the folders found, and Helm values with rules: for their image fields),
then prints what it found and what to check. An existing file is left
alone unless --force; --dry-run prints the file instead of writing it.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			force := fs.Bool("force", false, "overwrite an existing project file")
			dryRun := fs.Bool("dry-run", false, "print the file to stdout; write nothing")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return a.usagef("init takes no arguments")
				}
				p, err := scaffold.Scan(ctx, a.wd)
				if err != nil {
					return err
				}
				data, err := scaffold.Render(p)
				if err != nil {
					return err
				}
				shown := a.rel(a.path(a.file))
				if *dryRun {
					_, err := a.stdout.Write(data)
					a.printFound(p)
					return err
				}
				if err := scaffold.Write(a.path(a.file), data, *force); err != nil {
					if errors.Is(err, scaffold.ErrExists) {
						return &hintError{err: fmt.Errorf("%s exists; init leaves it alone", shown), hint: "slipway init --force overwrites it; --dry-run prints what it would write"}
					}
					return err
				}
				a.printFound(p)
				fmt.Fprintf(a.stderr, "wrote %s; next: slipway doctor, then slipway release --dry-run\n", shown)
				return nil
			}
		},
	})
}

// printFound tells on stderr what init found and what to check.
func (a *app) printFound(p *scaffold.Project) {
	for _, s := range p.Summary() {
		fmt.Fprintf(a.stderr, "found %s\n", s)
	}
	for _, c := range p.Checks() {
		fmt.Fprintf(a.stderr, "check %s\n", c)
	}
}
