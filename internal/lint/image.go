package lint

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-build/slipway/internal/store"
)

// StoreImage is a built image of the store to check, and the file its
// findings are shown against (its Dockerfile, when known).
type StoreImage struct {
	Name string
	File string
}

// peekSize bounds how much of a file is read to tell a secret.
const peekSize = 64 << 10

// lintStoreImage applies image-root, image-layers, image-size and
// image-secret to every platform of the image called img.Name.
func lintStoreImage(ctx context.Context, st *store.Store, img StoreImage, cfg Config) ([]Finding, error) {
	d, err := st.Lookup(img.Name)
	if err != nil {
		return nil, err
	}
	type one struct {
		platform string
		image    v1.Image
	}
	var images []one
	if d.MediaType.IsIndex() {
		idx, err := st.Index(img.Name)
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", img.Name, err)
		}
		for _, m := range im.Manifests {
			if m.Platform == nil || m.Platform.OS == "unknown" || !m.MediaType.IsImage() {
				continue // attestations
			}
			child, err := idx.Image(m.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %s %s: %w", img.Name, m.Platform, err)
			}
			images = append(images, one{platform: m.Platform.String(), image: child})
		}
	} else {
		i, err := st.Image(img.Name)
		if err != nil {
			return nil, err
		}
		images = append(images, one{image: i})
	}
	var out []Finding
	for _, o := range images {
		what := "image " + img.Name
		if o.platform != "" {
			what += " (" + o.platform + ")"
		}
		fs, err := imageRules(ctx, o.image, what, img.File, cfg)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", what, err)
		}
		out = append(out, fs...)
	}
	return out, nil
}

func imageRules(ctx context.Context, img v1.Image, what, file string, cfg Config) ([]Finding, error) {
	var out []Finding
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	user := cf.Config.User
	name, _, _ := strings.Cut(user, ":")
	switch {
	case user == "":
		out = append(out, at(RuleImageRoot, file, 1, 1, what+" sets no User, so it runs as root: add USER with a non-root uid"))
	case name == "root" || isZero(name):
		out = append(out, at(RuleImageRoot, file, 1, 1, fmt.Sprintf("%s runs as User %q, which is root: use a non-root uid", what, user)))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if max := cfg.maxLayers(); len(layers) > max {
		out = append(out, at(RuleImageLayers, file, 1, 1, fmt.Sprintf("%s has %d layers, more than max-layers %d", what, len(layers), max)))
	}
	if cfg.MaxImageMB > 0 && !cfg.skipped(RuleImageSize) {
		var size int64
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return nil, err
			}
			size += n
		}
		if size > int64(cfg.MaxImageMB)<<20 {
			out = append(out, at(RuleImageSize, file, 1, 1, fmt.Sprintf("%s is %s compressed, more than max-image-mb %d", what, megabytes(size), cfg.MaxImageMB)))
		}
	}
	if !cfg.skipped(RuleImageSecret) {
		seen := map[string]bool{}
		for i, l := range layers {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			found, err := layerSecrets(l)
			if err != nil {
				return nil, fmt.Errorf("reading layer %d: %w", i+1, err)
			}
			for _, s := range found {
				if seen[s.path] {
					continue
				}
				seen[s.path] = true
				out = append(out, at(RuleImageSecret, file, 1, 1, fmt.Sprintf("%s: layer %d holds /%s, %s: keep secrets out of images (RUN --mount=type=secret, .dockerignore)", what, i+1, s.path, s.kind)))
			}
		}
	}
	return out, nil
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

type secretFile struct{ path, kind string }

// layerSecrets lists the regular files of a layer that look like secrets.
// A file deleted by a later layer still counts: its bytes stay in this one.
func layerSecrets(l v1.Layer) ([]secretFile, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []secretFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var peeked []byte
		kind := secretKind(h.Name, func() []byte {
			if peeked == nil {
				peeked, _ = io.ReadAll(io.LimitReader(tr, peekSize))
			}
			return peeked
		})
		if kind != "" {
			out = append(out, secretFile{path: cleanTarName(h.Name), kind: kind})
		}
	}
}

func cleanTarName(n string) string {
	return strings.TrimPrefix(path.Clean("/"+n), "/")
}
