package lint

import (
	"context"
	"fmt"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-build/slipway/internal/access"
)

// RemoteRegistry asks registries the way the run's access says (TLS
// roots, insecure hosts, credentials).
type RemoteRegistry struct {
	Access *access.Access
}

func (r RemoteRegistry) image(ctx context.Context, ref string, p *v1.Platform) (v1.Image, error) {
	n, err := r.Access.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	ro, err := r.Access.RemoteOptions(0)
	if err != nil {
		return nil, err
	}
	ro = append(ro, remote.WithContext(ctx))
	if p != nil {
		ro = append(ro, remote.WithPlatform(*p))
	}
	return remote.Image(n, ro...)
}

func platformOf(s string) (*v1.Platform, error) {
	if s == "" {
		d := platforms.DefaultSpec()
		return &v1.Platform{OS: d.OS, Architecture: d.Architecture, Variant: d.Variant}, nil
	}
	return v1.ParsePlatform(s)
}

// ResolveImageConfig gives BuildKit's checks the base image's real config.
func (r RemoteRegistry) ResolveImageConfig(ctx context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	var p *v1.Platform
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		o := opt.ImageOpt.Platform
		p = &v1.Platform{OS: o.OS, Architecture: o.Architecture, Variant: o.Variant}
	}
	img, err := r.image(ctx, ref, p)
	if err != nil {
		return "", "", nil, fmt.Errorf("resolving %s: %w", ref, err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return "", "", nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", nil, err
	}
	return ref, digest.Digest(d.String()), cfg, nil
}

// BaseSize adds up the compressed layers of ref for platform.
func (r RemoteRegistry) BaseSize(ctx context.Context, ref, platform string) (int64, error) {
	p, err := platformOf(platform)
	if err != nil {
		return 0, err
	}
	img, err := r.image(ctx, ref, p)
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
