package lint

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipway-build/slipway/internal/store"
)

// testImage is an image whose layers hold the given files, one map per
// layer, run as user.
func testImage(t *testing.T, user string, layers ...map[string][]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, files := range layers {
		l, err := crane.Layer(files)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.User = user
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func addToStore(t *testing.T, st *store.Store, name string, img v1.Image) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add(name, dir); err != nil {
		t.Fatal(err)
	}
}

func TestStoreImages(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secrets := testImage(t, "",
		map[string][]byte{
			"root/.ssh/id_rsa":                 []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
			"root/.ssh/id_rsa.pub":             []byte("ssh-rsa AAAA"),
			"app/.npmrc":                       []byte("//registry.npmjs.org/:_authToken=npm_abc\n"),
			"app/sub/.npmrc":                   []byte("registry=https://registry.example.com/\n"),
			"etc/ssl/certs/ca.pem":             []byte("-----BEGIN CERTIFICATE-----\n"),
			"etc/ssl/private/server.pem":       []byte("-----BEGIN RSA PRIVATE KEY-----\n"),
			"src/cosign.key":                   []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
			"home/u/.docker/config.json":       []byte(`{"auths":{"r.example.com":{"auth":"dTpw"}}}`),
			"usr/share/doc/readme-id_rsa.html": []byte("about keys"),
		},
		map[string][]byte{"root/.ssh/id_rsa": []byte("again")})
	addToStore(t, st, "secrets", secrets)
	addToStore(t, st, "rootuser", testImage(t, "0:0", map[string][]byte{"a": []byte("a")}))
	addToStore(t, st, "clean", testImage(t, "65532", map[string][]byte{"a": []byte("a")}))
	many := testImage(t, "1000", map[string][]byte{"a": nil}, map[string][]byte{"b": nil}, map[string][]byte{"c": nil})
	big, err := random.Layer(3<<20, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	if many, err = mutate.AppendLayers(many, big); err != nil {
		t.Fatal(err)
	}
	addToStore(t, st, "many", many)

	images := []StoreImage{{"secrets", "s/Dockerfile"}, {"rootuser", "r/Dockerfile"}, {"clean", "c/Dockerfile"}, {"many", "m/Dockerfile"}}
	res, err := Run(context.Background(), Request{Store: st, Images: images, Config: Config{MaxLayers: 3, MaxImageMB: 2}})
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ file, rule string }
	got := map[key][]string{}
	for _, f := range res.Findings {
		got[key{f.File, f.Rule}] = append(got[key{f.File, f.Rule}], f.Message)
	}
	secretsFound := strings.Join(got[key{"s/Dockerfile", RuleImageSecret}], "\n")
	for _, want := range []string{"/root/.ssh/id_rsa, an SSH private key", "/app/.npmrc, an npm token", "/etc/ssl/private/server.pem, a PEM private key", "/src/cosign.key, a cosign private key", "/home/u/.docker/config.json, registry credentials"} {
		if !strings.Contains(secretsFound, want) {
			t.Errorf("image-secret does not name %q:\n%s", want, secretsFound)
		}
	}
	for _, not := range []string{"id_rsa.pub", "sub/.npmrc", "ca.pem", "readme"} {
		if strings.Contains(secretsFound, not) {
			t.Errorf("image-secret names %s:\n%s", not, secretsFound)
		}
	}
	if n := len(got[key{"s/Dockerfile", RuleImageSecret}]); n != 5 {
		t.Errorf("%d image-secret findings, want 5 (a path in two layers counts once)", n)
	}
	if len(got[key{"s/Dockerfile", RuleImageRoot}]) != 1 || len(got[key{"r/Dockerfile", RuleImageRoot}]) != 1 {
		t.Errorf("image-root: %v", got)
	}
	if len(got[key{"m/Dockerfile", RuleImageLayers}]) != 1 || len(got[key{"m/Dockerfile", RuleImageSize}]) != 1 {
		t.Errorf("image-layers and image-size on the big image: %v", got)
	}
	for k := range got {
		if k.file == "c/Dockerfile" || k.file == "m/Dockerfile" && k.rule == RuleImageRoot {
			t.Errorf("unexpected %s on %s: %v", k.rule, k.file, got[k])
		}
	}
	if res.Images != 4 {
		t.Errorf("checked %d images, want 4", res.Images)
	}
}

// TestStoreIndex: every platform of a multi-platform image is checked.
func TestStoreIndex(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	amd := testImage(t, "1000", map[string][]byte{"app": []byte("x")})
	arm := testImage(t, "1000", map[string][]byte{"home/u/.docker/config.json": []byte(`{"auths":{}}`)})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Add("multi", dir); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Request{Store: st, Images: []StoreImage{{"multi", "Dockerfile"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Rule != RuleImageSecret || !strings.Contains(res.Findings[0].Message, "image multi (linux/arm64)") {
		t.Errorf("findings %v, want one image-secret on linux/arm64", res.Findings)
	}
}
