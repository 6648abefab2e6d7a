package scaffold

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestScanShop(t *testing.T) {
	p, err := Scan(context.Background(), "testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range p.Images {
		names = append(names, img.Name+"="+img.Context+"/"+img.Dockerfile)
	}
	// vendor/ and node_modules/ hold Dockerfiles too: they are skipped.
	if want := []string{"web=services/web/Dockerfile", "worker=services/worker/Containerfile", "migrate=tools/migrate.Dockerfile"}; !reflect.DeepEqual(names, want) {
		t.Errorf("images = %q, want %q", names, want)
	}
	if p.Registry != "registry.example.com/shop" || p.Votes != 5 || p.Total != 6 {
		t.Errorf("registry = %q (%d of %d), want registry.example.com/shop (5 of 6)", p.Registry, p.Votes, p.Total)
	}
	if want := []string{"deploy"}; !reflect.DeepEqual(p.Dirs, want) {
		t.Errorf("dirs = %q, want %q (config/settings.yaml and chart templates are not manifests)", p.Dirs, want)
	}
	if len(p.Kustomizations) != 2 {
		t.Errorf("kustomizations = %q", p.Kustomizations)
	}
	if len(p.Charts) != 1 || len(p.Charts[0].Values) != 1 {
		t.Fatalf("charts = %+v", p.Charts)
	}
	// The chart's redis image is not the project's: no rule for it.
	if got, want := p.Charts[0].Values[0].Rules, []Rule{{Repository: "image.repository", Tag: "image.tag", Value: "registry.example.com/shop/web"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rules = %+v, want %+v", got, want)
	}
	checks := strings.Join(p.Checks(), "\n")
	if !strings.Contains(checks, "5 of 6 references") {
		t.Errorf("checks do not mention the disagreeing reference:\n%s", checks)
	}

	data, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "shop.slipway.yaml")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(want) {
		t.Errorf("rendered file differs from %s (go test -update rewrites it):\n%s", golden, data)
	}
	cfg, err := project.Parse("slipway.yaml", p.Root, data, nil)
	if err != nil {
		t.Fatalf("the written file does not load: %v", err)
	}
	if len(cfg.Images) != 3 || cfg.Images[1].Dockerfile != "Containerfile" || len(cfg.Manifests) != 2 || len(cfg.Manifests[1].Rules) != 1 {
		t.Errorf("loaded config: %+v", cfg)
	}
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanCases(t *testing.T) {
	t.Run("nothing found", func(t *testing.T) {
		dir := t.TempDir()
		p, err := Scan(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := Render(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if !strings.Contains(s, "registry: "+PlaceholderRegistry) || !strings.Contains(s, "- name: app") || strings.Contains(s, "manifests:") {
			t.Errorf("placeholder file:\n%s", s)
		}
		if c := strings.Join(p.Checks(), "\n"); !strings.Contains(c, "no Dockerfile") || !strings.Contains(c, "manifests: none found") {
			t.Errorf("checks: %s", c)
		}
	})
	t.Run("root Dockerfile and root manifest", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "My App")
		write(t, dir, map[string]string{
			"Dockerfile":  "FROM scratch\n",
			"deploy.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n    - name: x\n      image: ghcr.io/acme/my-app:1\n",
			".git/x.yaml": "apiVersion: v1\nkind: Pod\n",
		})
		p, err := Scan(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Images) != 1 || p.Images[0].Name != "my-app" || p.Images[0].Context != "." {
			t.Fatalf("images = %+v", p.Images)
		}
		if p.Registry != "ghcr.io/acme" || !reflect.DeepEqual(p.Files, []string{"deploy.yaml"}) || len(p.Dirs) != 0 {
			t.Errorf("registry %q files %q dirs %q", p.Registry, p.Files, p.Dirs)
		}
		if _, err := Render(p); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("clashing names", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, map[string]string{
			"a/api/Dockerfile": "FROM scratch\n",
			"b/api/Dockerfile": "FROM scratch\n",
		})
		p, err := Scan(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Images) != 2 || p.Images[0].Name != "api" || p.Images[1].Name != "b-api" {
			t.Errorf("images = %+v", p.Images)
		}
	})
}

// TestScanRealWorld runs Scan on a public project's manifests (podinfo: a
// kustomize tree, a plain folder and a Helm chart), with a Dockerfile
// added at its root.
func TestScanRealWorld(t *testing.T) {
	src := realWorld(t, "stefanprodan+podinfo")
	dir := filepath.Join(t.TempDir(), "podinfo")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	write(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	p, err := Scan(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Registry != "ghcr.io/stefanprodan" {
		t.Errorf("registry = %q, want ghcr.io/stefanprodan", p.Registry)
	}
	if !reflect.DeepEqual(p.Dirs, []string{"deploy", "kustomize"}) {
		t.Errorf("dirs = %q", p.Dirs)
	}
	if len(p.Charts) != 1 || p.Charts[0].Dir != "charts/podinfo" || len(p.Charts[0].Values) == 0 || p.Charts[0].Values[0].Rules[0].Repository != "image.repository" {
		t.Errorf("charts = %+v", p.Charts)
	}
	if _, err := Render(p); err != nil {
		t.Fatal(err)
	}
}

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slipway.yaml")
	if err := Write(path, []byte("a: 1\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("b: 2\n"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "a: 1\n" {
		t.Errorf("refused write changed the file: %q", b)
	}
	if err := Write(path, []byte("b: 2\n"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "b: 2\n" {
		t.Errorf("forced write: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".slipway-init-*")); len(m) != 0 {
		t.Errorf("temporary files left: %q", m)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"web": "web", "services/web/": "services/web/", "{{.Version}}": `"{{.Version}}"`,
		"true": `"true"`, "1.0": `"1.0"`, "-x": `"-x"`, "a: b": `"a: b"`, "": `""`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestScanRealWorldMicroservices: Online Boutique's manifests name its
// eleven services both bare (kubernetes-manifests/, rewritten by
// Skaffold) and with their registry (release/); with a Dockerfile per
// service under src/, the registry is the one the full references use.
func TestScanRealWorldMicroservices(t *testing.T) {
	src := realWorld(t, "GoogleCloudPlatform+microservices-demo")
	dir := filepath.Join(t.TempDir(), "boutique")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	services := []string{"adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice", "frontend",
		"loadgenerator", "paymentservice", "productcatalogservice", "recommendationservice", "shippingservice"}
	files := map[string]string{}
	for _, s := range services {
		files["src/"+s+"/Dockerfile"] = "FROM scratch\n"
	}
	write(t, dir, files)
	p, err := Scan(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Images) != len(services) {
		t.Fatalf("images = %+v", p.Images)
	}
	if want := "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo"; p.Registry != want {
		t.Errorf("registry = %q, want %q (%d of %d)", p.Registry, want, p.Votes, p.Total)
	}
	if p.Votes != p.Total {
		t.Errorf("bare names voted: %d of %d", p.Votes, p.Total)
	}
	if _, err := Render(p); err != nil {
		t.Fatal(err)
	}
}

// realWorld finds a folder of the public manifests collection that sits
// beside the checkout (or beside the folder of worktrees); it is read,
// never copied into the repository.
func realWorld(t *testing.T, name string) string {
	t.Helper()
	for _, up := range []string{"..", filepath.Join("..", "..")} {
		p := filepath.Join(testenv.RepoRoot(t), up, "shared", "realworld", "in", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no real-world manifests beside the checkout")
	return ""
}
