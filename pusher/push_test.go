package pusher

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testOptions are fast, quiet options with no credentials.
func testOptions() Options {
	return Options{Keychain: authn.NewMultiKeychain(), backoff: 5 * time.Millisecond, StallTimeout: 5 * time.Second}
}

func randomImage(t testing.TB, size int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// multiPlatform builds an OCI index of two images with their platforms.
func multiPlatform(t testing.TB) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img := randomImage(t, 2048, 2)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
}

func blobCount(t testing.TB, img v1.Image) int {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(ls) + 1
}

// contentBeforeTags checks that every tag PUT, in every registry, comes
// after the last request that moves content.
func contentBeforeTags(t testing.TB, recs []record) {
	t.Helper()
	lastContent, firstTag := -1, -1
	for _, r := range recs {
		switch k := r.kind(); {
		case k == "manifest-put-tag":
			if firstTag < 0 {
				firstTag = r.seq
			}
		case strings.HasPrefix(k, "blob-") && k != "blob-head", k == "manifest-put-digest":
			lastContent = r.seq
		}
	}
	if firstTag < 0 {
		t.Fatal("no tag was written")
	}
	if lastContent > firstTag {
		t.Errorf("content request #%d after the first tag PUT #%d", lastContent, firstTag)
	}
}

func TestPushImage(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	img := randomImage(t, 4096, 3)
	refs := []name.Tag{reg.ref(t, "team/app:v1"), reg.ref(t, "team/app:latest")}
	pub, err := Push(context.Background(), img, refs, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, img)
	if pub.Digest != d.String() {
		t.Errorf("Digest = %s, want %s", pub.Digest, d)
	}
	mt, _ := img.MediaType()
	if pub.MediaType != string(mt) {
		t.Errorf("MediaType = %s, want %s", pub.MediaType, mt)
	}
	want := []string{refs[0].String() + "@" + d.String(), refs[1].String() + "@" + d.String()}
	if !slices.Equal(pub.Refs, want) {
		t.Errorf("Refs = %v, want %v", pub.Refs, want)
	}
	if !slices.Equal(pub.Registries, []string{reg.host}) {
		t.Errorf("Registries = %v", pub.Registries)
	}
	if pub.BlobsUploaded != blobCount(t, img) || pub.BlobsSkipped != 0 || pub.BlobsMounted != 0 {
		t.Errorf("blobs uploaded/skipped/mounted = %d/%d/%d, want %d/0/0", pub.BlobsUploaded, pub.BlobsSkipped, pub.BlobsMounted, blobCount(t, img))
	}
	if pub.BytesUploaded < 3*4096 {
		t.Errorf("BytesUploaded = %d", pub.BytesUploaded)
	}
	for _, tag := range []string{"v1", "latest"} {
		if got, _ := reg.resolveTag("team/app", tag); got != d {
			t.Errorf("tag %s → %s, want %s", tag, got, d)
		}
	}
	validateTags(t, refs[0].Context())
	recs := reg.rec.all()
	contentBeforeTags(t, recs)
	if n := count(recs, "manifest-put-tag"); n != 2 {
		t.Errorf("%d tag PUTs, want 2", n)
	}
}

func TestPushIndexToSeveralRegistries(t *testing.T) {
	rec := &recorder{}
	a, b := newFakeRegistry(t, rec), newFakeRegistry(t, rec)
	idx := multiPlatform(t)
	refs := []name.Tag{a.ref(t, "app:1.0"), b.ref(t, "mirror/app:1.0"), a.ref(t, "app:latest"), b.ref(t, "mirror/app:latest")}
	pub, err := Push(context.Background(), idx, refs, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, idx)
	if pub.Digest != d.String() || pub.MediaType != string(types.OCIImageIndex) {
		t.Errorf("Digest, MediaType = %s, %s", pub.Digest, pub.MediaType)
	}
	if !slices.Equal(pub.Registries, []string{a.host, b.host}) {
		t.Errorf("Registries = %v, want [%s %s]", pub.Registries, a.host, b.host)
	}
	for i, r := range refs {
		if pub.Refs[i] != r.String()+"@"+d.String() {
			t.Errorf("Refs[%d] = %s", i, pub.Refs[i])
		}
	}
	im, _ := idx.IndexManifest()
	wantPlatforms := map[string]string{}
	for _, m := range im.Manifests {
		wantPlatforms[m.Platform.String()] = m.Digest.String()
	}
	if len(pub.PlatformDigests) != 2 || pub.PlatformDigests["linux/amd64"] != wantPlatforms["linux/amd64"] || pub.PlatformDigests["linux/arm64"] != wantPlatforms["linux/arm64"] {
		t.Errorf("PlatformDigests = %v, want %v", pub.PlatformDigests, wantPlatforms)
	}
	// 2 images × (2 layers + config) per registry.
	if pub.BlobsUploaded != 12 {
		t.Errorf("BlobsUploaded = %d, want 12", pub.BlobsUploaded)
	}
	recs := rec.all()
	contentBeforeTags(t, recs)
	// Children before the index, in each registry: the fake refuses an
	// index whose children are missing, so it is enough that nothing was
	// refused; check the order too.
	for _, host := range []string{a.host, b.host} {
		lastChild, indexPut := -1, -1
		for _, r := range recs {
			if r.host != host || r.kind() != "manifest-put-digest" {
				continue
			}
			if strings.HasSuffix(r.path, d.String()) {
				indexPut = r.seq
			} else {
				lastChild = r.seq
			}
		}
		if indexPut < 0 || lastChild < 0 || lastChild > indexPut {
			t.Errorf("%s: last child PUT #%d, index PUT #%d", host, lastChild, indexPut)
		}
	}
	validateTags(t, refs[0].Context())
	validateTags(t, refs[1].Context())
}

// A re-push of what every tag already points at only looks the tags up.
func TestRepushUploadsNothing(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	idx := multiPlatform(t)
	refs := []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:v1.0")}
	if _, err := Push(context.Background(), idx, refs, testOptions()); err != nil {
		t.Fatal(err)
	}
	reg.rec.reset()
	pub, err := Push(context.Background(), idx, refs, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if pub.BlobsUploaded != 0 || pub.BlobsMounted != 0 || pub.BlobsSkipped != 6 || pub.BytesUploaded != 0 {
		t.Errorf("blobs uploaded/mounted/skipped = %d/%d/%d (%d bytes), want 0/0/6", pub.BlobsUploaded, pub.BlobsMounted, pub.BlobsSkipped, pub.BytesUploaded)
	}
	for _, r := range reg.rec.all() {
		switch r.kind() {
		case "ping", "manifest-head-tag":
		default:
			t.Errorf("re-push sent %s %s (%s)", r.method, r.path, r.kind())
		}
	}
	if n := count(reg.rec.all(), "manifest-head-tag"); n != 2 {
		t.Errorf("%d tag lookups, want 2", n)
	}
	if want := []string{refs[0].String() + "@" + pub.Digest, refs[1].String() + "@" + pub.Digest}; !slices.Equal(pub.Refs, want) {
		t.Errorf("Refs = %v, want %v", pub.Refs, want)
	}
}

// Adding a tag to a pushed image writes only that tag, after checking that
// the content is there, and reads only it back.
func TestRepushWithNewTag(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	img := randomImage(t, 1024, 2)
	if _, err := Push(context.Background(), img, []name.Tag{reg.ref(t, "app:v1")}, testOptions()); err != nil {
		t.Fatal(err)
	}
	reg.rec.reset()
	refs := []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:v2")}
	pub, err := Push(context.Background(), img, refs, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	recs := reg.rec.all()
	if pub.BlobsUploaded != 0 || pub.BlobsSkipped != 3 || count(recs, "blob-patch") != 0 {
		t.Errorf("uploaded/skipped = %d/%d, want 0/3", pub.BlobsUploaded, pub.BlobsSkipped)
	}
	var putTags, headTags []string
	for _, r := range recs {
		tag := r.path[strings.LastIndex(r.path, "/")+1:]
		switch r.kind() {
		case "manifest-put-tag":
			putTags = append(putTags, tag)
		case "manifest-head-tag":
			headTags = append(headTags, tag)
		}
	}
	slices.Sort(headTags)
	if !slices.Equal(putTags, []string{"v2"}) || !slices.Equal(headTags, []string{"v1", "v2", "v2"}) {
		t.Errorf("tag PUTs %v, lookups %v; want [v2] and [v1 v2 v2]", putTags, headTags)
	}
	contentBeforeTags(t, recs)
	if got, _ := reg.resolveTag("app", "v2"); got != digestOf(t, img) {
		t.Errorf("v2 points at %s", got)
	}
}

func TestCrossRepoMount(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		mount                  bool
		uploaded, mounted, all int
	}{
		{name: "mounted", mount: true, uploaded: 4, mounted: 8},
		{name: "registry without mount", mount: false, uploaded: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, nil)
			reg.mount = tc.mount
			img := randomImage(t, 1024, 3)
			refs := []name.Tag{reg.ref(t, "one:v1"), reg.ref(t, "two:v1"), reg.ref(t, "three/x:v1")}
			pub, err := Push(context.Background(), img, refs, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			if pub.BlobsUploaded != tc.uploaded || pub.BlobsMounted != tc.mounted {
				t.Errorf("uploaded/mounted = %d/%d, want %d/%d", pub.BlobsUploaded, pub.BlobsMounted, tc.uploaded, tc.mounted)
			}
			recs := reg.rec.all()
			if n := count(recs, "blob-patch"); n != tc.uploaded {
				t.Errorf("%d PATCH uploads, want %d", n, tc.uploaded)
			}
			contentBeforeTags(t, recs)
			for _, r := range refs {
				validateTags(t, r.Context())
			}
		})
	}
}

// mismatch answers a tag lookup with another digest, as if someone moved
// the tag during the push.
func TestVerifyDetectsMismatch(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	other := "sha256:" + strings.Repeat("ab", 32)
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/v1") {
			w.Header().Set("Docker-Content-Digest", other)
			w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	}
	_, err := Push(context.Background(), randomImage(t, 512, 1), []name.Tag{reg.ref(t, "app:v1")}, testOptions())
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	if !strings.Contains(err.Error(), other) || Hint(err) == "" {
		t.Errorf("err = %v, hint %q", err, Hint(err))
	}
}

func TestPermanentErrorsFailAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		match  string
		status int
		body   string
		want   error
	}{
		{"401", http.MethodHead, "/blobs/", 401, ``, ErrUnauthorized},
		{"403 denied", http.MethodPost, "/blobs/uploads/", 403, `{"errors":[{"code":"DENIED","message":"no"}]}`, ErrDenied},
		{"name unknown", http.MethodPost, "/blobs/uploads/", 404, `{"errors":[{"code":"NAME_UNKNOWN","message":"no such repo"}]}`, ErrNotFound},
		{"manifest invalid", http.MethodPut, "/manifests/", 400, `{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}`, ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, nil)
			reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == tc.method && strings.Contains(r.URL.Path, tc.match) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					w.Write([]byte(tc.body))
					return
				}
				next.ServeHTTP(w, r)
			}
			opts := testOptions()
			opts.Jobs = 1
			_, err := Push(context.Background(), randomImage(t, 512, 1), []name.Tag{reg.ref(t, "app:v1")}, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if Hint(err) == "" {
				t.Errorf("no hint for %v", err)
			}
			n := 0
			for _, r := range reg.rec.all() {
				if r.method == tc.method && strings.Contains(r.path, tc.match) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d requests of the failing kind, want 1 (no retry)", n)
			}
			if _, ok := reg.resolveTag("app", "v1"); ok {
				t.Error("tag written despite the failure")
			}
		})
	}
}

func TestPlainHTTPRule(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	// Every name dials the fake registry, which speaks plain HTTP.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, reg.host)
	}
	for _, tc := range []struct {
		name     string
		host     string
		insecure []string
		ok       bool
	}{
		{"private address not listed", "10.1.2.3:5000", nil, false},
		{"name not listed", "registry.test:5000", nil, false},
		{"name listed", "registry.test:5000", []string{"registry.test:5000"}, true},
		{"host listed without port", "registry.test:5000", []string{"registry.test"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Transport = &http.Transport{DialContext: dial}
			opts.InsecureRegistries = tc.insecure
			ref, err := name.NewTag(tc.host + "/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Push(context.Background(), randomImage(t, 256, 1), []name.Tag{ref}, opts)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && Hint(err) == "" {
				t.Errorf("no hint for %v", err)
			}
		})
	}
}

func TestProgressAndDebugLog(t *testing.T) {
	for _, mode := range []ProgressMode{ProgressPlain, ProgressBar} {
		reg := newFakeRegistry(t, nil)
		var prog, debug bytes.Buffer
		opts := testOptions()
		opts.Progress, opts.ProgressMode, opts.Debug = &prog, mode, &debug
		if _, err := Push(context.Background(), randomImage(t, 2048, 2), []name.Tag{reg.ref(t, "app:v1")}, opts); err != nil {
			t.Fatal(err)
		}
		out := prog.String()
		if !strings.Contains(out, "uploaded") || !strings.Contains(out, "tagged") {
			t.Errorf("mode %d: progress lacks events:\n%s", mode, out)
		}
		if hasEsc := strings.Contains(out, "\x1b["); hasEsc != (mode == ProgressBar) {
			t.Errorf("mode %d: escapes = %v", mode, hasEsc)
		}
		log := debug.String()
		if !strings.Contains(log, "PATCH http://"+reg.host) || !strings.Contains(log, " 201 ") {
			t.Errorf("debug log:\n%s", log)
		}
	}
}

// A guard sees the tags that would move before anything is sent, and can
// stop the push with every tag as it was.
func TestGuardStopsAMoveBeforeAnythingIsSent(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	first, second := randomImage(t, 512, 1), randomImage(t, 512, 1)
	refs := []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:latest")}
	if _, err := Push(context.Background(), first, refs, testOptions()); err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	stop := errors.New("refused")
	var seen []Move
	opts := testOptions()
	opts.Guard = func(m []Move) error { seen = m; return stop }
	if _, err := Push(context.Background(), second, refs, opts); !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the guard's", err)
	}
	if len(seen) != 2 || seen[0].Old != d1.String() || seen[0].New != d2.String() {
		t.Errorf("guard saw %+v", seen)
	}
	for _, tag := range []string{"v1", "latest"} {
		if got, _ := reg.resolveTag("app", tag); got != d1 {
			t.Errorf("%s moved to %s", tag, got)
		}
	}
	// A guard that lets it pass: the tags move.
	opts.Guard = func([]Move) error { return nil }
	if _, err := Push(context.Background(), second, refs, opts); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.resolveTag("app", "v1"); got != d2 {
		t.Errorf("v1 = %s after an allowed move, want %s", got, d2)
	}
}
