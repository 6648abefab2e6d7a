// Command seed pushes the offline base images of package seed (busybox and
// a Go toolchain, made from this machine's files) to a registry and prints
// one REF@DIGEST line per image on stdout.
//
//	seed -registry 127.0.0.1:5000 [-busybox REPO:TAG] [-go REPO:TAG]
//
// A REPO without a registry host is put under -registry. The defaults are
// <registry>/seed/busybox:latest and <registry>/seed/golang:<go major.minor>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/seed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil // read before stop, which cancels ctx
	stop()
	var usage usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(2)
	case interrupted:
		fmt.Fprintln(os.Stderr, "seed: interrupted")
		os.Exit(130)
	default:
		// The error of a missing busybox names the package to install.
		fmt.Fprintf(os.Stderr, "seed: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		registry = fs.String("registry", "", "registry `HOST:PORT[/PATH]` that repositories without a host go under")
		busybox  = fs.String("busybox", "seed/busybox:latest", "where to push the busybox base `REPO:TAG`")
		goRef    = fs.String("go", "", "where to push the Go toolchain `REPO:TAG` (default seed/golang:<host Go major.minor>)")
		skipGo   = fs.Bool("skip-go", false, "push only the busybox base")
		insecure = fs.Bool("insecure", false, "talk plain HTTP to the registry even when it is not on loopback")
		bbPath   = fs.String("busybox-bin", "", "statically linked busybox to copy (default /usr/bin/busybox)")
		goroot   = fs.String("goroot", "", "Go installation to copy (default `go env GOROOT`)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	src := seed.Source{BusyboxPath: *bbPath, GOROOT: *goroot}

	var nameOpts []name.Option
	if *insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	parse := func(v string) (name.Reference, error) {
		full, err := underRegistry(*registry, v)
		if err != nil {
			return nil, usageError{err}
		}
		ref, err := name.ParseReference(full, nameOpts...)
		if err != nil {
			return nil, usageError{err}
		}
		return ref, nil
	}

	type job struct {
		what string
		ref  name.Reference
		push func(context.Context, name.Reference, ...remote.Option) (name.Digest, error)
	}
	var jobs []job
	ref, err := parse(*busybox)
	if err != nil {
		return err
	}
	jobs = append(jobs, job{"busybox", ref, src.Busybox})
	if !*skipGo {
		if *goRef == "" {
			dir := src.GOROOT
			if dir == "" {
				if dir, err = seed.FindGOROOT(ctx); err != nil {
					return err
				}
				src.GOROOT = dir
			}
			v, err := seed.GoVersion(dir)
			if err != nil {
				return err
			}
			*goRef = "seed/golang:" + seed.MinorVersion(v)
		}
		ref, err := parse(*goRef)
		if err != nil {
			return err
		}
		jobs = append(jobs, job{"Go toolchain", ref, src.GoToolchain})
	}

	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	for _, j := range jobs {
		start := time.Now()
		d, err := j.push(ctx, j.ref, opts...)
		if err != nil {
			return fmt.Errorf("seeding the %s image: %w", j.what, err)
		}
		fmt.Fprintf(stderr, "seed: %s image %s in %s\n", j.what, j.ref, time.Since(start).Round(10*time.Millisecond))
		fmt.Fprintf(stdout, "%s@%s\n", j.ref, d.DigestStr())
	}
	return nil
}

// underRegistry puts a repository that names no registry host under
// registry, so that "seed/busybox" never means Docker Hub.
func underRegistry(registry, ref string) (string, error) {
	first, _, hasSlash := strings.Cut(ref, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref, nil
	}
	if registry == "" {
		return "", fmt.Errorf("%s names no registry host and -registry is not set", ref)
	}
	return strings.TrimSuffix(registry, "/") + "/" + ref, nil
}
