package pusher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// fault is one misbehaviour of the proxy in front of the registry: for the
// first times requests matching method and path (all of them when times is
// -1) it answers action instead of the registry.
type fault struct {
	method string
	path   string // substring of the URL path
	action string // "503", "500", "429" (Retry-After: 1), "reset" (cut mid-body), "stall"
	times  int
	hits   int
}

// faults is the schedule of a fault-injecting proxy.
type faults struct {
	mu   sync.Mutex
	list []*fault
	stop chan struct{}
}

func newFaults(t *testing.T, reg *fakeRegistry, list ...*fault) *faults {
	fs := &faults{list: list, stop: make(chan struct{})}
	// Registered after the server's Close, so run before it: stalled
	// handlers return and the server can shut down.
	t.Cleanup(func() { close(fs.stop) })
	reg.wrap = fs.serve
	return fs
}

func (fs *faults) pick(r *http.Request) *fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.list {
		if r.Method == f.method && strings.Contains(r.URL.Path, f.path) && (f.times < 0 || f.hits < f.times) {
			f.hits++
			return f
		}
	}
	return nil
}

func (fs *faults) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	f := fs.pick(r)
	if f == nil {
		next.ServeHTTP(w, r)
		return
	}
	switch f.action {
	case "503", "500":
		w.Header().Set("Content-Type", "application/json")
		code := map[string]int{"503": 503, "500": 500}[f.action]
		w.WriteHeader(code)
		fmt.Fprint(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`)
	case "429":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`)
	case "reset":
		// Take part of the body, then cut the connection with a RST.
		if r.ContentLength > 0 {
			io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	case "stall":
		select {
		case <-fs.stop:
		case <-time.After(20 * time.Second):
		}
	default:
		panic("unknown fault " + f.action)
	}
}

func (fs *faults) check(t *testing.T) {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.list {
		if f.hits == 0 || (f.times > 0 && f.hits != f.times) {
			t.Errorf("fault %s on %s %s hit %d times, want %d", f.action, f.method, f.path, f.hits, f.times)
		}
	}
}

func faultOptions() Options {
	o := testOptions()
	o.StallTimeout = 300 * time.Millisecond
	o.Retries = 4
	return o
}

func TestTransientFaultsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []*fault
		file   bool // layers from files of an OCI layout (sent with sendfile)
	}{
		{"503 on ping", []*fault{{method: "GET", path: "/v2/", action: "503", times: 2}}, false},
		{"503 on blob HEAD", []*fault{{method: "HEAD", path: "/blobs/", action: "503", times: 3}}, false},
		{"500 on upload start", []*fault{{method: "POST", path: "/blobs/uploads/", action: "500", times: 2}}, false},
		{"reset mid-upload", []*fault{{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: 3}}, false},
		{"stalled upload", []*fault{{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: 2}}, false},
		{"stalled commit", []*fault{{method: "PUT", path: "/blobs/uploads/", action: "stall", times: 1}}, false},
		{"503 on manifest", []*fault{{method: "PUT", path: "/manifests/sha256:", action: "503", times: 2}}, false},
		{"429 on tag", []*fault{{method: "PUT", path: "/manifests/v", action: "429", times: 1}}, false},
		// The first lookup of each tag, before the push, fails (and is not
		// retried); the read-back after tagging is retried.
		{"reset on verify", []*fault{{method: "HEAD", path: "/manifests/v", action: "reset", times: 3}}, false},
		{"file-backed upload reset", []*fault{{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: 2}}, true},
		{"file-backed upload stalled", []*fault{{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: 2}}, true},
		{"everything at once", []*fault{
			{method: "HEAD", path: "/blobs/", action: "503", times: 1},
			{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: 1},
			{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: 1},
			{method: "PUT", path: "/manifests/v", action: "503", times: 1},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, nil)
			fs := newFaults(t, reg, tc.faults...)
			img := randomImage(t, 256<<10, 2)
			if tc.file {
				img = layoutImage(t, 8<<20)
			}
			refs := []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:v2")}
			pub, err := Push(context.Background(), img, refs, faultOptions())
			if err != nil {
				t.Fatalf("push failed despite transient faults: %v", err)
			}
			fs.check(t)
			if pub.Digest != digestOf(t, img).String() {
				t.Errorf("Digest = %s", pub.Digest)
			}
			if tags := validateTags(t, refs[0].Context()); len(tags) != 2 {
				t.Errorf("tags = %v", tags)
			}
			contentBeforeTags(t, reg.rec.all())
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	fs := newFaults(t, reg, &fault{method: "PUT", path: "/manifests/v1", action: "429", times: 1})
	ref := reg.ref(t, "app:v1")
	opts := faultOptions()
	if _, err := Push(context.Background(), randomImage(t, 1024, 1), []name.Tag{ref}, opts); err != nil {
		t.Fatal(err)
	}
	fs.check(t)
	var puts []record
	for _, r := range reg.rec.all() {
		if r.kind() == "manifest-put-tag" {
			puts = append(puts, r)
		}
	}
	if len(puts) != 2 || puts[0].status != http.StatusTooManyRequests {
		t.Fatalf("tag PUTs = %+v, want a 429 and a retry", puts)
	}
	// The retry waited at least the Retry-After (1 s), far more than the
	// test's backoff of a few milliseconds.
	if gap := puts[1].at.Sub(puts[0].at); gap < time.Second {
		t.Errorf("retried after %s, before Retry-After: 1", gap)
	}
}

// TestPersistentFaultsKeepTags pushes an old image, then fails to push a
// new one under the same tag: the tag stays on the old image, no new tag
// appears, and every tag points at complete content.
func TestPersistentFaultsKeepTags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault *fault
	}{
		{"uploads always reset", &fault{method: "PATCH", path: "/blobs/uploads/", action: "reset", times: -1}},
		{"uploads always stall", &fault{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: -1}},
		{"commits always 503", &fault{method: "PUT", path: "/blobs/uploads/", action: "503", times: -1}},
		{"manifests always 500", &fault{method: "PUT", path: "/manifests/sha256:", action: "500", times: -1}},
		{"tags always 503", &fault{method: "PUT", path: "/manifests/v", action: "503", times: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry(t, nil)
			old := randomImage(t, 64<<10, 2)
			oldRefs := []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:stable")}
			if _, err := Push(context.Background(), old, oldRefs, faultOptions()); err != nil {
				t.Fatal(err)
			}
			fs := newFaults(t, reg, tc.fault)
			opts := faultOptions()
			opts.Retries = 3
			_, err := Push(context.Background(), randomImage(t, 64<<10, 2), []name.Tag{reg.ref(t, "app:v1"), reg.ref(t, "app:v2")}, opts)
			if err == nil {
				t.Fatal("push succeeded despite persistent faults")
			}
			if !strings.Contains(Hint(err), "kept failing") {
				t.Errorf("hint %q for %v", Hint(err), err)
			}
			if got, _ := reg.resolveTag("app", "v1"); got != digestOf(t, old) {
				t.Errorf("v1 moved to %s", got)
			}
			if _, ok := reg.resolveTag("app", "v2"); ok {
				t.Error("v2 was written")
			}
			if tags := validateTags(t, oldRefs[0].Context()); len(tags) != 2 {
				t.Errorf("tags = %v, want v1 and stable", tags)
			}
			fs.mu.Lock()
			failing := tc.fault.hits
			fs.mu.Unlock()
			// Each operation tries Retries times; the three blobs go in
			// parallel and stop once one gives up.
			if failing < opts.Retries || failing > opts.Retries*3 {
				t.Errorf("%d failing requests with Retries=%d", failing, opts.Retries)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	newFaults(t, reg, &fault{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: -1})
	opts := testOptions()
	opts.Deadline = 300 * time.Millisecond
	opts.StallTimeout = time.Minute
	_, err := Push(context.Background(), randomImage(t, 1024, 1), []name.Tag{reg.ref(t, "app:v1")}, opts)
	if !errors.Is(err, errDeadline) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if !strings.Contains(err.Error(), "deadline exceeded (300ms)") || !strings.Contains(Hint(err), "--push-timeout") {
		t.Errorf("err = %v, hint %q", err, Hint(err))
	}
}

func TestCancel(t *testing.T) {
	reg := newFakeRegistry(t, nil)
	newFaults(t, reg, &fault{method: "PATCH", path: "/blobs/uploads/", action: "stall", times: -1})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Push(ctx, randomImage(t, 1024, 1), []name.Tag{reg.ref(t, "app:v1")}, testOptions())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
