package verify

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/sign"
)

type testReg struct {
	host     string
	requests atomic.Int64
	manifest atomic.Int64
}

func startRegistry(t *testing.T) *testReg {
	t.Helper()
	r := &testReg{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if strings.Contains(req.URL.Path, "/manifests/") {
			r.manifest.Add(1)
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

var anon = []remote.Option{remote.WithAuth(authn.Anonymous)}

func pushImage(t *testing.T, ref string, arch string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, anon...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func pushIndex(t *testing.T, ref string, archs ...string) string {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, a := range archs {
		img, _ := random.Image(64, 1)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: a}}})
	}
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx, anon...); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

func newAccess(t *testing.T) *access.Access {
	t.Helper()
	a, err := access.New(nil, access.Options{Keychain: authn.NewMultiKeychain(), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// lines renders findings as "LINE RULE SEVERITY" for comparison.
func lines(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, strings.TrimSpace(f.Reference[strings.LastIndex(f.Reference, "/")+1:]+" "+f.Severity+" "+f.Rule))
	}
	return out
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	h := reg.host
	pinnedDigest := pushImage(t, h+"/team/app:1.0", "amd64")
	pushImage(t, h+"/team/app:latest", "amd64")
	multi := pushIndex(t, h+"/team/multi:2", "amd64", "arm64")
	pushImage(t, h+"/team/amd:1", "amd64")
	oldDigest := pushImage(t, h+"/team/moved:1", "amd64")
	pushImage(t, h+"/team/moved:1", "amd64")

	uses := []Use{
		{File: "a.yaml", Line: 1, Image: h + "/team/app:1.0@" + pinnedDigest, HasPullPolicy: true, PullPolicy: "IfNotPresent"},
		{File: "a.yaml", Line: 2, Image: h + "/team/app:nope", HasPullPolicy: true},
		{File: "a.yaml", Line: 3, Image: h + "/team/ghost:1", HasPullPolicy: true},
		{File: "a.yaml", Line: 4, Image: h + "/team/app:latest", HasPullPolicy: true, PullPolicy: "IfNotPresent"},
		{File: "a.yaml", Line: 5, Image: h + "/team/multi:2@" + multi, HasPullPolicy: true},
		{File: "a.yaml", Line: 6, Image: h + "/team/amd:1", HasPullPolicy: true},
		{File: "a.yaml", Line: 7, Image: h + "/team/moved:1@" + oldDigest, HasPullPolicy: true},
		{File: "a.yaml", Line: 8, Image: "Not/A:Ref:", HasPullPolicy: true},
		{File: "b.yaml", Line: 9, Image: h + "/team/app:1.0@" + pinnedDigest, HasPullPolicy: true, PullPolicy: "Never"},
	}
	res, err := Check(ctx, uses, Options{Access: newAccess(t), Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app:1.0@" + pinnedDigest + " ok",
		"app:nope error exists",
		"ghost:1 error exists",
		"app:latest error pinned",
		"app:latest warning pull-policy",
		"multi:2@" + multi + " ok",
		"amd:1 warning pinned",
		"moved:1@" + oldDigest + " warning pinned",
		"A:Ref: error resolve",
		"app:1.0@" + pinnedDigest + " warning pull-policy",
	}
	if got := lines(res); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byLine := map[int]Finding{}
	for _, f := range res.Findings {
		if _, ok := byLine[f.Line]; !ok {
			byLine[f.Line] = f
		}
	}
	if m := byLine[2].Message; !strings.Contains(m, "tag nope not found") {
		t.Errorf("missing tag: %s", m)
	}
	if m := byLine[3].Message; !strings.Contains(m, "repository "+h+"/team/ghost does not exist") {
		t.Errorf("missing repository: %s", m)
	}
	if m := byLine[7].Message; !strings.Contains(m, "tag moved") {
		t.Errorf("moved: %s", m)
	}
	if f := byLine[5]; strings.Join(f.Platforms, ",") != "linux/amd64,linux/arm64" || f.Digest != multi {
		t.Errorf("multi: platforms %v digest %s", f.Platforms, f.Digest)
	}
	// 9 uses, 8 distinct references: app:1.0@ counted once.
	if res.Images != 8 || res.Errors != 4 || res.Warnings != 3 || res.OK != 1 {
		t.Errorf("summary %s", res.Summary())
	}
	if res.Summary() != "8 images: 1 ok, 3 warnings, 4 errors" {
		t.Errorf("summary text %q", res.Summary())
	}

	// Platforms: arm64 is missing from the amd64-only images.
	amdIdx := pushIndex(t, h+"/team/amdidx:1", "amd64")
	res, err = Check(ctx, []Use{{Image: h + "/team/multi:2@" + multi}, {Image: h + "/team/amd:1@" + pushImage(t, h+"/team/amd:1", "amd64")}, {Image: h + "/team/amdidx:1@" + amdIdx}},
		Options{Access: newAccess(t), Platforms: []string{"linux/amd64", "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(res); len(got) != 3 || !strings.HasSuffix(got[0], " ok") || !strings.HasSuffix(got[1], "error platform") || !strings.HasSuffix(got[2], "error platform") {
		t.Errorf("platforms: %v", got)
	}
	if m := res.Findings[1].Message; !strings.Contains(m, "single linux/amd64 manifest, not linux/arm64") {
		t.Errorf("platform message: %s", m)
	}
	if m := res.Findings[2].Message; !strings.Contains(m, "no match for platform in manifest: the image has linux/amd64, not linux/arm64") {
		t.Errorf("index platform message: %s", m)
	}
}

func TestCheckOneRequestPerReference(t *testing.T) {
	reg := startRegistry(t)
	idx := pushIndex(t, reg.host+"/team/multi:1", "amd64", "arm64")
	var uses []Use
	for i := 0; i < 50; i++ {
		uses = append(uses, Use{File: "x.yaml", Line: i + 1, Image: reg.host + "/team/multi@" + idx, HasPullPolicy: true})
	}
	before := reg.manifest.Load()
	res, err := Check(context.Background(), uses, Options{Access: newAccess(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.manifest.Load() - before; n != 1 {
		t.Errorf("%d manifest requests for one distinct reference named 50 times, want 1", n)
	}
	if len(res.Findings) != 50 || res.Images != 1 || res.OK != 1 {
		t.Errorf("findings %d, %s", len(res.Findings), res.Summary())
	}
}

func TestCheckSigned(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	h := reg.host
	signedDigest := pushImage(t, h+"/team/signed:1", "amd64")
	unsignedDigest := pushImage(t, h+"/team/unsigned:1", "amd64")
	outside := pushImage(t, h+"/other/unsigned:1", "amd64")

	dir := t.TempDir()
	pass := func(bool) ([]byte, error) { return []byte("pw"), nil }
	priv, pub, err := sign.GenerateKeyPair(pass)
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath, err := sign.WriteKeyPair(filepath.Join(dir, "cosign"), priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadSigner(ctx, keyPath, pass)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := name.NewDigest(h + "/team/signed@" + signedDigest)
	if _, err := s.Sign(ctx, d, sign.Options{RemoteOptions: anon}); err != nil {
		t.Fatal(err)
	}
	v, err := sign.LoadVerifier(ctx, pubPath)
	if err != nil {
		t.Fatal(err)
	}
	uses := []Use{
		{Image: h + "/team/signed:1@" + signedDigest},
		{Image: h + "/team/unsigned:1@" + unsignedDigest},
		{Image: h + "/other/unsigned:1@" + outside},
	}
	res, err := Check(ctx, uses, Options{Access: newAccess(t), Verifier: v, Signed: []string{h + "/team"}})
	if err != nil {
		t.Fatal(err)
	}
	got := lines(res)
	want := []string{"signed:1@" + signedDigest + " ok", "unsigned:1@" + unsignedDigest + " error signed", "unsigned:1@" + outside + " ok"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{File: "deploy/web.yaml", Line: 12, Object: "Deployment/web", Container: "app", Reference: "nginx", Severity: Error, Rule: RulePinned, Message: "no tag"}
	if got := f.String(); got != "deploy/web.yaml:12: Deployment/web container app: nginx: error pinned: no tag" {
		t.Errorf("got %q", got)
	}
	ok := Finding{Reference: "r.example.com/a:1", Severity: OK}
	if got := ok.String(); got != "r.example.com/a:1: ok" {
		t.Errorf("got %q", got)
	}
}
