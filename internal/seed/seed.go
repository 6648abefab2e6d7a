// Package seed makes small base images from files already on this machine
// and pushes them to a registry, so that builds can run where no public
// registry is reachable. It never pulls anything.
//
// Two images are made, both linux/amd64:
//
//   - busybox: Debian's statically linked busybox with symlinks for the
//     common applets, /etc/passwd (root, nobody, nonroot) and /tmp. RUN steps
//     work on it, and it stands in for a distroless runtime base.
//   - a Go toolchain: the busybox layer plus the host's Go installation,
//     trimmed (no tests, no testdata, no docs), at /usr/local/go. It builds
//     standard-library-only programs with GOPROXY=off.
//
// Every file has a fixed owner and modification time ([Epoch]), so seeding
// twice from the same host files gives the same digests and the second push
// uploads nothing.
package seed

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPackage is the Debian package that provides the busybox binary.
const BusyboxPackage = "busybox-static"

// ErrNoBusybox is returned (wrapped) when no statically linked busybox is
// found; the message names the package to install.
var ErrNoBusybox = errors.New("no statically linked busybox: install Debian's " + BusyboxPackage + " package (apt-get install -y " + BusyboxPackage + ")")

// busyboxPaths are where busybox-static puts the binary, in the order looked at.
var busyboxPaths = []string{"/usr/bin/busybox", "/bin/busybox"}

// Source says which host files the seed images are made of.
// The zero value finds them.
type Source struct {
	// Busybox is a statically linked linux/amd64 busybox binary.
	// Default: the first of /usr/bin/busybox and /bin/busybox that exists.
	BusyboxPath string
	// GOROOT is the linux/amd64 Go installation copied into the toolchain
	// image. Default: the output of `go env GOROOT`, else /usr/local/go.
	GOROOT string
}

// Busybox pushes the busybox base image made from the host's busybox-static
// to ref and returns its digest.
func Busybox(ctx context.Context, ref name.Reference, opts ...remote.Option) (name.Digest, error) {
	return Source{}.Busybox(ctx, ref, opts...)
}

// GoToolchain pushes the Go toolchain image made from the host's Go
// installation to ref and returns its digest.
func GoToolchain(ctx context.Context, ref name.Reference, opts ...remote.Option) (name.Digest, error) {
	return Source{}.GoToolchain(ctx, ref, opts...)
}

// Busybox pushes the busybox base image to ref and returns its digest.
func (s Source) Busybox(ctx context.Context, ref name.Reference, opts ...remote.Option) (name.Digest, error) {
	img, err := s.BusyboxImage(ctx)
	if err != nil {
		return name.Digest{}, err
	}
	return push(ctx, ref, img, opts)
}

// GoToolchain pushes the Go toolchain image to ref and returns its digest.
func (s Source) GoToolchain(ctx context.Context, ref name.Reference, opts ...remote.Option) (name.Digest, error) {
	img, err := s.GoToolchainImage(ctx)
	if err != nil {
		return name.Digest{}, err
	}
	return push(ctx, ref, img, opts)
}

func push(ctx context.Context, ref name.Reference, img v1.Image, opts []remote.Option) (name.Digest, error) {
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("digesting image for %s: %w", ref, err)
	}
	// The caller's options come last so that their context, if any, wins.
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	if err := remote.Write(ref, img, opts...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return ref.Context().Digest(d.String()), nil
}

// FindBusybox returns the path of a statically linked amd64 busybox, or an
// error wrapping ErrNoBusybox.
func FindBusybox() (string, error) {
	for _, p := range busyboxPaths {
		if _, err := os.Stat(p); err == nil {
			return p, checkStaticAMD64(p)
		}
	}
	return "", ErrNoBusybox
}

func (s Source) busybox() (string, error) {
	if s.BusyboxPath == "" {
		return FindBusybox()
	}
	if _, err := os.Stat(s.BusyboxPath); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", s.BusyboxPath, ErrNoBusybox)
	}
	return s.BusyboxPath, checkStaticAMD64(s.BusyboxPath)
}

// checkStaticAMD64 makes sure the binary at p runs in an image that has
// nothing else: an x86-64 ELF with no program interpreter.
func checkStaticAMD64(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is built for %s; seed images are linux/amd64", p, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: %w", p, ErrNoBusybox)
		}
	}
	return nil
}

// newImage is an empty OCI image for linux/amd64 with cfg, created at Epoch.
func newImage(cfg v1.Config, adds ...mutate.Addendum) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

func history(createdBy string) v1.History {
	return v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: createdBy, Comment: "slipway seed"}
}
