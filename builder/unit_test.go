package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/slipway-build/slipway/internal/testenv"
)

func TestPreflight(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"web/Dockerfile":        "FROM scratch\n",
		"api/docker/Dockerfile": "FROM scratch\n",
		"npmrc":                 "token",
		"ssh/key":               "key",
	})
	ok := Request{Name: "web", Context: filepath.Join(dir, "web")}
	env := map[string]string{"API_TOKEN": "t", "SSH_AUTH_SOCK": "/run/agent.sock"}
	getenv := func(k string) string { return env[k] }

	tests := []struct {
		name string
		reqs []Request
		want []string // one per problem, in order; nil: no error
	}{
		{name: "valid", reqs: []Request{
			ok,
			{Name: "api", Context: filepath.Join(dir, "api"), Dockerfile: "docker/Dockerfile",
				Platforms: []string{"linux/amd64", "linux/arm64"},
				Secrets:   []Secret{{ID: "npmrc", Src: filepath.Join(dir, "npmrc")}, {ID: "token", Env: "API_TOKEN"}},
				SSH:       []string{"default", "deploy=" + filepath.Join(dir, "ssh/key")},
				CacheFrom: []string{"type=registry,ref=127.0.0.1:5000/cache", "type=local,src=" + dir},
				CacheTo:   []string{"type=local,dest=" + dir + ",mode=max"}},
		}},
		{name: "missing context", reqs: []Request{{Name: "web", Context: filepath.Join(dir, "nope")}},
			want: []string{"image web: context directory DIR/nope does not exist"}},
		{name: "missing Dockerfile", reqs: []Request{{Name: "web", Context: filepath.Join(dir, "web"), Dockerfile: "Dockerfile.prod"}},
			want: []string{"image web: Dockerfile DIR/web/Dockerfile.prod does not exist"}},
		{name: "context is a file", reqs: []Request{{Name: "web", Context: filepath.Join(dir, "npmrc")}},
			want: []string{"image web: context DIR/npmrc is not a directory"}},
		{name: "secrets", reqs: []Request{{Name: "web", Context: ok.Context, Secrets: []Secret{
			{ID: "npmrc", Src: filepath.Join(dir, "missing")},
			{ID: "token", Env: "UNSET_TOKEN"},
			{ID: "both", Src: "x", Env: "y"},
			{ID: "none"},
			{Src: "x"},
		}}}, want: []string{
			"image web: secret npmrc: file DIR/missing does not exist",
			"image web: secret token: environment variable UNSET_TOKEN is not set",
			"image web: secret both has both a file and an environment variable",
			"image web: secret none has neither a file nor an environment variable",
			"image web: a secret has no id",
		}},
		{name: "names", reqs: []Request{ok, ok, {Context: ok.Context}}, want: []string{
			"image web: built twice in one run",
			"image #3: no name",
		}},
		{name: "specs", reqs: []Request{{Name: "web", Context: ok.Context,
			Platforms: []string{"linux/amd64", "plan9//"},
			SSH:       []string{"deploy=" + filepath.Join(dir, "nokey")},
			CacheFrom: []string{"type=local"},
			CacheTo:   []string{"type=floppy,dest=a", "type=registry,ref=x,mode=all"},
		}}, want: []string{
			"image web: ssh deploy=DIR/nokey: DIR/nokey does not exist",
			`image web: cache-from "type=local": type=local needs src=`,
			`image web: cache-to "type=floppy,dest=a": unknown cache type "floppy"`,
			`image web: cache-to "type=registry,ref=x,mode=all": mode=all: want min or max`,
			`image web: platform "plan9//": `,
		}},
		{name: "ssh agent missing", reqs: []Request{{Name: "web", Context: ok.Context, SSH: []string{"default"}}},
			want: []string{"image web: ssh default: no path given and SSH_AUTH_SOCK is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ge := getenv
			if tt.name == "ssh agent missing" {
				ge = func(string) string { return "" }
			}
			err := Preflight(tt.reqs, ge)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), dir, "DIR"), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestPreflightGolden pins the whole message a run with several broken
// images gets: every problem, one per line, in request order.
func TestPreflightGolden(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"web/Dockerfile": "FROM scratch\n"})
	reqs := []Request{
		{Name: "web", Context: filepath.Join(dir, "web"), Secrets: []Secret{{ID: "npmrc", Src: filepath.Join(dir, "npmrc")}}},
		{Name: "api", Context: filepath.Join(dir, "api"), Secrets: []Secret{{ID: "token", Env: "API_TOKEN"}}},
		{Name: "worker", Context: filepath.Join(dir, "web"), Dockerfile: "worker.Dockerfile", CacheTo: []string{"type=local"}},
	}
	err := Preflight(reqs, func(string) string { return "" })
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.ReplaceAll(err.Error(), dir, "DIR") + "\n"
	golden := filepath.Join("testdata", "preflight.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Preflight message:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseCacheSpec(t *testing.T) {
	abs, _ := filepath.Abs("cache")
	tests := []struct {
		spec   string
		export bool
		want   client.CacheOptionsEntry
	}{
		{spec: "registry.example.com/team/web:cache",
			want: client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": "registry.example.com/team/web:cache"}}},
		{spec: "type=registry,ref=r/c,mode=max", export: true,
			want: client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": "r/c", "mode": "max"}}},
		{spec: "type=local,src=cache",
			want: client.CacheOptionsEntry{Type: "local", Attrs: map[string]string{"src": abs}}},
		{spec: "type=local,dest=cache,mode=max", export: true,
			want: client.CacheOptionsEntry{Type: "local", Attrs: map[string]string{"dest": abs, "mode": "max"}}},
		{spec: "type=inline", export: true,
			want: client.CacheOptionsEntry{Type: "inline", Attrs: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := parseCacheSpec(tt.spec, tt.export)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAttrs(t *testing.T) {
	r := Request{
		Name: "web", Context: "web", Dockerfile: "build/Dockerfile.prod", Target: "runtime",
		Platforms: []string{"linux/amd64", "linux/arm64/v8"},
		Args:      map[string]string{"GO_VERSION": "1.26"},
		Labels:    map[string]string{"team": "a"},
		NoCache:   true, Pull: true, SourceDateEpoch: 1700000000,
		Annotations: map[string]string{"org.opencontainers.image.revision": "abc"},
	}
	wantFrontend := map[string]string{
		"filename": "Dockerfile.prod", "target": "runtime", "platform": "linux/amd64,linux/arm64",
		"build-arg:GO_VERSION": "1.26", "label:team": "a", "no-cache": "", "image-resolve-mode": "pull",
		"build-arg:SOURCE_DATE_EPOCH": "1700000000",
	}
	if got := r.frontendAttrs(); !reflect.DeepEqual(got, wantFrontend) {
		t.Errorf("frontend attrs = %v\nwant %v", got, wantFrontend)
	}
	wantExport := map[string]string{
		"tar": "false", "oci-mediatypes": "true", "rewrite-timestamp": "true",
		"annotation.org.opencontainers.image.revision":       "abc",
		"annotation-index.org.opencontainers.image.revision": "abc",
	}
	if got := r.exportAttrs(); !reflect.DeepEqual(got, wantExport) {
		t.Errorf("export attrs = %v\nwant %v", got, wantExport)
	}
}

func TestAddPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"[2/3] RUN make":                "[web 2/3] RUN make",
		"[internal] load .dockerignore": "[web internal] load .dockerignore",
		"exporting to oci image format": "[web] exporting to oci image format",
	} {
		if got := addPrefix("web", in); got != want {
			t.Errorf("addPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHints(t *testing.T) {
	inner := withHints(errors.New("buildkitd not found"), "run make tools, or set BUILDKIT_HOST")
	err := fmt.Errorf("starting buildkitd: %w", errors.Join(inner, withHints(errors.New("x"), "second", "run make tools, or set BUILDKIT_HOST")))
	want := []string{"run make tools, or set BUILDKIT_HOST", "second"}
	if got := Hints(err); !reflect.DeepEqual(got, want) {
		t.Errorf("Hints = %q, want %q", got, want)
	}
	if Hints(errors.New("plain")) != nil {
		t.Error("hints from a plain error")
	}
}

func TestMissingPrograms(t *testing.T) {
	empty := t.TempDir()
	fake := filepath.Join(empty, "buildkitd")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		buildkitd string
		euid      int
		want      error
		hint      string
	}{
		{name: "no buildkitd", buildkitd: filepath.Join(empty, "nope"), want: ErrNoBuildkitd, hint: hintTools},
		{name: "no runc", buildkitd: fake, want: ErrNoRunc, hint: hintTools},
	}
	t.Setenv("PATH", empty)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := findPrograms(tt.buildkitd, tt.euid)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if h := Hints(err); len(h) == 0 || h[len(h)-1] != tt.hint {
				t.Errorf("hints = %q, want last %q", h, tt.hint)
			}
		})
	}
	t.Run("Connect fails before starting", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "root")
		_, err := Connect(context.Background(), ConnectOptions{Buildkitd: fake, Root: root})
		if !errors.Is(err, ErrNoRunc) {
			t.Fatalf("err = %v", err)
		}
		if _, serr := os.Stat(root); !os.IsNotExist(serr) {
			t.Error("root created although nothing could start")
		}
	})
	t.Run("rootless without rootlesskit", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(empty, "runc"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := findPrograms(fake, 1000)
		if !errors.Is(err, ErrNoRootlesskit) {
			t.Fatalf("err = %v", err)
		}
		for _, w := range []string{"rootlesskit", "newuidmap", "newgidmap"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not name %s: %v", w, err)
			}
		}
		if h := strings.Join(Hints(err), "\n"); !strings.Contains(h, "apt-get install -y rootlesskit uidmap") {
			t.Errorf("hints do not say what to install: %q", h)
		}
	})
}

func TestDaemonArgs(t *testing.T) {
	p := programs{buildkitd: "/b/buildkitd"}
	want := []string{"/b/buildkitd", "--root", "/r", "--addr", "unix:///s/buildkitd.sock", "--oci-worker=true", "--containerd-worker=false"}
	if got := daemonArgs(p, "/r", "/s/buildkitd.sock"); !reflect.DeepEqual(got, want) {
		t.Errorf("root: %q", got)
	}
	p.rootlesskit = "/usr/bin/rootlesskit"
	if got := daemonArgs(p, "/r", "/s/buildkitd.sock"); !reflect.DeepEqual(got, append([]string{"/usr/bin/rootlesskit"}, want...)) {
		t.Errorf("rootless: %q", got)
	}
}

func TestUnreachableAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("dials")
	}
	port := testenv.FreePort(t)
	for _, addr := range []string{
		fmt.Sprintf("tcp://127.0.0.1:%d", port),
		"unix://" + filepath.Join(t.TempDir(), "none.sock"),
	} {
		t.Run(addr, func(t *testing.T) {
			start := time.Now()
			_, err := Connect(context.Background(), ConnectOptions{Address: addr, StartTimeout: 20 * time.Second})
			if err == nil {
				t.Fatal("connected to nothing")
			}
			msg := err.Error()
			if !strings.Contains(msg, "connecting to BuildKit at "+addr) {
				t.Errorf("error does not say where: %v", err)
			}
			if strings.Contains(msg, "rpc error: code =") {
				t.Errorf("raw gRPC error: %v", err)
			}
			if len(Hints(err)) == 0 {
				t.Error("no hint")
			}
			// Not a wall-clock assertion on speed: only that it did not
			// wait for the whole timeout, i.e. it failed rather than hung.
			if time.Since(start) >= 20*time.Second {
				t.Error("waited for the timeout instead of failing")
			}
			t.Log(err)
		})
	}
}

func TestCacheOptions(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name             string
		from, to         []string
		env              map[string]string
		wantFrom, wantTo []client.CacheOptionsEntry
		warnings         int
	}{
		{name: "registry export gets the settings registries accept",
			from: []string{"type=registry,ref=r/c"}, to: []string{"type=registry,ref=r/c,mode=max"},
			wantFrom: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "r/c"}}},
			wantTo: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "r/c", "mode": "max",
				"oci-mediatypes": "true", "image-manifest": "true"}}}},
		{name: "the user's registry settings win",
			to:     []string{"type=registry,ref=r/c,oci-mediatypes=false"},
			wantTo: []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "r/c", "oci-mediatypes": "false"}}}},
		{name: "gha v1",
			from: []string{"type=gha"}, to: []string{"type=gha,mode=max,scope=mine"},
			env:      map[string]string{"ACTIONS_RUNTIME_TOKEN": "ghs_s3cret", "ACTIONS_CACHE_URL": "https://cache/", "ACTIONS_RESULTS_URL": "https://results/"},
			wantFrom: []client.CacheOptionsEntry{{Type: "gha", Attrs: map[string]string{"token": "ghs_s3cret", "url": "https://cache/", "scope": "web"}}},
			wantTo:   []client.CacheOptionsEntry{{Type: "gha", Attrs: map[string]string{"token": "ghs_s3cret", "url": "https://cache/", "scope": "mine", "mode": "max"}}}},
		{name: "gha results url only",
			from:     []string{"type=gha"},
			env:      map[string]string{"ACTIONS_RUNTIME_TOKEN": "ghs_s3cret", "ACTIONS_RESULTS_URL": "https://results/"},
			wantFrom: []client.CacheOptionsEntry{{Type: "gha", Attrs: map[string]string{"token": "ghs_s3cret", "url": "https://results/", "scope": "web"}}}},
		{name: "gha v2",
			to:  []string{"type=gha"},
			env: map[string]string{"ACTIONS_RUNTIME_TOKEN": "ghs_s3cret", "ACTIONS_RESULTS_URL": "https://results/", "ACTIONS_CACHE_SERVICE_V2": "True"},
			wantTo: []client.CacheOptionsEntry{{Type: "gha", Attrs: map[string]string{"token": "ghs_s3cret", "version": "2",
				"url_v2": "https://results/", "url": "https://results/", "scope": "web"}}}},
		{name: "gha without a token is skipped with a warning",
			from: []string{"type=gha"}, to: []string{"type=gha,mode=max", "type=registry,ref=r/c"},
			env:      map[string]string{"ACTIONS_CACHE_URL": "https://cache/"},
			wantTo:   []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": "r/c", "oci-mediatypes": "true", "image-manifest": "true"}}},
			warnings: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Request{Name: "web", CacheFrom: tt.from, CacheTo: tt.to}
			from, to, warnings, err := cacheOptions(r, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(from, tt.wantFrom) {
				t.Errorf("imports %+v\nwant %+v", from, tt.wantFrom)
			}
			if !reflect.DeepEqual(to, tt.wantTo) {
				t.Errorf("exports %+v\nwant %+v", to, tt.wantTo)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
			for _, w := range warnings {
				if strings.Contains(w, "ghs_s3cret") {
					t.Errorf("warning %q shows the token", w)
				}
			}
		})
	}
}
