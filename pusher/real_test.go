package pusher

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/slipway-build/slipway/internal/testenv"
)

// These tests run against the distribution registry from bin/ (skipped
// when it is missing, unless SLIPWAY_REQUIRE_TOOLS=1).

func TestRealRegistryTLSAndAuth(t *testing.T) {
	const user, pass = "ci", "real-Secret-42"
	r := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{user: pass}})
	home := cleanAuthEnv(t)
	dockerDir := filepath.Join(home, "docker")
	writeJSON(t, filepath.Join(dockerDir, "config.json"), map[string]any{"auths": map[string]any{r.Host: authEntry(user, pass)}})

	var debug bytes.Buffer
	opts := testOptions()
	opts.Keychain = nil // the default: docker config from DOCKER_CONFIG
	opts.CAFiles = map[string]string{r.Host: r.CAFile}
	opts.Debug = &debug
	idx := multiPlatform(t)
	app, _ := name.NewTag(r.Host + "/team/app:v1")
	other, _ := name.NewTag(r.Host + "/team/other:v1")

	t.Run("push with credentials", func(t *testing.T) {
		pub, err := Push(context.Background(), idx, []name.Tag{app, other}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if pub.BlobsUploaded != 6 || pub.BlobsMounted != 6 {
			t.Errorf("uploaded/mounted = %d/%d, want 6/6", pub.BlobsUploaded, pub.BlobsMounted)
		}
		ropts := []remote.Option{remote.WithTransport(r.Transport()), remote.WithAuth(&authn.Basic{Username: user, Password: pass})}
		for _, ref := range []name.Tag{app, other} {
			if tags := validateTags(t, ref.Context(), ropts...); len(tags) != 1 {
				t.Errorf("%s tags = %v", ref.Context(), tags)
			}
			desc, err := remote.Head(ref, ropts...)
			if err != nil || desc.Digest.String() != pub.Digest {
				t.Errorf("%s → %v (%v), want %s", ref, desc, err, pub.Digest)
			}
		}
	})

	t.Run("re-push uploads nothing", func(t *testing.T) {
		pub, err := Push(context.Background(), idx, []name.Tag{app, other}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if pub.BlobsUploaded != 0 || pub.BlobsMounted != 0 || pub.BlobsSkipped != 12 {
			t.Errorf("uploaded/mounted/skipped = %d/%d/%d", pub.BlobsUploaded, pub.BlobsMounted, pub.BlobsSkipped)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-Secret-17"
		bad := t.TempDir()
		writeJSON(t, filepath.Join(bad, "config.json"), map[string]any{"auths": map[string]any{r.Host: authEntry(user, wrong)}})
		t.Setenv("DOCKER_CONFIG", bad)
		ref, _ := name.NewTag(r.Host + "/team/app:v2")
		_, err := Push(context.Background(), idx, []name.Tag{ref}, opts)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		if !strings.Contains(Hint(err), "slipway login "+r.Host) {
			t.Errorf("hint %q", Hint(err))
		}
		for _, text := range []string{err.Error(), Hint(err), debug.String()} {
			if strings.Contains(text, wrong) || strings.Contains(text, pass) {
				t.Errorf("a password leaked into %q", text)
			}
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		o := opts
		o.CAFiles = nil
		_, err := Push(context.Background(), idx, []name.Tag{app}, o)
		if err == nil || !strings.Contains(Hint(err), "ca_file") {
			t.Errorf("err = %v, hint %q", err, Hint(err))
		}
	})

	t.Run("login", func(t *testing.T) {
		dir := t.TempDir()
		if err := Login(context.Background(), r.Host, user, "nope-"+pass, dir, opts); !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), pass) {
			t.Errorf("wrong password: %v", err)
		}
		if err := Login(context.Background(), r.Host, user, pass, dir, opts); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
		if u, p := resolveBasic(t, r.Host+"/team/app"); u != user || p != pass {
			t.Errorf("after login the keychain resolves %q/%q", u, p)
		}
	})
}

// realBehindFaults starts a plain registry and a fault-injecting proxy in
// front of it, and returns the proxy.
func realBehindFaults(t *testing.T) *fakeRegistry {
	r := testenv.StartRegistry(t, testenv.RegistryOptions{})
	target, _ := url.Parse("http://" + r.Host)
	p := newFakeRegistry(t, nil)
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // Location headers then name the proxy
		},
		ErrorLog: log.New(io.Discard, "", 0), // faults make it complain
	}
	return p
}

func TestRealRegistryFaults(t *testing.T) {
	t.Run("transient", func(t *testing.T) {
		p := realBehindFaults(t)
		fs := newFaults(t, p,
			&fault{method: "HEAD", path: "/blobs/", action: "503", times: 1},
			&fault{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: 2},
			&fault{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: 1},
			&fault{method: "PUT", path: "/manifests/sha256:", action: "500", times: 1},
			&fault{method: "PUT", path: "/manifests/v", action: "429", times: 1},
		)
		idx := multiPlatform(t)
		ref := p.ref(t, "app:v1")
		pub, err := Push(context.Background(), idx, []name.Tag{ref}, faultOptions())
		if err != nil {
			t.Fatal(err)
		}
		fs.check(t)
		if pub.Digest != digestOf(t, idx).String() {
			t.Errorf("Digest = %s", pub.Digest)
		}
		validateTags(t, ref.Context())
	})

	t.Run("persistent", func(t *testing.T) {
		p := realBehindFaults(t)
		old := randomImage(t, 256<<10, 2)
		v1ref, v2ref := p.ref(t, "app:v1"), p.ref(t, "app:v2")
		if _, err := Push(context.Background(), old, []name.Tag{v1ref}, faultOptions()); err != nil {
			t.Fatal(err)
		}
		newFaults(t, p, &fault{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: -1})
		opts := faultOptions()
		opts.Retries = 3
		_, err := Push(context.Background(), randomImage(t, 256<<10, 2), []name.Tag{v1ref, v2ref}, opts)
		if err == nil {
			t.Fatal("push succeeded despite persistent resets")
		}
		desc, err := remote.Head(v1ref)
		if err != nil || desc.Digest != digestOf(t, old) {
			t.Errorf("v1 → %v (%v), want %s", desc, err, digestOf(t, old))
		}
		if tags := validateTags(t, v1ref.Context()); len(tags) != 1 {
			t.Errorf("tags = %v, want [v1]", tags)
		}
	})
}
