package sign

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func testStatement(d name.Digest, predicateType, value string) []byte {
	_, hex, _ := cutDigest(d.DigestStr())
	return fmt.Appendf(nil, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":%q,"digest":{"sha256":%q}}],"predicateType":%q,"predicate":{"value":%q}}`,
		d.Context().String(), hex, predicateType, value)
}

// attLayers counts the attestations stored for d.
func attLayers(t *testing.T, d name.Digest) int {
	t.Helper()
	tag := d.Context().Tag(fmt.Sprintf("sha256-%s.att", d.DigestStr()[len("sha256:"):]))
	img, err := remote.Image(tag, anon()...)
	if err != nil {
		return 0
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return len(m.Layers)
}

func TestAttestVerify(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	keyPath, pubPath := newKeyFiles(t, t.TempDir(), testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	_, otherPub := newKeyFiles(t, t.TempDir(), testPassword)
	d := pushImage(t, host, "app", "v1")
	opts := testOpts()
	const prov, sbom = "https://slsa.dev/provenance/v1", "https://spdx.dev/Document"

	v, err := LoadVerifier(ctx, pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyAttestations(ctx, d, prov, opts); !errors.Is(err, ErrNoAttestation) {
		t.Fatalf("verify before attesting: %v, want ErrNoAttestation", err)
	}

	first, err := signer.Attest(ctx, d, testStatement(d, prov, "a"), opts)
	if err != nil || first.Existed || first.PredicateType != prov {
		t.Fatalf("Attest = %+v, %v", first, err)
	}
	if _, err := signer.Attest(ctx, d, testStatement(d, sbom, "a"), opts); err != nil {
		t.Fatal(err)
	}
	// The same statement again: nothing written.
	again, err := signer.Attest(ctx, d, testStatement(d, prov, "a"), opts)
	if err != nil || !again.Existed {
		t.Fatalf("second Attest = %+v, %v; want Existed", again, err)
	}
	// A new statement of a type replaces the old one.
	if a, err := signer.Attest(ctx, d, testStatement(d, prov, "b"), opts); err != nil || a.Existed {
		t.Fatalf("Attest of a new provenance = %+v, %v", a, err)
	}
	if n := attLayers(t, d); n != 2 {
		t.Errorf("%d attestations, want 2 (one per predicate type)", n)
	}

	got, err := v.VerifyAttestations(ctx, d, prov, opts)
	if err != nil || len(got) != 1 || string(got[0].Statement) != string(testStatement(d, prov, "b")) {
		t.Fatalf("VerifyAttestations = %+v, %v", got, err)
	}
	if _, err := v.VerifyAttestations(ctx, d, "https://cosign.sigstore.dev/attestation/vuln/v1", opts); !errors.Is(err, ErrNoAttestation) {
		t.Errorf("verify of a type never attested: %v", err)
	}
	ov, err := LoadVerifier(ctx, otherPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ov.VerifyAttestations(ctx, d, prov, opts); !errors.Is(err, ErrNoAttestation) {
		t.Errorf("verify with a foreign key: %v, want ErrNoAttestation", err)
	}

	// A statement about another digest is refused.
	d2 := pushImage(t, host, "app", "v2")
	if _, err := signer.Attest(ctx, d, testStatement(d2, prov, "x"), opts); err == nil {
		t.Error("Attest accepted a statement about another image")
	}
}
