package sign

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// memRegistry starts go-containerregistry's in-memory registry and returns
// its host:port.
func memRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// testOpts talk to test registries anonymously, so no docker config of the
// machine is read.
func testOpts() Options {
	return Options{RemoteOptions: anon()}
}

func anon() []remote.Option { return []remote.Option{remote.WithAuth(authn.Anonymous)} }

// pushImage pushes a small random image to host/repo:tag and returns its digest.
func pushImage(t *testing.T, host, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, anon()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// pushIndex pushes a two-platform image index to host/repo:tag and returns
// the index digest and the platform image digests.
func pushIndex(t *testing.T, host, repo, tag string) (name.Digest, []name.Digest) {
	t.Helper()
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var platforms []name.Digest
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
		h, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, ref.Context().Digest(h.String()))
	}
	if err := remote.WriteIndex(ref, idx, anon()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String()), platforms
}

// sigLayers returns the number of signatures stored for d in repo (the
// image's own when repo is empty), or -1 when there is no .sig tag.
func sigLayers(t *testing.T, d name.Digest, repo string) int {
	t.Helper()
	r := d.Context()
	if repo != "" {
		var err error
		if r, err = name.NewRepository(repo); err != nil {
			t.Fatal(err)
		}
	}
	tag := r.Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	img, err := remote.Image(tag, anon()...)
	if isNotFound(err) {
		return -1
	}
	if err != nil {
		t.Fatalf("reading %s: %v", tag, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(layers)
}

// newKeyFiles generates a key pair encrypted with password into dir and
// returns the paths of the private and public key.
func newKeyFiles(t *testing.T, dir, password string) (keyPath, pubPath string) {
	t.Helper()
	priv, pub, err := GenerateKeyPair(fixedPass(password))
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath, err = WriteKeyPair(filepath.Join(dir, "cosign"), priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	return keyPath, pubPath
}

func fixedPass(pw string) PassFunc {
	return func(bool) ([]byte, error) { return []byte(pw), nil }
}

func loadSigner(t *testing.T, keyPath, password string) *Signer {
	t.Helper()
	s, err := LoadSigner(context.Background(), keyPath, fixedPass(password))
	if err != nil {
		t.Fatalf("LoadSigner: %v", err)
	}
	return s
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
