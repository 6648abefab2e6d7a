package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-build/slipway/internal/store"
)

// stageBlob writes b into the staging area and returns its descriptor.
func stageBlob(t *testing.T, es *exportStore, mt string, b []byte, ann map[string]string) v1.Descriptor {
	t.Helper()
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	p := filepath.Join(es.stage.Dir(), "blobs", "sha256", h.Hex)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: h, Size: int64(len(b)), Annotations: ann}
}

func TestSplitAttestations(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, multi := range []bool{false, true} {
		stage, err := st.Stage()
		if err != nil {
			t.Fatal(err)
		}
		es := newExportStore(stage)
		var images []v1.Descriptor
		var platforms []string
		if multi {
			platforms = []string{"amd64", "arm64"}
		} else {
			platforms = []string{"amd64"}
		}
		var index v1.IndexManifest
		index.SchemaVersion, index.MediaType = 2, "application/vnd.oci.image.index.v1+json"
		for _, arch := range platforms {
			img := stageBlob(t, es, "", []byte(`{"schemaVersion":2,"arch":"`+arch+`"}`), nil)
			img.Platform = &v1.Platform{OS: "linux", Architecture: arch}
			images = append(images, img)
			stmt := []byte(`{"predicateType":"https://slsa.dev/provenance/v1","arch":"` + arch + `"}`)
			layer := stageBlob(t, es, "", stmt, nil)
			layer.MediaType = "application/vnd.in-toto+json"
			layer.Annotations = map[string]string{annPredicateType: "https://slsa.dev/provenance/v1"}
			man, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, Layers: []v1.Descriptor{layer}})
			att := stageBlob(t, es, "", man, map[string]string{annReferenceType: refTypeAttestation, annReferenceDigest: img.Digest.String()})
			att.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
			index.Manifests = append(index.Manifests, img, att)
		}
		raw, _ := json.Marshal(index)
		d := stageBlob(t, es, "", raw, nil)
		d.MediaType = "application/vnd.oci.image.index.v1+json"

		got, statements, err := splitAttestations(es, d, multi)
		if err != nil {
			t.Fatal(err)
		}
		if len(statements) != len(platforms) {
			t.Errorf("multi=%v: %d statements, want %d", multi, len(statements), len(platforms))
		}
		for i, img := range images {
			if s := string(statements[img.Digest.String()]); s != `{"predicateType":"https://slsa.dev/provenance/v1","arch":"`+platforms[i]+`"}` {
				t.Errorf("statement of %s: %s", platforms[i], s)
			}
		}
		if !multi {
			if got.Digest != images[0].Digest || got.MediaType.IsIndex() {
				t.Errorf("single platform: stored %+v, want the image manifest %s", got, images[0].Digest)
			}
		} else {
			b, err := readBlob(es, got.Digest)
			if err != nil {
				t.Fatal(err)
			}
			var idx v1.IndexManifest
			if err := json.Unmarshal(b, &idx); err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) != 2 || got.Digest == d.Digest {
				t.Errorf("multi: index %s", b)
			}
			for _, m := range idx.Manifests {
				if m.Platform == nil || m.Platform.OS == "unknown" {
					t.Errorf("multi: index still lists %+v", m)
				}
			}
		}
		stage.Discard()
	}
}
