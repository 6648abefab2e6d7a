package project

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected .err files")

func testEnv(vars map[string]string) LookupEnv {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(f), "/project", data, testEnv(nil))
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want *Problems, got %v", err)
			}
			if ps.ExitCode() != 2 {
				t.Errorf("exit code %d, want 2", ps.ExitCode())
			}
			got := ps.Error() + "\n"
			wantFile := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoadFull(t *testing.T) {
	home, _ := os.UserHomeDir()
	cfg, err := Load("testdata/good/full.yaml", testEnv(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/good")
	if cfg.Dir != dir {
		t.Errorf("Dir = %q, want %q", cfg.Dir, dir)
	}
	if got := len(cfg.Registry); got != 2 {
		t.Fatalf("registries: %d", got)
	}
	if cfg.Registry[0].URL != "registry.example.com:5000/team" || cfg.Registry[1].URL != "mirror.example.com/team" {
		t.Errorf("registries: %+v", cfg.Registry)
	}
	if cfg.Registry[1].CAFile != filepath.Join(dir, "certs/mirror-ca.pem") {
		t.Errorf("ca_file not resolved: %q", cfg.Registry[1].CAFile)
	}
	if cfg.Buildkit.Host != "tcp://buildkit.internal:1234" {
		t.Errorf("default expansion: %q", cfg.Buildkit.Host)
	}
	web := cfg.Images[0]
	checks := []struct{ name, got, want string }{
		{"context", web.Context, filepath.Join(dir, "web")},
		{"dockerfile", web.Dockerfile, "build/Dockerfile"},
		{"target", web.Target, "runtime"},
		{"arg number kept as written", web.Args["GO_VERSION"], "1.26"},
		{"arg bool kept as written", web.Args["DEBUG"], "false"},
		{"secret src home", web.Secrets[0].Src, filepath.Join(home, ".npmrc")},
		{"secret env", web.Secrets[1].Env, "API_TOKEN"},
		{"ssh path", web.SSH[1], "deploy=" + filepath.Join(dir, "keys/deploy_key")},
		{"cache to (one string) and local dest", web.Cache.To[0], "type=local,dest=" + filepath.Join(dir, ".cache/web") + ",mode=max"},
		{"cache from registry untouched", web.Cache.From[0], "type=registry,ref=registry.example.com:5000/team/web:cache"},
		{"sign key", cfg.Sign.Key, filepath.Join(dir, "cosign.key")},
		{"kustomization", cfg.Manifests[1].Kustomization, filepath.Join(dir, "deploy/overlays/prod/kustomization.yaml")},
		{"rule", cfg.Manifests[2].Rules[0].Tag, "image.tag"},
		{"tags template", cfg.Tags[3], `{{ env "EXTRA" | default "x" }}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	worker := cfg.Images[1]
	if worker.Context != dir || worker.Dockerfile != "Dockerfile" {
		t.Errorf("defaults: context %q dockerfile %q", worker.Context, worker.Dockerfile)
	}
	if got := cfg.RegistriesFor(worker); len(got) != 1 || got[0].URL != "localhost:5000" {
		t.Errorf("per-image registry: %+v", got)
	}
	if got := cfg.TagsFor(worker); !reflect.DeepEqual(got, []string{"latest"}) {
		t.Errorf("per-image tags: %v", got)
	}
	if got := cfg.TagsFor(web); len(got) != 4 {
		t.Errorf("project tags for web: %v", got)
	}
	if line := web.Loc.Line; line != 15 {
		t.Errorf("image position line %d, want 15", line)
	}
}

func TestExpand(t *testing.T) {
	env := testEnv(map[string]string{"SET": "value", "EMPTY": ""})
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${SET}", want: "value"},
		{in: "a-${SET}-b", want: "a-value-b"},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${SET:-fallback}", want: "value"},
		{in: "$$5 and $HOME stay", want: "$5 and $HOME stay"},
		{in: "{{ $x := .Commit }}{{ $x }}", want: "{{ $x := .Commit }}{{ $x }}"},
		{in: "${UNSET}", err: "environment variable UNSET is not set"},
		{in: "${SET", err: "unclosed ${"},
		{in: "${}", err: "invalid variable name"},
		{in: "trailing $", want: "trailing $"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expand(tt.in, env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "slipway.yaml"), nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestValidateImageName(t *testing.T) {
	good := []string{"web", "team/tools/worker", "a1", "my-app", "my_app", "my.app", "a__b"}
	bad := []string{"Web", "-web", "web-", "team//x", "/web", "web/", "we b", "web:tag", "web@sha256"}
	for _, n := range good {
		if err := ValidateImageName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateImageName(n); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml"} {
		files, _ := filepath.Glob(g)
		for _, file := range files {
			data, _ := os.ReadFile(file)
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", "/project", data, testEnv(map[string]string{"A": "1"}))
		if err == nil && (cfg == nil || len(cfg.Images) == 0) {
			t.Fatalf("no error but no images")
		}
		var ps *Problems
		if err != nil && errors.As(err, &ps) && len(ps.Items) == 0 {
			t.Fatalf("empty problems returned as error")
		}
	})
}

// A platform no node declares is an error at load, unless BUILDKIT_HOST
// (or --buildkit-host, passed the same way) names one daemon for all.
func TestUndeclaredPlatformAndBuildkitHost(t *testing.T) {
	const yaml = "registry: localhost:5000/t\nbuildkit:\n  nodes:\n    - {host: \"unix:///run/s390x.sock\", platforms: [linux/s390x]}\nimages:\n  - name: web\n    platforms: [linux/riscv64]\n"
	_, err := Parse("slipway.yaml", t.TempDir(), []byte(yaml), nil)
	if err == nil || !strings.Contains(err.Error(), "slipway.yaml:7:17: images[0].platforms[0]: no buildkit.nodes entry declares linux/riscv64") {
		t.Fatalf("without a host: %v", err)
	}
	env := func(k string) (string, bool) {
		if k == "BUILDKIT_HOST" {
			return "tcp://buildkit.example.com:1234", true
		}
		return "", false
	}
	if _, err := Parse("slipway.yaml", t.TempDir(), []byte(yaml), env); err != nil {
		t.Errorf("with BUILDKIT_HOST: %v", err)
	}
}
