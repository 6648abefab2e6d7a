package lint

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/access"
)

// TestOnline: with a registry, BuildKit's checks see the base image's real
// config and base-size measures it; offline neither happens.
func TestOnline(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	base, err := random.Image(3<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{"PATH=/usr/bin:/bin", "APP_HOME=/opt/app"}
	if base, err = mutate.ConfigFile(base, cf); err != nil {
		t.Fatal(err)
	}
	ref := host + "/base:1.0"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, base); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(p, []byte("FROM "+ref+"\nCOPY app $APP_HOME/app\nUSER 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	df := Dockerfile{Path: p, Shown: "Dockerfile", Platforms: []string{"linux/amd64"}}
	cfg := Config{MaxBaseMB: 1}

	off, err := Run(context.Background(), Request{Dockerfiles: []Dockerfile{df}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(off.Findings); got["UndefinedVar"] == 0 || got[RuleBaseSize] != 0 {
		t.Errorf("offline: %v", off.Findings)
	}
	if len(off.Notes) != 1 || !strings.Contains(off.Notes[0], "base-size not checked: offline") {
		t.Errorf("offline notes %q", off.Notes)
	}

	a, err := access.New(nil, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	on, err := Run(context.Background(), Request{Dockerfiles: []Dockerfile{df}, Config: cfg, Registry: RemoteRegistry{Access: a}})
	if err != nil {
		t.Fatal(err)
	}
	got := rulesOf(on.Findings)
	if got["UndefinedVar"] != 0 {
		t.Errorf("online, the base's ENV APP_HOME is defined: %v", on.Findings)
	}
	if got[RuleBaseSize] != Warning {
		t.Errorf("online: no base-size for a 3 MB base over max-base-mb 1: %v (notes %q)", on.Findings, on.Notes)
	}
}
