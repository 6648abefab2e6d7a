package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
)

// SidecarProvenance is the store sidecar of a platform image holding the
// SLSA provenance statement (in-toto JSON) BuildKit made for it.
const SidecarProvenance = "provenance.json"

// Annotations BuildKit sets on attestation manifests and their layers.
const (
	annReferenceType   = "vnd.docker.reference.type"
	annReferenceDigest = "vnd.docker.reference.digest"
	annPredicateType   = "in-toto.io/predicate-type"
	refTypeAttestation = "attestation-manifest"
)

// splitAttestations takes BuildKit's attestation manifests out of the
// exported image d: it returns the descriptor of the image without them
// (a platform manifest alone when only one platform is left and the
// request did not ask for several, else a new index staged in es) and the
// in-toto statements found, by the digest of the platform manifest they
// describe. Registries show attestation manifests as unknown/unknown
// platforms, and cosign does not find them; slipway stores them as cosign
// attestations instead.
func splitAttestations(es *exportStore, d v1.Descriptor, multi bool) (v1.Descriptor, map[string][]byte, error) {
	if !d.MediaType.IsIndex() {
		return d, nil, nil
	}
	raw, err := readBlob(es, d.Digest)
	if err != nil {
		return d, nil, fmt.Errorf("reading the exported index: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return d, nil, fmt.Errorf("reading the exported index: %w", err)
	}
	statements := map[string][]byte{}
	var keep []v1.Descriptor
	for _, m := range idx.Manifests {
		if m.Annotations[annReferenceType] != refTypeAttestation {
			keep = append(keep, m)
			continue
		}
		subject := m.Annotations[annReferenceDigest]
		stmt, err := provenanceOf(es, m)
		if err != nil {
			return d, nil, err
		}
		if stmt != nil && subject != "" {
			statements[subject] = stmt
		}
	}
	if len(keep) == len(idx.Manifests) {
		return d, statements, nil
	}
	if len(keep) == 1 && !multi {
		return keep[0], statements, nil
	}
	idx.Manifests = keep
	out, err := json.Marshal(idx)
	if err != nil {
		return d, nil, err
	}
	sum := sha256.Sum256(out)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	p := filepath.Join(es.stage.Dir(), "blobs", "sha256", h.Hex)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return d, nil, err
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		return d, nil, err
	}
	nd := d
	nd.Digest, nd.Size = h, int64(len(out))
	return nd, statements, nil
}

// provenanceOf returns the SLSA provenance statement of an attestation
// manifest, or nil when it holds none.
func provenanceOf(es *exportStore, m v1.Descriptor) ([]byte, error) {
	raw, err := readBlob(es, m.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading attestation manifest %s: %w", m.Digest, err)
	}
	var man struct {
		Layers []v1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("reading attestation manifest %s: %w", m.Digest, err)
	}
	for _, l := range man.Layers {
		pt := l.Annotations[annPredicateType]
		if l.MediaType != types.MediaType("application/vnd.in-toto+json") || (pt != "https://slsa.dev/provenance/v1" && pt != "https://slsa.dev/provenance/v0.2") {
			continue
		}
		return readBlob(es, l.Digest)
	}
	return nil, nil
}

func readBlob(es *exportStore, h v1.Hash) ([]byte, error) {
	d, err := digestOf(h)
	if err != nil {
		return nil, err
	}
	p, ok := es.find(d)
	if !ok {
		return nil, fmt.Errorf("blob %s is not in the export", h)
	}
	return os.ReadFile(p)
}

func digestOf(h v1.Hash) (digest.Digest, error) {
	return digest.Parse(h.String())
}
