package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/manifest"
	"github.com/slipway-build/slipway/pusher"
)

// newRegistry serves an in-memory registry on loopback, with or without
// the referrers API.
func newRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	var opts []registry.Option
	if referrers {
		opts = append(opts, registry.WithReferrersSupport(true))
	}
	opts = append(opts, registry.Logger(discardLogger()))
	s := httptest.NewServer(registry.New(opts...))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// released is what a release leaves in a source repository: a two-platform
// index, a .sig of the index, an .att of one platform manifest, and an
// artifact whose subject is the index.
type released struct {
	repo              name.Repository
	index             v1.ImageIndex
	digest, platform0 v1.Hash
	sig, att          v1.Image
	referrer          v1.Image
}

func release(t *testing.T, repo name.Repository) released {
	t.Helper()
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := released{repo: repo, index: idx, digest: digestOf(t, idx)}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	r.platform0 = im.Manifests[0].Digest
	if err := remote.WriteIndex(repo.Tag("1.0"), idx); err != nil {
		t.Fatal(err)
	}
	if r.sig, err = random.Image(100, 1); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag(cosignTag(r.digest, "sig")), r.sig); err != nil {
		t.Fatal(err)
	}
	if r.att, err = random.Image(100, 1); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag(cosignTag(r.platform0, "att")), r.att); err != nil {
		t.Fatal(err)
	}
	art, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	art = mutate.MediaType(mutate.ConfigMediaType(art, "application/vnd.example.sbom+json"), types.OCIManifestSchema1)
	mt, _ := idx.MediaType()
	size, _ := idx.Size()
	r.referrer = mutate.Subject(art, v1.Descriptor{MediaType: mt, Digest: r.digest, Size: size}).(v1.Image)
	if err := remote.Write(repo.Digest(digestOf(t, r.referrer).String()), r.referrer); err != nil {
		t.Fatal(err)
	}
	return r
}

func cosignTag(d v1.Hash, suffix string) string {
	return fmt.Sprintf("%s-%s.%s", d.Algorithm, d.Hex, suffix)
}

func headDigest(t *testing.T, ref name.Reference) (v1.Hash, bool) {
	t.Helper()
	desc, err := remote.Head(ref)
	if isNotFound(err) {
		return v1.Hash{}, false
	}
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return desc.Digest, true
}

func TestPromoteAcrossRegistries(t *testing.T) {
	for _, tc := range []struct {
		name           string
		srcAPI, dstAPI bool
	}{
		{"fallback tag to referrers API", false, true},
		{"referrers API to fallback tag", true, false},
		{"referrers API on both", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := release(t, mustRepo(t, newRegistry(t, tc.srcAPI)+"/staging/web"))
			dst := mustRepo(t, newRegistry(t, tc.dstAPI)+"/prod/web")
			img := Image{Name: "web", Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0", "stable"}}
			var progress bytes.Buffer
			res, err := Run(ctx, []Image{img}, Options{Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Images[0]
			if c.Digest != src.digest || c.MediaType != string(types.OCIImageIndex) {
				t.Errorf("result: %+v", c)
			}
			for _, tag := range img.Tags {
				if d, _ := headDigest(t, dst.Tag(tag)); d != src.digest {
					t.Errorf("%s: %s, want %s", tag, d, src.digest)
				}
			}
			im, _ := src.index.IndexManifest()
			for _, m := range im.Manifests {
				if _, ok := headDigest(t, dst.Digest(m.Digest.String())); !ok {
					t.Errorf("platform manifest %s not copied", m.Digest)
				}
			}
			if d, _ := headDigest(t, dst.Tag(cosignTag(src.digest, "sig"))); d != digestOf(t, src.sig) {
				t.Errorf(".sig at the destination: %s", d)
			}
			if d, _ := headDigest(t, dst.Tag(cosignTag(src.platform0, "att"))); d != digestOf(t, src.att) {
				t.Errorf(".att of the platform at the destination: %s", d)
			}
			if len(c.Signatures) != 1 || len(c.Attestations) != 1 || len(c.Referrers) != 1 {
				t.Errorf("signatures %v, attestations %v, referrers %v", c.Signatures, c.Attestations, c.Referrers)
			}
			// What the destination lists as referrers of the index.
			refs, err := remote.Referrers(dst.Digest(src.digest.String()))
			if err != nil {
				t.Fatal(err)
			}
			rm, _ := refs.IndexManifest()
			if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != digestOf(t, src.referrer) {
				t.Errorf("referrers at the destination: %+v", rm.Manifests)
			}
			_, fallback := headDigest(t, dst.Tag(fmt.Sprintf("sha256-%s", src.digest.Hex)))
			if fallback == tc.dstAPI {
				t.Errorf("fallback tag present: %v, with the referrers API: %v", fallback, tc.dstAPI)
			}
			// Every blob came over the wire: another registry.
			if c.BlobsUploaded == 0 || c.BlobsMounted != 0 || c.BytesUploaded == 0 {
				t.Errorf("blob counts: %+v", c)
			}

			// Again: all there, nothing to copy, the same result.
			again, err := Run(ctx, []Image{img}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a := again.Images[0]; a.BlobsUploaded != 0 || a.Manifests != 0 || a.BlobsSkipped != c.BlobsUploaded {
				t.Errorf("second run copied: %+v", a)
			}
		})
	}
}

func TestPromoteRefusesMovedTag(t *testing.T) {
	ctx := context.Background()
	src := release(t, mustRepo(t, newRegistry(t, false)+"/staging/web"))
	dst := mustRepo(t, newRegistry(t, false)+"/prod/web")
	other, _ := random.Image(100, 1)
	if err := remote.Write(dst.Tag("1.0"), other); err != nil {
		t.Fatal(err)
	}
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	_, err := Run(ctx, []Image{img}, Options{})
	var tc *TagConflictError
	if !errors.As(err, &tc) || len(tc.Tags) != 1 || tc.Tags[0].Has != digestOf(t, other) {
		t.Fatalf("err = %v, want a conflict on 1.0", err)
	}
	if !strings.Contains(err.Error(), dst.Tag("1.0").String()) {
		t.Errorf("error does not name the tag: %v", err)
	}
	if _, ok := headDigest(t, dst.Digest(src.digest.String())); ok {
		t.Error("a refused promote wrote the index")
	}
	if _, err := Run(ctx, []Image{img}, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := headDigest(t, dst.Tag("1.0")); d != src.digest {
		t.Errorf("with Force, 1.0 is %s", d)
	}
}

func TestPromoteDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	src := release(t, mustRepo(t, newRegistry(t, true)+"/staging/web"))
	dstHost := newRegistry(t, true)
	dst := mustRepo(t, dstHost+"/prod/web")
	img := Image{Name: "web", Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	res, err := Run(ctx, []Image{img}, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := name.NewRegistry(dstHost)
	repos, err := remote.Catalog(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if len(repos) != 0 {
		t.Errorf("a dry run wrote %v", repos)
	}
	var out bytes.Buffer
	if err := res.WritePlan(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"web: " + img.Source.String() + " -> " + dst.String(), "tag 1.0 (new)", "signatures 1, attestations 1, sboms 0, referrers 1", "(stream)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	// The index, its two images, the .sig, the .att and the referrer.
	if c := res.Images[0]; c.Manifests != 6 || c.ManifestsPresent != 0 || c.BlobsUploaded == 0 || c.BytesUploaded == 0 {
		t.Errorf("plan counts: %+v", c)
	}
}

func TestPromoteWithinOneRegistry(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, false)
	src := release(t, mustRepo(t, host+"/staging/web"))
	dst := mustRepo(t, host+"/prod/web")
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	res, err := Run(ctx, []Image{img}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The in-memory registry keeps blobs for all repositories at once:
	// every blob is present already, and nothing is sent.
	if c := res.Images[0]; c.BlobsUploaded != 0 || c.BytesUploaded != 0 || c.BlobsSkipped == 0 || c.Manifests == 0 {
		t.Errorf("counts: %+v", c)
	}
	if d, _ := headDigest(t, dst.Tag("1.0")); d != src.digest {
		t.Errorf("1.0 is %s", d)
	}
}

func TestPromoteBumpAfterCopy(t *testing.T) {
	ctx := context.Background()
	src := release(t, mustRepo(t, newRegistry(t, false)+"/staging/web"))
	dst := mustRepo(t, newRegistry(t, false)+"/prod/web")
	dir := t.TempDir()
	overlay := filepath.Join(dir, "deployment.yaml")
	orig := "# prod\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: " + src.repo.String() + ":0.9 # bumped by CI\n          ports: [{containerPort: 8080}]\n"
	if err := os.WriteFile(overlay, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	targets := []manifest.Target{{Files: []string{overlay}, Options: manifest.Options{Pin: manifest.PinTagDigest}}}
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}

	// A dry run plans the edit and leaves the file alone.
	res, err := Run(ctx, []Image{img}, Options{DryRun: true, Bump: targets})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(overlay); string(got) != orig || len(res.Changes.Changed()) != 1 {
		t.Errorf("dry run: changed %v, file now:\n%s", res.Changes.Changed(), got)
	}
	if _, err := Run(ctx, []Image{img}, Options{Bump: targets}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(overlay)
	want := strings.Replace(orig, src.repo.String()+":0.9", dst.String()+":1.0@"+src.digest.String(), 1)
	if string(got) != want {
		t.Errorf("overlay:\n%s\nwant:\n%s", got, want)
	}
}

func TestPromoteSourceMissing(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, false)
	missing := mustRepo(t, host+"/staging/web").Digest("sha256:" + strings.Repeat("a", 64))
	dst := mustRepo(t, host+"/prod/web")
	_, err := Run(ctx, []Image{{Source: missing, Dest: dst, Tags: []string{"x"}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), missing.String()) {
		t.Fatalf("err = %v, want one naming %s", err, missing)
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// signedRelease is release with a real cosign signature on the index and
// each platform manifest, made with a new key; it returns the verifier of
// that key.
func signedRelease(t *testing.T, repo name.Repository) (released, *sign.Verifier) {
	t.Helper()
	ctx := context.Background()
	r := release(t, repo)
	pass := func(bool) ([]byte, error) { return []byte("pw"), nil }
	priv, pub, err := sign.GenerateKeyPair(pass)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadSigner(ctx, keyPath, pass)
	if err != nil {
		t.Fatal(err)
	}
	// The random .sig of release is replaced by real signatures.
	if err := remote.Delete(repo.Tag(cosignTag(r.digest, "sig"))); err != nil {
		t.Fatal(err)
	}
	ds, err := sign.Manifests(ctx, repo.Digest(r.digest.String()), sign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignAll(ctx, ds, sign.Options{}); err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(pub, "cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	return r, v
}

func TestPromoteVerifiesBeforeTagging(t *testing.T) {
	ctx := context.Background()
	src, v := signedRelease(t, mustRepo(t, newRegistry(t, false)+"/staging/web"))
	img := Image{Source: src.repo.Digest(src.digest.String()), Tags: []string{"1.0"}}

	img.Dest = mustRepo(t, newRegistry(t, false)+"/prod/web")
	res, err := Run(ctx, []Image{img}, Options{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Images[0]; !c.Verified || len(c.Signatures) != 3 {
		t.Errorf("verified %v, signatures %v", c.Verified, c.Signatures)
	}

	// Another key: the signatures are copied, but the image tag is not
	// written, and the error says why.
	_, other := signedRelease(t, mustRepo(t, newRegistry(t, false)+"/elsewhere/web"))
	img.Dest = mustRepo(t, newRegistry(t, false)+"/prod/web")
	res, err = Run(ctx, []Image{img}, Options{Verifier: other})
	if !errors.Is(err, sign.ErrKeyMismatch) {
		t.Fatalf("err = %v, want a key mismatch", err)
	}
	if res.Done() || res.Images[0].Verified {
		t.Error("a failed check reads as done")
	}
	if _, ok := headDigest(t, img.Dest.Tag("1.0")); ok {
		t.Error("the image tag was written before the signatures were checked")
	}
	if _, ok := headDigest(t, img.Dest.Tag(cosignTag(src.digest, "sig"))); !ok {
		t.Error("the signature was not copied")
	}
}

func TestPromoteSignatureRepository(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, false)
	src := release(t, mustRepo(t, host+"/staging/web"))
	// The signature lives in a repository of its own, as with
	// COSIGN_REPOSITORY.
	sigs := mustRepo(t, host+"/staging/signatures")
	sig, _ := random.Image(100, 1)
	if err := remote.Write(sigs.Tag(cosignTag(src.digest, "sig")), sig); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(src.repo.Tag(cosignTag(src.digest, "sig"))); err != nil {
		t.Fatal(err)
	}
	dst := mustRepo(t, newRegistry(t, false)+"/prod/web")
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	res, err := Run(ctx, []Image{img}, Options{SignatureRepository: sigs})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := headDigest(t, dst.Tag(cosignTag(src.digest, "sig"))); d != digestOf(t, sig) || len(res.Images[0].Signatures) != 1 {
		t.Errorf(".sig next to the promoted image: %s, signatures %v", d, res.Images[0].Signatures)
	}
}

func TestPromoteRefusesMovedSignatureTag(t *testing.T) {
	ctx := context.Background()
	src := release(t, mustRepo(t, newRegistry(t, false)+"/staging/web"))
	dst := mustRepo(t, newRegistry(t, false)+"/prod/web")
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	if _, err := Run(ctx, []Image{img}, Options{}); err != nil {
		t.Fatal(err)
	}
	// The source is signed again: its .sig is another manifest now.
	resigned, _ := random.Image(100, 1)
	if err := remote.Write(src.repo.Tag(cosignTag(src.digest, "sig")), resigned); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, []Image{img}, Options{})
	var tc *TagConflictError
	if !errors.As(err, &tc) || len(tc.Tags) != 1 || tc.Tags[0].Tag.TagStr() != cosignTag(src.digest, "sig") {
		t.Fatalf("err = %v, want a conflict on the .sig tag", err)
	}
	if d, _ := headDigest(t, dst.Tag(cosignTag(src.digest, "sig"))); d != digestOf(t, src.sig) {
		t.Errorf("a refused promote moved the .sig to %s", d)
	}
}

// flaky answers 503 to the first request of each kind (method and
// endpoint: manifests, blobs, uploads) but the ping, and counts them.
type flaky struct {
	h    http.Handler
	mu   sync.Mutex
	seen map[string]bool
	bad  int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := r.Method
	for _, e := range []string{"/blobs/uploads/", "/blobs/", "/manifests/"} {
		if strings.Contains(r.URL.Path, e) {
			kind += " " + e
			break
		}
	}
	f.mu.Lock()
	fail := !f.seen[kind] && kind != r.Method // the ping is left alone

	f.seen[kind] = true
	if fail {
		f.bad++
	}
	f.mu.Unlock()
	if fail {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	f.h.ServeHTTP(w, r)
}

func TestPromoteRetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	src := release(t, mustRepo(t, newRegistry(t, false)+"/staging/web"))
	f := &flaky{h: registry.New(registry.Logger(discardLogger())), seen: map[string]bool{}}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	dst := mustRepo(t, strings.TrimPrefix(s.URL, "http://")+"/prod/web")
	ropts, err := pusher.RemoteOptions(pusher.Options{Retries: 5})
	if err != nil {
		t.Fatal(err)
	}
	img := Image{Source: src.repo.Digest(src.digest.String()), Dest: dst, Tags: []string{"1.0"}}
	if _, err := Run(ctx, []Image{img}, Options{Remote: ropts}); err != nil {
		t.Fatalf("with the first request of each kind failing: %v", err)
	}
	// HEAD and PUT of manifests, HEAD of blobs, POST, PATCH and PUT of uploads.
	if f.bad < 5 {
		t.Fatalf("the destination failed only %d requests", f.bad)
	}
	if d, _ := headDigest(t, dst.Tag("1.0")); d != src.digest {
		t.Errorf("1.0 is %s", d)
	}
}
