package attest_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/attest"
	"github.com/slipway-build/slipway/internal/sign"
)

const commit = "0123456789abcdef0123456789abcdef01234567"

func provenance(commit string) []byte {
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],
"predicate":{"buildDefinition":{},"runDetails":{"metadata":{"buildkit_metadata":{"vcs":{"revision":"` + commit + `","source":"https://git.example.com/app.git"}}}}}}`)
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	opts := sign.Options{RemoteOptions: []remote.Option{remote.WithAuth(authn.Anonymous)}}

	pass := func(bool) ([]byte, error) { return []byte("pw"), nil }
	priv, pub, err := sign.GenerateKeyPair(pass)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath, _, err := sign.WriteKeyPair(filepath.Join(dir, "cosign"), priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadSigner(ctx, keyPath, pass)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Verifier()

	img, _ := random.Image(128, 1)
	ref, _ := name.NewTag(host + "/app:v1")
	if err := remote.Write(ref, img, opts.RemoteOptions...); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d := ref.Context().Digest(h.String())
	subject := []attest.Subject{{Name: ref.Context().String(), Digest: h.String()}}

	want := attest.CheckOptions{Kinds: []string{attest.Provenance, attest.SBOM}, Head: attest.Source{Commit: commit, Repository: "https://git.example.com/app"}}
	if err := attest.Check(ctx, v, d, want, opts); !errors.Is(err, sign.ErrNoAttestation) {
		t.Fatalf("Check of an image without attestations: %v", err)
	}
	stmt, err := attest.FromProvenance(provenance(commit), subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(ctx, d, stmt, opts); err != nil {
		t.Fatal(err)
	}
	if err := attest.Check(ctx, v, d, attest.CheckOptions{Kinds: []string{attest.Provenance}, Head: want.Head}, opts); err != nil {
		t.Errorf("Check of provenance: %v", err)
	}
	if err := attest.Check(ctx, v, d, want, opts); err == nil || !strings.Contains(err.Error(), "sbom") {
		t.Errorf("Check without an SBOM: %v", err)
	}
	sbom, _ := attest.Statement(attest.PredicateSPDX, []byte(`{"spdxVersion":"SPDX-2.3"}`), subject)
	if _, err := s.Attest(ctx, d, sbom, opts); err != nil {
		t.Fatal(err)
	}
	if err := attest.Check(ctx, v, d, want, opts); err != nil {
		t.Errorf("Check with both: %v", err)
	}
	other := want
	other.Head.Commit = strings.Repeat("f", 40)
	if err := attest.Check(ctx, v, d, other, opts); err == nil || !strings.Contains(err.Error(), "HEAD") {
		t.Errorf("Check against another HEAD: %v", err)
	}
}
