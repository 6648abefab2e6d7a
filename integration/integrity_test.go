package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/testenv"
)

// writeFiles writes files below dir, making folders as needed.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// imagePaths lists every file path in the layers of a store image.
func imagePaths(t *testing.T, st *store.Store, image string) []string {
	t.Helper()
	img, err := st.Image(image)
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(h.Name, "/"))
	}
	sort.Strings(out)
	return out
}

var cacheEnv = func() []string { return []string{"XDG_CACHE_HOME=" + cacheHome} }

// A report is a contract by digest: push --from pushes what the report's
// build made, or fails naming the digest when the store lost it.
func TestReportIsAContractByDigest(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "runc")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := gitProject(t, map[string]string{
		"slipway.yaml":    fmt.Sprintf("registry: %s/team\nimages:\n  - name: web\n    args: {V: one}\n", reg.Host),
		"Dockerfile":      "FROM scratch\nARG V\nCOPY payload-${V}.txt /payload.txt\n",
		"payload-one.txt": "one\n", "payload-two.txt": "two\n",
		".gitignore": "*.json\n",
	})
	env := cacheEnv()
	r := slipway(t, dir, env, "build", "--progress", "quiet", "--report", "a.json")
	if r.code != 0 {
		t.Fatalf("build a: exit %d\n%s", r.code, r.stderr)
	}
	a := readReport(t, filepath.Join(dir, "a.json"))
	if len(a.Images) != 1 || a.Images[0].Digest == "" {
		t.Fatalf("report a: %+v", a.Images)
	}
	digestA := a.Images[0].Digest

	// push --from a.json while the store still holds A: A is pushed.
	r = slipway(t, dir, env, "push", "--progress", "quiet", "--from", "a.json", "--report", "p.json")
	if r.code != 0 {
		t.Fatalf("push --from a.json: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "@"+digestA) {
		t.Errorf("push --from a.json printed %q, want digest %s", r.stdout, digestA)
	}
	checkResolves(t, reg, authn.Anonymous, digestA, a.Images[0].Refs...)

	// Another build of the same name replaces A in the store.
	writeFiles(t, dir, map[string]string{"slipway.yaml": fmt.Sprintf("registry: %s/team\nimages:\n  - name: web\n    args: {V: two}\n", reg.Host)})
	git(t, dir, "commit", "-qam", "two")
	r = slipway(t, dir, env, "build", "--progress", "quiet", "--report", "b.json")
	if r.code != 0 {
		t.Fatalf("build b: exit %d\n%s", r.code, r.stderr)
	}
	digestB := readReport(t, filepath.Join(dir, "b.json")).Images[0].Digest
	if digestB == digestA {
		t.Fatal("the second build made the same digest; the test needs two")
	}
	r = slipway(t, dir, env, "push", "--progress", "quiet", "--from", "a.json")
	if r.code != 1 {
		t.Fatalf("push --from a.json after another build: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "image web") || !strings.Contains(r.stderr, digestA) {
		t.Errorf("the error does not name the image and the report's digest:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, digestB) {
		t.Errorf("push --from a.json pushed the other build: %s", r.stdout)
	}
	// The tags of A still point at A.
	checkResolves(t, reg, authn.Anonymous, digestA, a.Images[0].Refs...)

	// The report's store is honoured: build into another store, push from its report.
	other := filepath.Join(t.TempDir(), "store")
	r = slipway(t, dir, env, "build", "--progress", "quiet", "--store", other, "--report", "c.json")
	if r.code != 0 {
		t.Fatalf("build --store: exit %d\n%s", r.code, r.stderr)
	}
	c := readReport(t, filepath.Join(dir, "c.json"))
	if c.Images[0].Store != other {
		t.Errorf("report store = %q, want %q", c.Images[0].Store, other)
	}
	r = slipway(t, dir, env, "push", "--progress", "quiet", "--from", "c.json")
	if r.code != 0 {
		t.Fatalf("push --from a report of another store: exit %d\n%s", r.code, r.stderr)
	}
	checkResolves(t, reg, authn.Anonymous, c.Images[0].Digest, c.Images[0].Refs...)
}

// An image is dirty only when its own build inputs changed.
func TestDirtyIsJudgedPerImage(t *testing.T) {
	testenv.RequireTools(t)
	dir := gitProject(t, map[string]string{
		"slipway.yaml": `registry: localhost:5000/team
images:
  - name: api
    context: api
  - name: web
    context: web
  - name: root
manifests:
  - paths: [deploy/]
sign:
  key: cosign.key
`,
		"api/Dockerfile": "FROM scratch\nCOPY . /\n", "api/main.go": "package main\n",
		"web/Dockerfile": "FROM scratch\nCOPY . /\n", "web/index.html": "<p>\n", "web/.dockerignore": "*.md\n",
		"Dockerfile":             "FROM scratch\nCOPY . /\n",
		"deploy/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: localhost:5000/team/web:old\n",
	})
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	tags := func() map[string]string {
		t.Helper()
		r := slipway(t, dir, nil, "tags", "--debug")
		if r.code != 0 {
			t.Fatalf("tags: exit %d\n%s", r.code, r.stderr)
		}
		out := map[string]string{}
		for _, line := range strings.Fields(r.stdout) {
			repo, tag, _ := strings.Cut(strings.TrimPrefix(line, "localhost:5000/team/"), ":")
			out[repo] = tag
		}
		return out
	}
	clean := map[string]string{"api": short, "web": short, "root": short}
	if got := tags(); fmt.Sprint(got) != fmt.Sprint(clean) {
		t.Fatalf("clean tree: tags %v, want %v", got, clean)
	}

	// What slipway itself writes never makes an image dirty: a bumped
	// manifest, the key pair, a report; nor does a file .dockerignore drops.
	writeFiles(t, dir, map[string]string{
		"deploy/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: localhost:5000/team/web:" + short + "\n",
		"cosign.key":             "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
		"cosign.pub":             "-----BEGIN PUBLIC KEY-----\n",
		"build.json":             `{"schemaVersion": 1, "command": "build", "images": []}`,
		"web/TODO.md":            "later\n",
	})
	got := tags()
	if got["api"] != short || got["web"] != short {
		t.Errorf("after slipway's own writes: tags %v, want api and web clean (%s)", got, short)
	}
	// The root image's context is the whole tree: web/TODO.md is in it.
	if got["root"] != short+"-dirty" {
		t.Errorf("root image: tag %s, want %s-dirty (web/TODO.md is in its context)", got["root"], short)
	}

	// An edit under api/ makes api dirty and leaves web alone; --debug names it.
	writeFiles(t, dir, map[string]string{"api/main.go": "package main // edited\n"})
	r := slipway(t, dir, nil, "tags", "--debug")
	if !strings.Contains(r.stdout, "localhost:5000/team/api:"+short+"-dirty\n") || !strings.Contains(r.stdout, "localhost:5000/team/web:"+short+"\n") {
		t.Errorf("after an api edit:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "image api is dirty: api/main.go") {
		t.Errorf("--debug does not name the file that made api dirty:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "warning: image api: uncommitted changes in its build inputs (api/main.go)") {
		t.Errorf("no -dirty warning naming the file:\n%s", r.stderr)
	}
}

// slipway's own files never reach the build context, so the image does not
// grow with the store, and the signing key is never baked in.
func TestOwnFilesStayOutOfTheContext(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	dir := gitProject(t, map[string]string{
		"slipway.yaml":           "registry: localhost:5000/team\nimages: [{name: app}]\nmanifests: [{paths: [deploy/]}]\nsign: {key: cosign.key}\n",
		"Dockerfile":             "FROM scratch\nCOPY . /app/\n",
		"main.txt":               "code\n",
		"deploy/deployment.yaml": "kind: Deployment\n",
		".gitignore":             "cosign.key\n",
	})
	writeFiles(t, dir, map[string]string{"cosign.key": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n", "cosign.pub": "pub\n"})
	env := cacheEnv()
	var sizes []int
	for i := 0; i < 2; i++ {
		r := slipway(t, dir, env, "build", "--progress", "quiet", "--debug", "--report", "build.json")
		if r.code != 0 {
			t.Fatalf("build %d: exit %d\n%s", i, r.code, r.stderr)
		}
		if i == 0 && !strings.Contains(r.stderr, "leaves out slipway's own files") {
			t.Errorf("--debug does not say which files are left out:\n%s", r.stderr)
		}
		st, err := store.Open(filepath.Join(dir, ".slipway", "store"))
		if err != nil {
			t.Fatal(err)
		}
		paths := imagePaths(t, st, "app")
		sizes = append(sizes, len(paths))
		for _, p := range paths {
			if strings.HasPrefix(p, "app/.slipway") || p == "app/cosign.key" || p == "app/cosign.pub" || strings.HasPrefix(p, "app/deploy") || p == "app/build.json" {
				t.Errorf("build %d: the image holds slipway's own file %s", i, p)
			}
		}
		if !contains(paths, "app/main.txt") || !contains(paths, "app/Dockerfile") {
			t.Errorf("build %d: the image lacks the project's files: %v", i, paths)
		}
	}
	if sizes[0] != sizes[1] {
		t.Errorf("the image changed between builds: %d then %d files", sizes[0], sizes[1])
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A failed build's report lists only the images of the project.
func TestFailedBuildReportHasOnlyRealImages(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	dir := gitProject(t, map[string]string{
		"slipway.yaml":   "registry: localhost:5000/team\nimages:\n  - name: good\n  - name: bad\n    dockerfile: Bad.Dockerfile\n",
		"Dockerfile":     "FROM scratch\nCOPY a.txt /\n",
		"Bad.Dockerfile": "FROM scratch\nCOPY missing.txt /\n",
		"a.txt":          "a\n",
	})
	r := slipway(t, dir, cacheEnv(), "build", "--progress", "quiet", "--report", "r.json")
	if r.code != 1 {
		t.Fatalf("build: exit %d, want 1\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, img := range rep.Images {
		if img.Name != "good" && img.Name != "bad" {
			t.Errorf("report lists an image %q: %s", img.Name, data)
		}
	}
}

// A registry that refuses connections is retried like a 503: a push that
// starts while it restarts succeeds, one that never sees it come back says
// how often it tried.
func TestPushRetriesARefusedConnection(t *testing.T) {
	testenv.RequireTools(t, "registry")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir, digest := builtProject(t, fmt.Sprintf("registry: %s/team\ntags: [\"{{.ShortCommit}}\"]\nimages: [{name: web}]\n", reg.Host))
	reg.Stop()

	r := slipway(t, dir, nil, "push", "--progress", "plain", "--retries", "2")
	if r.code != 1 {
		t.Fatalf("push to a stopped registry: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "tried 2 times") || !strings.Contains(r.stderr, "--retries") {
		t.Errorf("the error does not say how often it tried or hint at --retries:\n%s", r.stderr)
	}

	cmd := slipwayCmd(t, dir, nil, "push", "--progress", "plain", "--retries", "8")
	done := make(chan result, 1)
	go func() {
		res, err := runCmd(cmd)
		if err != nil {
			res = result{code: -1, stderr: err.Error()}
		}
		done <- res
	}()
	// Come back while the push is backing off.
	time.Sleep(1500 * time.Millisecond)
	reg.Restart(t)
	r = <-done
	if r.code != 0 {
		t.Fatalf("push while the registry restarts: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "@"+digest) {
		t.Errorf("push printed %q", r.stdout)
	}
}

// --report is checked before anything runs, "-" is stdout, and commands
// that write no report refuse it.
func TestReportFlag(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000/team\nimages: [{name: web}]\n",
		"Dockerfile":   "FROM scratch\nCOPY a.txt /\n", "a.txt": "a\n",
	})
	env := cacheEnv()
	// A folder that does not exist: refused before the build (no daemon is started).
	r := slipway(t, dir, env, "build", "--progress", "quiet", "--report", "nope/build.json")
	if r.code != 2 || !strings.Contains(r.stderr, "--report nope/build.json: folder") {
		t.Errorf("--report into a missing folder: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".slipway", "store")); err == nil {
		t.Error("the build ran although the report could not be written")
	}
	r = slipway(t, dir, append(env, "GITHUB_OUTPUT="+filepath.Join(dir, "missing", "out")), "build", "--progress", "quiet")
	if r.code == 0 || !strings.Contains(r.stderr, "GITHUB_OUTPUT") {
		t.Errorf("GITHUB_OUTPUT in a missing folder: exit %d\n%s", r.code, r.stderr)
	}
	// --report -: stdout is one JSON document, the result lines go to stderr.
	r = slipway(t, dir, env, "build", "--progress", "quiet", "--report", "-")
	if r.code != 0 {
		t.Fatalf("build --report -: exit %d\n%s", r.code, r.stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if len(rep.Images) != 1 || !strings.Contains(r.stderr, "web "+rep.Images[0].Digest) {
		t.Errorf("the result line is not on stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error("a file named - was written")
	}
	r = slipway(t, dir, nil, "tags", "--report", "r.json")
	if r.code != 2 || !strings.Contains(r.stderr, "writes no report") {
		t.Errorf("tags --report: exit %d\n%s", r.code, r.stderr)
	}
}

// Output and error text that tools and people can read.
func TestCommandLineText(t *testing.T) {
	testenv.RequireTools(t)
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000/team\nimages: [{name: web}]\n",
		"Dockerfile":   "FROM scratch\n",
	})
	// --progress tty without a terminal: plain, with one warning.
	r := slipway(t, dir, nil, "tags", "--progress", "tty")
	if r.code != 0 || strings.Count(r.stderr, "not a terminal") != 1 {
		t.Errorf("--progress tty without a terminal: exit %d\n%s", r.code, r.stderr)
	}
	r = slipway(t, dir, nil, "push", "--insecure-registry", "http://reg.example.com")
	if r.code != 2 || !strings.Contains(r.stderr, "host[:port]") {
		t.Errorf("--insecure-registry with a scheme: exit %d\n%s", r.code, r.stderr)
	}
	r = slipway(t, dir, nil, "push", "--retires", "3")
	if r.code != 2 || !strings.Contains(r.stderr, "did you mean --retries?") {
		t.Errorf("a misspelt flag: exit %d\n%s", r.code, r.stderr)
	}
	r = slipway(t, dir, []string{"BUILDKIT_HOST=grpc://x"}, "build")
	if r.code != 2 || !strings.Contains(r.stderr, "unix://") || !strings.Contains(r.stderr, "tcp://") {
		t.Errorf("a bad BUILDKIT_HOST scheme: exit %d\n%s", r.code, r.stderr)
	}
	// --buildkit-host is one daemon for everything: a platform no node
	// declares is no longer a configuration error.
	writeFiles(t, dir, map[string]string{"slipway.yaml": "registry: localhost:5000/team\nbuildkit:\n  nodes: [{host: \"unix:///nonexistent/s390x.sock\", platforms: [linux/s390x]}]\nimages: [{name: web, platforms: [linux/riscv64]}]\n"})
	if r = slipway(t, dir, nil, "build"); r.code != 2 || !strings.Contains(r.stderr, "no buildkit.nodes entry declares linux/riscv64") {
		t.Errorf("an undeclared platform: exit %d\n%s", r.code, r.stderr)
	}
	if r = slipway(t, dir, nil, "build", "--buildkit-host", "unix:///nonexistent/buildkitd.sock"); r.code == 2 || strings.Contains(r.stderr, "no buildkit.nodes entry declares") {
		t.Errorf("an undeclared platform with --buildkit-host: exit %d\n%s", r.code, r.stderr)
	}
}

// A tag that names a commit does not move silently: the second release of
// the same commit with other inputs warns, or refuses with --immutable-tags.
func TestImmutableTags(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "runc")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	dir := gitProject(t, map[string]string{
		"slipway.yaml":    fmt.Sprintf("registry: %s/team\ntags: [\"{{.ShortCommit}}\", latest]\nimages:\n  - name: web\n    args: {V: \"${V}\"}\n", reg.Host),
		"Dockerfile":      "FROM scratch\nARG V\nCOPY payload-${V}.txt /payload.txt\n",
		"payload-one.txt": "one\n", "payload-two.txt": "two\n",
		".dockerignore": "slipway.yaml\n", // so that editing it below keeps the commit's tag
	})
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	commitRef := reg.Host + "/team/web:" + short
	env := append(cacheEnv(), "V=one")
	r := slipway(t, dir, env, "release", "--progress", "quiet", "--report", "one.json")
	if r.code != 0 {
		t.Fatalf("release one: exit %d\n%s", r.code, r.stderr)
	}
	one := readReport(t, filepath.Join(dir, "one.json")).Images[0].Digest

	env = append(cacheEnv(), "V=two")
	r = slipway(t, dir, env, "release", "--progress", "quiet", "--immutable-tags")
	if r.code != 1 {
		t.Fatalf("release two --immutable-tags: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, commitRef+" already points at "+one) {
		t.Errorf("the refusal does not name the tag and its digest:\n%s", r.stderr)
	}
	checkResolves(t, reg, authn.Anonymous, one, commitRef, reg.Host+"/team/web:latest")

	r = slipway(t, dir, env, "release", "--progress", "quiet", "--report", "two.json")
	if r.code != 0 {
		t.Fatalf("release two: exit %d\n%s", r.code, r.stderr)
	}
	two := readReport(t, filepath.Join(dir, "two.json")).Images[0].Digest
	if !strings.Contains(r.stderr, "warning: "+commitRef+" moves from "+one+" to "+two) {
		t.Errorf("no warning naming the moved tag, old and new digest:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, ":latest moves") {
		t.Errorf("latest is meant to move, yet it was warned about:\n%s", r.stderr)
	}
	checkResolves(t, reg, authn.Anonymous, two, commitRef)

	// immutable_tags: true in slipway.yaml refuses as the flag does.
	writeFiles(t, dir, map[string]string{"slipway.yaml": fmt.Sprintf("immutable_tags: true\nregistry: %s/team\ntags: [\"{{.ShortCommit}}\", latest]\nimages:\n  - name: web\n    args: {V: \"${V}\"}\n", reg.Host)})
	r = slipway(t, dir, append(cacheEnv(), "V=one"), "release", "--progress", "quiet")
	if r.code != 1 || !strings.Contains(r.stderr, "already points at "+two) {
		t.Errorf("immutable_tags: true: exit %d, want 1\n%s", r.code, r.stderr)
	}
}

// Paths that leave the project are refused at load time, unless listed.
func TestPathsOutsideTheProject(t *testing.T) {
	testenv.RequireTools(t)
	elsewhere := t.TempDir()
	writeFiles(t, elsewhere, map[string]string{"deploy.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    - name: a\n      image: nginx:1\n"})
	dir := gitProject(t, map[string]string{"Dockerfile": "FROM scratch\n", "ok/pod.yaml": "kind: Pod\n"})
	if err := os.Symlink(elsewhere, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"context ..", "registry: localhost:5000/t\nimages:\n  - name: web\n    context: ../\n", "slipway.yaml:4:14: images[0].context:"},
		{"context absolute", "registry: localhost:5000/t\nimages:\n  - name: web\n    context: /etc\n", "slipway.yaml:4:14: images[0].context: /etc is outside the project folder"},
		{"manifest symlink", "registry: localhost:5000/t\nimages: [{name: web}]\nmanifests:\n  - paths: [linked]\n", "slipway.yaml:4:13: manifests[0].paths[0]:"},
		{"kustomization", "registry: localhost:5000/t\nimages: [{name: web}]\nmanifests:\n  - kustomization: ../k/kustomization.yaml\n", "slipway.yaml:4:20: manifests[0].kustomization:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeFiles(t, dir, map[string]string{"slipway.yaml": c.yaml})
			r := slipway(t, dir, nil, "tags")
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "allow_outside") {
				t.Errorf("exit %d, want 2 and %q:\n%s", r.code, c.want, r.stderr)
			}
		})
	}
	// A symlink inside a manifests folder that leads out is refused too.
	if err := os.Symlink(filepath.Join(elsewhere, "deploy.yaml"), filepath.Join(dir, "ok", "escape.yaml")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"slipway.yaml": "registry: localhost:5000/t\nimages: [{name: web}]\nmanifests:\n  - paths: [ok/]\n"})
	if r := slipway(t, dir, nil, "tags"); r.code != 2 || !strings.Contains(r.stderr, "escape.yaml") {
		t.Errorf("a symlink out of a manifests folder: exit %d\n%s", r.code, r.stderr)
	}
	// Listed in allow_outside, the same paths load.
	writeFiles(t, dir, map[string]string{"slipway.yaml": fmt.Sprintf("allow_outside: [%q]\nregistry: localhost:5000/t\nimages: [{name: web}]\nmanifests:\n  - paths: [linked, ok/]\n", elsewhere)})
	if r := slipway(t, dir, nil, "tags"); r.code != 0 {
		t.Errorf("with allow_outside: exit %d\n%s", r.code, r.stderr)
	}
	// A path the user names on the command line is theirs to name.
	if r := slipway(t, t.TempDir(), nil, "bump", "--set", "nginx=nginx:2", elsewhere); r.code != 0 {
		t.Errorf("bump of a folder named on the command line: exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(elsewhere, "deploy.yaml")); !strings.Contains(string(got), "image: nginx:2") {
		t.Errorf("the named folder was not bumped:\n%s", got)
	}
}

// Build secrets and registry passwords never reach stderr: a RUN step that
// prints a secret shows ***, in every progress mode; rawjson is all JSON.
func TestSecretsAreMasked(t *testing.T) {
	base := busyboxBase(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": pushPassword}})
	const token = "tok-3b9f1c2e7d"
	dir := gitProject(t, map[string]string{
		"slipway.yaml": fmt.Sprintf("registry:\n  - url: %s/team\n    ca_file: %q\nimages:\n  - name: web\n    args: {COSIGN_PASSWORD: \"${COSIGN_PASSWORD}\"}\n    secrets: [{id: token, env: API_TOKEN}, {id: npmrc, src: npmrc}]\n", reg.Host, reg.CAFile),
		"Dockerfile":   "FROM " + base + "\nARG COSIGN_PASSWORD\nRUN --mount=type=secret,id=token --mount=type=secret,id=npmrc cat /run/secrets/token /run/secrets/npmrc; echo $COSIGN_PASSWORD\n",
		".gitignore":   "npmrc\n",
	})
	writeFiles(t, dir, map[string]string{"npmrc": "//npm.example.com/:_authToken=npm-9d8c7b6a5f\n"})
	env := append(cacheEnv(), "API_TOKEN="+token, "DOCKER_CONFIG="+dockerConfig(t, reg.Host, "ci", pushPassword), "COSIGN_PASSWORD=cosign-pw-51d0")
	// rawjson first, while the push still has something to send.
	for _, mode := range []string{"rawjson", "plain"} {
		r := slipway(t, dir, env, "release", "--progress", mode, "--no-cache", "--no-skip", "--debug")
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", mode, r.code, r.stderr)
		}
		for _, s := range []string{token, "npm-9d8c7b6a5f", pushPassword, "cosign-pw-51d0"} {
			if strings.Contains(r.stderr, s) || strings.Contains(r.stdout, s) {
				t.Errorf("%s: the secret %q was printed", mode, s)
			}
		}
		if mode != "rawjson" {
			if !strings.Contains(r.stderr, "***") {
				t.Errorf("%s: the RUN step's output shows no mask:\n%s", mode, r.stderr)
			}
			continue
		}
		types := map[string]bool{}
		var logs strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			var ev struct {
				Type string `json:"type"`
				Logs []struct {
					Data []byte `json:"data"`
				} `json:"logs"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("rawjson: a stderr line is not JSON: %q", line)
			}
			types[ev.Type] = true
			for _, l := range ev.Logs {
				logs.Write(l.Data)
			}
		}
		for _, s := range []string{token, "npm-9d8c7b6a5f"} {
			if strings.Contains(logs.String(), s) {
				t.Errorf("rawjson: the build log holds the secret %q", s)
			}
		}
		if !strings.Contains(logs.String(), "***") {
			t.Errorf("rawjson: the RUN step's output shows no mask:\n%s", logs.String())
		}
		for _, want := range []string{"push", "release", "debug"} {
			if !types[want] {
				t.Errorf("rawjson: no %q event (have %v)", want, types)
			}
		}
	}

	// A registry written with credentials is refused without repeating them.
	writeFiles(t, dir, map[string]string{"slipway.yaml": "registry: ci:" + pushPassword + "@" + reg.Host + "/team\nimages: [{name: web}]\n"})
	r := slipway(t, dir, nil, "tags")
	if r.code != 2 || strings.Contains(r.stderr, pushPassword) || !strings.Contains(r.stderr, "credentials do not belong") {
		t.Errorf("a registry with credentials: exit %d\n%s", r.code, r.stderr)
	}
}

// The README's quick start and its stage-by-stage flow, run as written
// (with the registry pointed at a local one), end with verify passing.
func TestReadmeFlows(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "registry", "runc", "cosign")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	project := func(t *testing.T) string {
		dir := gitProject(t, map[string]string{
			"slipway.yaml": fmt.Sprintf(`# slipway.yaml
registry: %s/team
tags: ["{{.Version}}", "{{.ShortCommit}}"]
images:
  - name: web
    context: ./web
sign:
  key: cosign.key
manifests:
  - paths: [deploy/]
`, reg.Host),
			"web/Dockerfile": "FROM scratch\nCOPY index.html /\n",
			"web/index.html": "<p>hello</p>\n",
			"deploy/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: %s/team/web:0.0.0
`, reg.Host),
		})
		git(t, dir, "tag", "v1.2.0")
		return dir
	}
	env := append(cacheEnv(), "COSIGN_PASSWORD=readme-flow")
	run := func(t *testing.T, dir string, args ...string) result {
		t.Helper()
		r := slipway(t, dir, env, append(args, "--progress", "quiet")...)
		if r.code != 0 {
			t.Fatalf("slipway %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	check := func(t *testing.T, dir string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, "deploy", "deployment.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), reg.Host+"/team/web:1.2.0@sha256:") {
			t.Errorf("the manifest was not bumped:\n%s", got)
		}
		r := slipway(t, dir, env, "verify", "--key", "cosign.pub")
		if r.code != 0 {
			t.Errorf("slipway verify --key cosign.pub: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "-dirty") {
			t.Errorf("verify saw dirty tags:\n%s%s", r.stdout, r.stderr)
		}
	}
	t.Run("quick start", func(t *testing.T) {
		dir := project(t)
		run(t, dir, "keygen")
		run(t, dir, "tags")
		run(t, dir, "release")
		check(t, dir)
	})
	t.Run("stage by stage", func(t *testing.T) {
		dir := project(t)
		run(t, dir, "keygen")
		run(t, dir, "build", "--report", "build.json")
		run(t, dir, "push", "--from", "build.json", "--report", "push.json")
		run(t, dir, "sign", "--from", "push.json")
		run(t, dir, "bump", "--from", "push.json")
		check(t, dir)
		// Later commands still plan the same, clean tags.
		if r := run(t, dir, "tags"); strings.Contains(r.stdout, "-dirty") {
			t.Errorf("tags after the flow: %s", r.stdout)
		}
	})
}

// On a terminal, stderr is masked and still a console: BuildKit's tty
// display draws on it.
func TestTTYProgressOnATerminal(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "runc")
	master, tty := testenv.PTY(t)
	go io.Copy(io.Discard, master) // drain the screen
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000/team\nimages: [{name: web}]\n",
		"Dockerfile":   "FROM scratch\nCOPY a.txt /\n", "a.txt": "a\n",
	})
	for _, mode := range []string{"tty", "auto"} {
		cmd := slipwayCmd(t, dir, cacheEnv(), "build", "--progress", mode)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, tty
		if err := cmd.Run(); err != nil {
			t.Fatalf("build --progress %s on a terminal: %v", mode, err)
		}
		if !strings.HasPrefix(out.String(), "web sha256:") {
			t.Errorf("build --progress %s printed %q", mode, out.String())
		}
	}
}
