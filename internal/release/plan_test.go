package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/buildinputs"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/tagging"
)

func parse(t *testing.T, yaml string) *project.Config {
	t.Helper()
	cfg, err := project.Parse("slipway.yaml", t.TempDir(), []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var facts = tagging.Facts{InRepo: true, Commit: "abcdef0123456789", ShortCommit: "abcdef0", Branch: "main"}

func TestMakePlan(t *testing.T) {
	cfg := parse(t, `
registry: [registry.example.com:5000/team, mirror.example.com]
tags: ["{{.ShortCommit}}", "{{.Branch}}", "{{.Version}}", "{{.ShortCommit}}"]
images:
  - name: web
  - name: tools/worker
    registry: localhost:5000
    tags: [latest]
`)
	tests := []struct {
		name string
		opts PlanOptions
		want []string
		warn int
	}{
		{"all images", PlanOptions{}, []string{
			"registry.example.com:5000/team/web:abcdef0", "registry.example.com:5000/team/web:main",
			"mirror.example.com/web:abcdef0", "mirror.example.com/web:main",
			"localhost:5000/tools/worker:latest",
		}, 1},
		{"one image", PlanOptions{Only: []string{"tools/worker"}}, []string{"localhost:5000/tools/worker:latest"}, 0},
		{"registry override", PlanOptions{Only: []string{"web"}, Registries: []string{"other.example.com/x"}}, []string{
			"other.example.com/x/web:abcdef0", "other.example.com/x/web:main",
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := MakePlan(cfg, facts, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range plan.Images {
				for _, r := range img.Refs {
					got = append(got, r.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("refs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(plan.Warnings) != tt.warn {
				t.Errorf("warnings %q", plan.Warnings)
			}
		})
	}
}

func TestMakePlanErrors(t *testing.T) {
	cfg := parse(t, `
registry: registry.example.com
images:
  - name: web
    tags: ["{{.Version}}"]
  - name: api
    tags: ["{{.Branch}}/x"]
`)
	_, err := MakePlan(cfg, facts, PlanOptions{})
	var ps *project.Problems
	if !errors.As(err, &ps) || ps.ExitCode() != 2 || len(ps.Items) != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(ps.Items[0].Msg, "no tag") || ps.Items[0].Line != 4 {
		t.Errorf("empty tags: %+v", ps.Items[0])
	}
	if !strings.Contains(ps.Items[1].Msg, "{{.Branch}}/x") {
		t.Errorf("invalid tag: %+v", ps.Items[1])
	}

	_, err = MakePlan(cfg, facts, PlanOptions{Only: []string{"nope"}})
	var unknown *UnknownImageError
	if !errors.As(err, &unknown) || unknown.ExitCode() != 2 || !strings.Contains(err.Error(), "api, web") {
		t.Errorf("unknown image: %v", err)
	}
	_, err = MakePlan(cfg, facts, PlanOptions{Registries: []string{"https://x.example.com"}})
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) || coded.ExitCode() != 2 {
		t.Errorf("bad --registry: %v", err)
	}
}

func TestPublicURL(t *testing.T) {
	tests := map[string]string{
		"git@github.com:org/repo.git":                   "https://github.com/org/repo",
		"https://user:token@gitlab.example.com/g/r.git": "https://gitlab.example.com/g/r",
		"https://github.com/org/repo":                   "https://github.com/org/repo",
		"ssh://git@host.example.com/org/repo.git":       "https://host.example.com/org/repo",
		"/local/path": "",
	}
	for in, want := range tests {
		if got := publicURL(in); got != want {
			t.Errorf("publicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestsCarryGitFacts(t *testing.T) {
	cfg := parse(t, `
registry: registry.example.com
images:
  - name: web
    labels: {org.opencontainers.image.version: custom}
    secrets: [{id: tok, env: TOKEN}]
`)
	f := facts
	f.Version = "1.2.3"
	plan, err := MakePlan(cfg, f, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reqs := Requests(t.Context(), cfg, plan, Options{Getenv: func(k string) string {
		return map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/repo"}[k]
	}})
	r := reqs[0]
	if r.Annotations[annRevision] != f.Commit || r.Annotations[annVersion] != "1.2.3" || r.Annotations[annSource] != "https://github.com/org/repo" {
		t.Errorf("annotations %v", r.Annotations)
	}
	if r.Labels[annVersion] != "custom" || r.Labels[annRevision] != f.Commit {
		t.Errorf("labels %v (the user's label wins)", r.Labels)
	}
	if len(r.Secrets) != 1 || r.Secrets[0].Env != "TOKEN" {
		t.Errorf("secrets %+v", r.Secrets)
	}
}

func TestNameOptionsInsecure(t *testing.T) {
	insecure := []string{"registry.internal:5000", "cache.internal"}
	tests := []struct {
		ref, scheme string
	}{
		{"registry.internal:5000/team/web@sha256:1111111111111111111111111111111111111111111111111111111111111111", "http"},
		{"cache.internal:8443/web:1", "http"},
		{"registry.internal:6000/web:1", "https"},
		{"registry.example.com/web:1", "https"},
		{"127.0.0.1:5000/web:1", "http"},
	}
	for _, tt := range tests {
		r, err := name.ParseReference(tt.ref, nameOptions(insecure, tt.ref)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Context().Scheme(); got != tt.scheme {
			t.Errorf("%s: scheme %s, want %s", tt.ref, got, tt.scheme)
		}
	}
}

func TestRequestsUseTheImageSource(t *testing.T) {
	cfg := parse(t, `
registry: registry.example.com
images:
  - name: web
  - name: api
`)
	f := facts
	f.Version = "2.0.0"
	f.CommitTime = time.Unix(1800000000, 0).UTC()
	plan, err := MakePlan(cfg, f, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// web last changed in an older commit; api changed in HEAD.
	plan.Images[0].Source = tagging.Source{Commit: "0123456789abcdef", Time: time.Unix(1700000000, 0).UTC()}
	plan.Images[1].Source = tagging.Source{Commit: f.Commit, Time: f.CommitTime}
	reqs := Requests(t.Context(), cfg, plan, Options{Getenv: func(string) string { return "" }})
	web, api := reqs[0], reqs[1]
	if web.SourceDateEpoch != 1700000000 || web.Annotations[annRevision] != "0123456789abcdef" ||
		web.Annotations[annCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("web: epoch %d, annotations %v; want the time and commit of its own source", web.SourceDateEpoch, web.Annotations)
	}
	if v, ok := web.Annotations[annVersion]; ok {
		t.Errorf("web carries HEAD's version %q although HEAD did not change it", v)
	}
	if api.SourceDateEpoch != 1800000000 || api.Annotations[annRevision] != f.Commit || api.Annotations[annVersion] != "2.0.0" {
		t.Errorf("api: epoch %d, annotations %v; want HEAD's", api.SourceDateEpoch, api.Annotations)
	}
}

func TestInputDigest(t *testing.T) {
	ctxDir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(ctxDir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "ARG BASE=registry.example.com/base:1\nFROM $BASE AS build\nFROM scratch\nCOPY --from=build /x /x\nCOPY --from=registry.example.com/tools:2 /t /t\nCOPY app.txt /\n", 0o644)
	write("app.txt", "app\n", 0o644)
	write(".dockerignore", "ignored.txt\n", 0o644)
	in := buildinputs.Input{Context: ctxDir, Dockerfile: filepath.Join(ctxDir, "Dockerfile")}
	bases := map[string]string{
		"registry.example.com/base:1":  "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		"registry.example.com/tools:2": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
		"registry.example.com/base:2":  "sha256:3333333333333333333333333333333333333333333333333333333333333333",
	}
	var asked []string
	resolve := func(_ context.Context, ref string) (string, error) {
		asked = append(asked, ref)
		if d, ok := bases[ref]; ok {
			return d, nil
		}
		return "", fmt.Errorf("%s not found", ref)
	}
	req := builder.Request{Name: "web", Context: ctxDir, Platforms: []string{"linux/amd64"},
		Args: map[string]string{"A": "1"}, Labels: map[string]string{"l": "v"}, SourceDateEpoch: 1700000000,
		Secrets: []builder.Secret{{ID: "tok", Env: "TOKEN"}}}
	digest := func(r builder.Request) string {
		t.Helper()
		d, err := inputDigest(t.Context(), in, r, resolve)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := digest(req)
	if strings.Join(asked, " ") != "registry.example.com/base:1 registry.example.com/tools:2" {
		t.Errorf("resolved %v, want the FROM base and the COPY --from image", asked)
	}
	if again := digest(req); again != base {
		t.Errorf("same inputs: %s then %s", base, again)
	}
	write("ignored.txt", "anything\n", 0o644)
	secretFromFile := req
	secretFromFile.Secrets = []builder.Secret{{ID: "tok", Src: "/elsewhere"}}
	if d := digest(req); d != base {
		t.Error("a file .dockerignore leaves out changed the digest")
	}
	if d := digest(secretFromFile); d != base {
		t.Error("where a secret comes from changed the digest (only its id counts)")
	}

	changes := map[string]func() builder.Request{
		"content": func() builder.Request { write("app.txt", "app2\n", 0o644); return req },
		"mode":    func() builder.Request { write("app.txt", "app2\n", 0o755); return req },
		"arg":     func() builder.Request { r := req; r.Args = map[string]string{"A": "2"}; return r },
		"base arg": func() builder.Request {
			r := req
			r.Args = map[string]string{"A": "1", "BASE": "registry.example.com/base:2"}
			return r
		},
		"platform": func() builder.Request { r := req; r.Platforms = []string{"linux/arm64"}; return r },
		"label":    func() builder.Request { r := req; r.Labels = map[string]string{"l": "w"}; return r },
		"epoch":    func() builder.Request { r := req; r.SourceDateEpoch++; return r },
		"target":   func() builder.Request { r := req; r.Target = "build"; return r },
		"ssh id":   func() builder.Request { r := req; r.SSH = []string{"default"}; return r },
	}
	seen := map[string]string{base: "start"}
	for _, name := range []string{"content", "mode", "arg", "base arg", "platform", "label", "epoch", "target", "ssh id"} {
		d := digest(changes[name]())
		if prev, dup := seen[d]; dup {
			t.Errorf("a change of %s gives the digest of %s", name, prev)
		}
		seen[d] = name
	}
	write("app.txt", "app\n", 0o644)
	if d := digest(req); d != base {
		t.Fatal("the inputs put back did not give the first digest")
	}
	bases["registry.example.com/base:1"] = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
	if d := digest(req); d == base {
		t.Error("a moved base tag kept the digest")
	}
	if InputTag(base) != "inputs-"+strings.TrimPrefix(base, "sha256:")[:32] {
		t.Errorf("InputTag(%s) = %s", base, InputTag(base))
	}
}
