package builder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBuildImages(t *testing.T) {
	sharedBuilder(t)
	base := baseImage(t)
	tests := []struct {
		name       string
		dockerfile string
		files      map[string]string
		req        Request
		want       map[string]string // files in the image
		absent     []string          // files that must not be in the image
		labels     map[string]string
	}{
		{
			name:       "run",
			dockerfile: "FROM " + base + "\nRUN echo built-by-run > /hello\n",
			want:       map[string]string{"hello": "built-by-run\n"},
		},
		{
			name: "multi-stage",
			dockerfile: "FROM " + base + " AS build\nRUN mkdir /out && echo compiled > /out/app\n" +
				"FROM scratch\nCOPY --from=build /out/app /app\n",
			want:   map[string]string{"app": "compiled\n"},
			absent: []string{"bin/busybox"},
		},
		{
			name:       "build args and labels",
			dockerfile: "FROM " + base + "\nARG GREETING=unset\nRUN echo $GREETING > /greeting\n",
			req:        Request{Args: map[string]string{"GREETING": "from-arg"}, Labels: map[string]string{"team": "ships"}},
			want:       map[string]string{"greeting": "from-arg\n"},
			labels:     map[string]string{"team": "ships"},
		},
		{
			name: "target",
			dockerfile: "FROM scratch AS first\nCOPY a.txt /a.txt\n" +
				"FROM first AS second\nCOPY b.txt /b.txt\n",
			files:  map[string]string{"a.txt": "A", "b.txt": "B"},
			req:    Request{Target: "first"},
			want:   map[string]string{"a.txt": "A"},
			absent: []string{"b.txt"},
		},
		{
			name:       "dockerfile elsewhere and dockerignore",
			dockerfile: "FROM scratch\nCOPY . /src/\n",
			files: map[string]string{
				"build/Dockerfile.prod": "FROM scratch\nCOPY . /src/\n",
				".dockerignore":         "secret.txt\nbuild\n",
				"keep.txt":              "keep", "secret.txt": "ignored",
			},
			req:    Request{Dockerfile: "build/Dockerfile.prod"},
			want:   map[string]string{"src/keep.txt": "keep"},
			absent: []string{"src/secret.txt", "src/build/Dockerfile.prod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			r.Name = strings.ReplaceAll(tt.name, " ", "-")
			r.Context = newContext(t, tt.dockerfile, tt.files)
			res, st := build(t, r)
			if res.Name != r.Name || !strings.HasPrefix(res.Digest, "sha256:") {
				t.Fatalf("result = %+v", res)
			}
			if len(res.Platforms) != 1 || res.PlatformDigests[res.Platforms[0]] != res.Digest {
				t.Errorf("platforms = %v %v", res.Platforms, res.PlatformDigests)
			}
			d, err := st.Lookup(r.Name)
			if err != nil {
				t.Fatal(err)
			}
			if d.Digest.String() != res.Digest {
				t.Errorf("store has %s, result says %s", d.Digest, res.Digest)
			}
			img, err := st.Image(r.Name)
			if err != nil {
				t.Fatal(err)
			}
			files := imageFiles(t, img)
			for p, c := range tt.want {
				if got, ok := files[p]; !ok || got != c {
					t.Errorf("file %s = %q (present %v), want %q", p, got, ok, c)
				}
			}
			for _, p := range tt.absent {
				if _, ok := files[p]; ok {
					t.Errorf("file %s is in the image", p)
				}
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.labels {
				if cf.Config.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
				}
			}
		})
	}
}

func TestSecretNeverStored(t *testing.T) {
	b := sharedBuilder(t)
	base := baseImage(t)
	const fileSecret = "s3cr3t-from-file-7f1c9e"
	const envSecret = "s3cr3t-from-env-a24d55"
	secretFile := filepath.Join(t.TempDir(), "npmrc")
	if err := os.WriteFile(secretFile, []byte(fileSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLIPWAY_TEST_TOKEN", envSecret)
	// The RUN steps read the secrets (proved by their hashes landing in the
	// image) but must leave no copy of them anywhere.
	df := "FROM " + base + "\n" +
		"RUN --mount=type=secret,id=npmrc cat /run/secrets/npmrc | sha256sum > /npmrc.sum\n" +
		"RUN --mount=type=secret,id=token,env=TOKEN echo -n $TOKEN | sha256sum > /token.sum\n"
	r := Request{
		Name: "secret", Context: newContext(t, df, nil),
		Secrets:     []Secret{{ID: "npmrc", Src: secretFile}, {ID: "token", Env: "SLIPWAY_TEST_TOKEN"}},
		Annotations: map[string]string{"org.opencontainers.image.source": "https://example.com/repo"},
	}
	st := openStore(t)
	var progress bytes.Buffer
	if _, err := b.Build(context.Background(), []Request{r}, st, BuildOptions{Progress: &progress, ProgressMode: "plain"}); err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	img, err := st.Image("secret")
	if err != nil {
		t.Fatal(err)
	}
	files := imageFiles(t, img)
	for f, want := range map[string]string{"npmrc.sum": sha256hex(fileSecret), "token.sum": sha256hex(envSecret)} {
		if !strings.HasPrefix(files[f], want) {
			t.Errorf("%s = %q: the RUN step did not see the secret", f, files[f])
		}
	}

	var places []struct {
		what string
		data []byte
	}
	add := func(what string, data []byte) {
		places = append(places, struct {
			what string
			data []byte
		}{what, data})
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		add("layer "+string(rune('0'+i)), data)
	}
	cfg, _ := img.RawConfigFile()
	add("config and history", cfg)
	mf, _ := img.RawManifest()
	add("manifest", mf)
	idx, _ := os.ReadFile(filepath.Join(st.Dir(), "index.json"))
	add("store index", idx)
	add("progress output", progress.Bytes())
	// Every file of the store, staged leftovers included.
	filepath.Walk(st.Dir(), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			data, _ := os.ReadFile(p)
			add(p, data)
		}
		return nil
	})
	for _, p := range places {
		for _, s := range []string{fileSecret, envSecret} {
			if bytes.Contains(p.data, []byte(s)) {
				t.Errorf("secret found in %s", p.what)
			}
		}
	}
	if !bytes.Contains(cfg, []byte("history")) {
		t.Error("config has no history to check")
	}
}

func TestMultiPlatformCopyOnly(t *testing.T) {
	b := sharedBuilder(t)
	r := Request{
		Name: "multi", Context: newContext(t, "FROM scratch\nCOPY app /app\n", map[string]string{"app": "portable"}),
		Platforms:       []string{"linux/amd64", "linux/arm64"},
		SourceDateEpoch: 1700000000,
		Annotations:     map[string]string{"org.opencontainers.image.revision": "0123abc"},
	}
	st := openStore(t)
	res, err := b.Build(context.Background(), []Request{r}, st, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := res[0]
	if got.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("media type = %s, want an OCI index", got.MediaType)
	}
	if strings.Join(got.Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms = %v", got.Platforms)
	}
	idx, err := st.Index("multi")
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations["org.opencontainers.image.revision"] != "0123abc" {
		t.Errorf("index annotations = %v", im.Annotations)
	}
	seen := map[string]bool{}
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		seen[p] = true
		if got.PlatformDigests[p] != m.Digest.String() {
			t.Errorf("PlatformDigests[%s] = %s, index says %s", p, got.PlatformDigests[p], m.Digest)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != m.Platform.Architecture {
			t.Errorf("%s: config says %s", p, cf.Architecture)
		}
		if f := imageFiles(t, img); f["app"] != "portable" {
			t.Errorf("%s: files = %v", p, f)
		}
		mf, _ := img.Manifest()
		if mf.Annotations["org.opencontainers.image.revision"] != "0123abc" {
			t.Errorf("%s: manifest annotations = %v", p, mf.Annotations)
		}
	}
	if !seen["linux/amd64"] || !seen["linux/arm64"] {
		t.Errorf("index platforms = %v", seen)
	}
}

func TestReproducible(t *testing.T) {
	b := sharedBuilder(t)
	base := baseImage(t)
	df := "FROM " + base + "\nRUN echo data > /data && mkdir /dir\nCOPY app /app\n"
	ctxDir := newContext(t, df, map[string]string{"app": "v1"})
	st := openStore(t)
	build := func(epoch int64, noCache bool) string {
		t.Helper()
		r := Request{Name: "repro", Context: ctxDir, SourceDateEpoch: epoch, NoCache: noCache,
			Annotations: map[string]string{"org.opencontainers.image.created": "2023-11-14T22:13:20Z"}}
		res, err := b.Build(context.Background(), []Request{r}, st, BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Digest
	}
	first := build(1700000000, false)
	// No cache: every step runs again at another wall-clock time.
	if again := build(1700000000, true); again != first {
		t.Errorf("rebuild without cache: %s, first build %s", again, first)
	}
	if other := build(1700000001, true); other == first {
		t.Error("another SOURCE_DATE_EPOCH gave the same digest: timestamps are not in the image")
	}
	// Only the newest build of a name is kept, its blobs alone.
	es, _ := st.Entries()
	if len(es) != 1 {
		t.Errorf("store entries = %d, want 1", len(es))
	}
}

func TestDockerfileSyntaxError(t *testing.T) {
	b := sharedBuilder(t)
	ctxDir := newContext(t, "FROM scratch\nCOPY a /a\nFROMM scratch\n", map[string]string{"a": "a"})
	st := openStore(t)
	_, err := b.Build(context.Background(), []Request{{Name: "bad", Context: ctxDir}}, st, BuildOptions{})
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want a *BuildError", err, err)
	}
	wantFile := filepath.Join(ctxDir, "Dockerfile")
	if be.File != wantFile || be.Line != 3 {
		t.Errorf("location = %s:%d, want %s:3", be.File, be.Line, wantFile)
	}
	if !strings.Contains(err.Error(), wantFile+":3:") {
		t.Errorf("message has no file:line: %v", err)
	}
	if !strings.Contains(be.Excerpt, "FROMM scratch") {
		t.Errorf("excerpt = %q", be.Excerpt)
	}
	t.Log(err)
}

func TestSeveralImagesOneCall(t *testing.T) {
	b := sharedBuilder(t)
	base := baseImage(t)
	var reqs []Request
	for _, n := range []string{"one", "two", "three"} {
		reqs = append(reqs, Request{Name: n, Context: newContext(t, "FROM "+base+"\nRUN echo "+n+" > /name\n", nil)})
	}
	st := openStore(t)
	var progress bytes.Buffer
	res, err := b.Build(context.Background(), reqs, st, BuildOptions{Jobs: 2, Progress: &progress, ProgressMode: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Name != reqs[i].Name {
			t.Errorf("result %d is %s, want %s", i, r.Name, reqs[i].Name)
		}
		img, err := st.Image(r.Name)
		if err != nil {
			t.Fatal(err)
		}
		if f := imageFiles(t, img); f["name"] != r.Name+"\n" {
			t.Errorf("%s: /name = %q", r.Name, f["name"])
		}
	}
	// Progress names the image of each step.
	for _, n := range []string{"[one ", "[two ", "[three "} {
		if !strings.Contains(progress.String(), n) {
			t.Errorf("progress does not name %q", n)
		}
	}
}

func TestFailedBuildFailsRun(t *testing.T) {
	b := sharedBuilder(t)
	base := baseImage(t)
	reqs := []Request{
		{Name: "fails", Context: newContext(t, "FROM "+base+"\nRUN echo about to fail && false\n", nil)},
		{Name: "slow", Context: newContext(t, "FROM "+base+"\nRUN sleep 30 && echo slow-marker-b81 > /x\n", nil)},
	}
	st := openStore(t)
	_, err := b.Build(context.Background(), reqs, st, BuildOptions{})
	var be *BuildError
	if !errors.As(err, &be) || be.Image != "fails" {
		t.Fatalf("err = %v, want the failing image's error", err)
	}
	if be.Line != 2 {
		t.Errorf("failing RUN at line %d, want 2", be.Line)
	}
	if strings.Contains(err.Error(), "slow") {
		t.Errorf("the cancelled build is reported as a failure of its own: %v", err)
	}
	if _, lerr := st.Lookup("fails"); lerr == nil {
		t.Error("failed image in store")
	}
	noProcessesWith(t, "sleep 30")
	t.Log(err)
}

func sha256hex(s string) string {
	h := v1.Hash{}
	h, _, _ = v1.SHA256(strings.NewReader(s))
	return h.Hex
}
