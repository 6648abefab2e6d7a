package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/slipway-build/slipway/internal/report"
)

// The bump fixture: a Deployment (an init container and the app on the
// same image, a sidecar on another), a CronJob, a Service, a file outside
// deploy/, a kustomization and a slipway.yaml naming some of them.
const (
	bumpTestRepo   = "registry.example.com/team/web"
	bumpTestDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	bumpWebYAML = `# web: the app and its migrations.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: registry.example.com/team/web:1.0.0 # same image, runs migrations
      containers:
        - name: web
          image: "registry.example.com/team/web:1.0.0"
        - name: proxy
          image: envoyproxy/envoy:v1.30
`
	bumpNightlyYAML = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: report
              image: 'registry.example.com/team/web:1.0.0'
          restartPolicy: Never
`
	bumpServiceYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
`
	bumpPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: other
spec:
  containers:
    - name: web
      image: registry.example.com/team/web:1.0.0
`
	bumpKustomization = `resources:
  - ../../deploy
images:
  - name: registry.example.com/team/web
    newTag: 1.0.0
`
	bumpProject = `registry: registry.example.com/team
images:
  - name: web
manifests:
  - paths: [deploy/]
    pin: tag
    pullPolicy: Always
  - kustomization: overlays/prod/kustomization.yaml
`
)

// bumpFixture writes the fixture into a new folder and returns it; the
// project file only when withProject is set.
func bumpFixture(t *testing.T, withProject bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"deploy/web.yaml":                  bumpWebYAML,
		"deploy/nightly.yaml":              bumpNightlyYAML,
		"deploy/service.yaml":              bumpServiceYAML,
		"deploy/NOTES.txt":                 "not a manifest: " + bumpTestRepo + ":1.0.0\n",
		"other/pod.yaml":                   bumpPodYAML,
		"overlays/prod/kustomization.yaml": bumpKustomization,
	}
	if withProject {
		files["slipway.yaml"] = bumpProject
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readTree returns every file under dir (hidden ones too: a leftover
// temporary file must show) by slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails the test where the files under dir differ from want.
func sameTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := readTree(t, dir)
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is gone", name)
		case g != w:
			t.Errorf("%s:\n%s\nwant:\n%s", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected file %s", name)
		}
	}
}

// bumped is s with every reference to the app's 1.0.0 image turned into
// ref: what a bump writes, since it changes nothing else.
func bumped(s, ref string) string {
	return strings.ReplaceAll(s, bumpTestRepo+":1.0.0", ref)
}

func runBump(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runForSign(t, nil, args...)
}

func TestBumpSetPaths(t *testing.T) {
	dir := bumpFixture(t, false)
	before := readTree(t, dir)
	code, stdout, stderr := runBump(t, "-C", dir, "bump", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", "deploy", "other/pod.yaml")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	const old, new = bumpTestRepo + ":1.0.0", bumpTestRepo + ":2.0.0"
	wantOut := "deploy/nightly.yaml:13: CronJob/nightly report: " + old + " -> " + new + "\n" +
		"deploy/web.yaml:11: Deployment/web migrate: " + old + " -> " + new + "\n" +
		"deploy/web.yaml:14: Deployment/web web: " + old + " -> " + new + "\n" +
		"other/pod.yaml:8: Pod/other web: " + old + " -> " + new + "\n"
	if stdout != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantOut)
	}
	want := before
	for _, f := range []string{"deploy/web.yaml", "deploy/nightly.yaml", "other/pod.yaml"} {
		want[f] = bumped(before[f], new)
	}
	sameTree(t, dir, want)
}

func TestBumpUsageErrors(t *testing.T) {
	set := "--set=" + bumpTestRepo + "=" + bumpTestRepo + ":2.0.0"
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"set without =", []string{"--set", bumpTestRepo, "deploy"}, "want REPO=REF"},
		{"set without repo", []string{"--set", "=" + bumpTestRepo + ":2.0.0", "deploy"}, "want REPO=REF"},
		{"set without ref", []string{"--set", bumpTestRepo + "=", "deploy"}, "want REPO=REF"},
		{"set with an invalid ref", []string{"--set", bumpTestRepo + "=" + bumpTestRepo + ":not a tag", "deploy"}, "parsing image reference"},
		{"set with an invalid repo", []string{"--set", "Registry.Example.com/Team/Web=" + bumpTestRepo + ":2.0.0", "deploy"}, "is not a repository"},
		{"one bad set among good ones", []string{set, "--set", "nginx", "deploy"}, "want REPO=REF"},
		{"set and from", []string{set, "--from", "report.json", "deploy"}, "do not go together"},
		{"check and diff", []string{set, "--check", "--diff", "deploy"}, "one at a time"},
		{"output to a file", []string{set, "-o", "out.yaml", "deploy"}, "only - (stdout)"},
		{"bad pin", []string{set, "--pin", "sideways", "deploy"}, "--pin"},
		{"no PATH and no project", []string{set}, "no PATH given and no slipway.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bumpFixture(t, false)
			before := readTree(t, dir)
			code, stdout, stderr := runBump(t, append([]string{"-C", dir, "bump"}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !strings.HasPrefix(stderr, "slipway: ") || !strings.Contains(stderr, tt.wantStderr) || !strings.Contains(stderr, "hint: ") {
				t.Errorf("stderr = %q, want a slipway: line with %q and a hint", stderr, tt.wantStderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			sameTree(t, dir, before)
		})
	}
}

func TestBumpCheck(t *testing.T) {
	tests := []struct {
		name       string
		ref        string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"out of date", bumpTestRepo + ":2.0.0", 1, "deploy/nightly.yaml\ndeploy/web.yaml\n", "slipway: bump --check: 2 files out of date\n"},
		{"up to date", bumpTestRepo + ":1.0.0", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bumpFixture(t, false)
			before := readTree(t, dir)
			code, stdout, stderr := runBump(t, "-C", dir, "bump", "--check", "--set", bumpTestRepo+"="+tt.ref, "deploy")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if stdout != tt.wantOut {
				t.Errorf("stdout = %q, want %q", stdout, tt.wantOut)
			}
			if stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr, tt.wantStderr)
			}
			sameTree(t, dir, before)
		})
	}
}

func TestBumpDiff(t *testing.T) {
	const want = `--- deploy/nightly.yaml
+++ deploy/nightly.yaml
@@ -10,5 +10,5 @@
         spec:
           containers:
             - name: report
-              image: 'registry.example.com/team/web:1.0.0'
+              image: 'registry.example.com/team/web:2.0.0'
           restartPolicy: Never
--- deploy/web.yaml
+++ deploy/web.yaml
@@ -8,9 +8,9 @@
     spec:
       initContainers:
         - name: migrate
-          image: registry.example.com/team/web:1.0.0 # same image, runs migrations
+          image: registry.example.com/team/web:2.0.0 # same image, runs migrations
       containers:
         - name: web
-          image: "registry.example.com/team/web:1.0.0"
+          image: "registry.example.com/team/web:2.0.0"
         - name: proxy
           image: envoyproxy/envoy:v1.30
`
	dir := bumpFixture(t, false)
	before := readTree(t, dir)
	// Paths in the headers are relative to -C, however the PATH was given.
	code, stdout, stderr := runBump(t, "-C", dir, "bump", "--diff", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", filepath.Join(dir, "deploy"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	sameTree(t, dir, before)
}

func TestBumpOutput(t *testing.T) {
	dir := bumpFixture(t, false)
	before := readTree(t, dir)
	code, stdout, stderr := runBump(t, "-C", dir, "bump", "-o", "-", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", "deploy")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// Every file, changed or not, in path order, one YAML stream.
	want := bumped(bumpNightlyYAML, bumpTestRepo+":2.0.0") + "---\n" + bumpServiceYAML + "---\n" + bumped(bumpWebYAML, bumpTestRepo+":2.0.0")
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	sameTree(t, dir, before)
}

func TestBumpNoMatch(t *testing.T) {
	app := "--set=" + bumpTestRepo + "=" + bumpTestRepo + ":2.0.0"
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantBumped bool
	}{
		{"nothing matches", []string{"--set", "nginx=nginx:1.27"}, 0, "slipway: warning: no image reference matched\n", false},
		{"nothing matches, strict", []string{"--strict", "--set", "nginx=nginx:1.27"}, 1, "slipway: bump: no image reference matched\n", false},
		{"one of two matches", []string{app, "--set", "nginx=nginx:1.27"}, 0, "slipway: warning: no reference to nginx\n", true},
		{"one of two matches, strict", []string{"--strict", app, "--set", "nginx=nginx:1.27"}, 1, "slipway: bump: no reference to nginx\n", false},
		// An up-to-date reference matches: no warning, and --strict passes.
		{"up to date", []string{"--strict", "--set", bumpTestRepo + "=" + bumpTestRepo + ":1.0.0"}, 0, "", false},
		{"nothing matches, check", []string{"--check", "--set", "nginx=nginx:1.27"}, 0, "slipway: warning: no image reference matched\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bumpFixture(t, false)
			before := readTree(t, dir)
			args := append([]string{"-C", dir, "bump"}, tt.args...)
			code, stdout, stderr := runBump(t, append(args, "deploy")...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if stderr != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr, tt.wantStderr)
			}
			want := before
			if tt.wantBumped {
				want = readTree(t, bumpFixture(t, false))
				for _, f := range []string{"deploy/web.yaml", "deploy/nightly.yaml"} {
					want[f] = bumped(want[f], bumpTestRepo+":2.0.0")
				}
			} else if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			sameTree(t, dir, want)
		})
	}
}

// writeBumpReport writes the report a release of the fixture's image as
// tag 2.0.0 would leave.
func writeBumpReport(t *testing.T, path string) {
	t.Helper()
	rep := report.New("release", "test")
	img := rep.Upsert("web")
	img.Repository = bumpTestRepo
	img.Tags = []string{"2.0.0", "2.0"}
	img.Refs = []string{bumpTestRepo + ":2.0.0", bumpTestRepo + ":2.0"}
	img.Digest = bumpTestDigest
	img.Pushed = []string{bumpTestRepo + ":2.0.0@" + bumpTestDigest, bumpTestRepo + ":2.0@" + bumpTestDigest}
	rep.Success = true
	if err := report.Write(path, rep); err != nil {
		t.Fatal(err)
	}
}

func TestBumpFromPin(t *testing.T) {
	tests := []struct {
		pin  []string
		want string
	}{
		{nil, bumpTestRepo + ":2.0.0@" + bumpTestDigest},
		{[]string{"--pin", "tag+digest"}, bumpTestRepo + ":2.0.0@" + bumpTestDigest},
		{[]string{"--pin", "tag"}, bumpTestRepo + ":2.0.0"},
		{[]string{"--pin", "digest"}, bumpTestRepo + "@" + bumpTestDigest},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"pin"}, tt.pin...), " "), func(t *testing.T) {
			// No slipway.yaml: with PATHs, the report is all bump needs.
			dir := bumpFixture(t, false)
			writeBumpReport(t, filepath.Join(dir, "report.json"))
			before := readTree(t, dir)
			args := append([]string{"-C", dir, "bump", "--from", "report.json"}, tt.pin...)
			code, stdout, stderr := runBump(t, append(args, "other/pod.yaml")...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			wantOut := "other/pod.yaml:8: Pod/other web: " + bumpTestRepo + ":1.0.0 -> " + tt.want + "\n"
			if stdout != wantOut {
				t.Errorf("stdout = %q, want %q", stdout, wantOut)
			}
			want := before
			want["other/pod.yaml"] = bumped(bumpPodYAML, tt.want)
			sameTree(t, dir, want)
		})
	}
	t.Run("set with a digest", func(t *testing.T) {
		dir := bumpFixture(t, false)
		before := readTree(t, dir)
		code, stdout, stderr := runBump(t, "-C", dir, "bump", "--pin", "digest", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0@"+bumpTestDigest, "other")
		if code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		want := before
		want["other/pod.yaml"] = bumped(bumpPodYAML, bumpTestRepo+"@"+bumpTestDigest)
		sameTree(t, dir, want)
	})
	t.Run("missing report", func(t *testing.T) {
		dir := bumpFixture(t, false)
		before := readTree(t, dir)
		code, _, stderr := runBump(t, "-C", dir, "bump", "--from", "nope.json", "deploy")
		if code != 1 || !strings.Contains(stderr, "nope.json") {
			t.Errorf("exit %d, stderr %q; want 1 naming the report", code, stderr)
		}
		sameTree(t, dir, before)
	})
}

// TestBumpProjectManifests: without PATHs, the manifests of slipway.yaml,
// each entry with its own pin and pullPolicy; other files stay as they are.
func TestBumpProjectManifests(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantApp string // the deploy/ images
		wantTag string // the kustomization's newTag and digest
		wantDig string
	}{
		{"from a report", []string{"--from", "report.json"}, bumpTestRepo + ":2.0.0", "2.0.0", bumpTestDigest},
		{"set", []string{"--set", bumpTestRepo + "=" + bumpTestRepo + ":2.0.0@" + bumpTestDigest}, bumpTestRepo + ":2.0.0", "2.0.0", bumpTestDigest},
		// --pin overrides every entry's pin:.
		{"pin overrides", []string{"--from", "report.json", "--pin", "tag+digest"}, bumpTestRepo + ":2.0.0@" + bumpTestDigest, "2.0.0", bumpTestDigest},
		{"pin tag", []string{"--from", "report.json", "--pin", "tag"}, bumpTestRepo + ":2.0.0", "2.0.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bumpFixture(t, true)
			writeBumpReport(t, filepath.Join(dir, "report.json"))
			before := readTree(t, dir)
			code, stdout, stderr := runBump(t, append([]string{"-C", dir, "bump"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			got := readTree(t, dir)
			for _, f := range []string{"other/pod.yaml", "deploy/service.yaml", "deploy/NOTES.txt", "slipway.yaml", "report.json"} {
				if got[f] != before[f] {
					t.Errorf("%s changed:\n%s", f, got[f])
				}
			}
			// deploy/: the images, with imagePullPolicy added to the
			// containers that changed and to no other.
			for _, f := range []string{"deploy/web.yaml", "deploy/nightly.yaml"} {
				if !strings.Contains(stdout, f+":") {
					t.Errorf("stdout lacks the edits of %s:\n%s", f, stdout)
				}
				var doc any
				if err := yaml.Unmarshal([]byte(got[f]), &doc); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				for _, c := range bumpContainers(doc) {
					if c["name"] == "proxy" {
						if c["image"] != "envoyproxy/envoy:v1.30" || c["imagePullPolicy"] != nil {
							t.Errorf("%s: the sidecar changed: %v", f, c)
						}
						continue
					}
					if c["image"] != tt.wantApp || c["imagePullPolicy"] != "Always" {
						t.Errorf("%s: container %v, want image %s with imagePullPolicy Always", f, c, tt.wantApp)
					}
				}
			}
			if !strings.HasPrefix(got["deploy/web.yaml"], "# web: the app and its migrations.\n") ||
				!strings.Contains(got["deploy/web.yaml"], " # same image, runs migrations\n") {
				t.Errorf("deploy/web.yaml lost its comments:\n%s", got["deploy/web.yaml"])
			}
			var k struct {
				Resources []string
				Images    []struct {
					Name    string `yaml:"name"`
					NewName string `yaml:"newName"`
					NewTag  string `yaml:"newTag"`
					Digest  string `yaml:"digest"`
				}
			}
			if err := yaml.Unmarshal([]byte(got["overlays/prod/kustomization.yaml"]), &k); err != nil {
				t.Fatal(err)
			}
			if len(k.Images) != 1 || k.Images[0].Name != bumpTestRepo || k.Images[0].NewName != "" ||
				k.Images[0].NewTag != tt.wantTag || k.Images[0].Digest != tt.wantDig {
				t.Errorf("kustomization images = %+v, want newTag %q digest %q", k.Images, tt.wantTag, tt.wantDig)
			}
		})
	}
}

// bumpContainers returns the containers and init containers of a
// Deployment or a CronJob decoded into maps.
func bumpContainers(doc any) []map[string]any {
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	spec := get(doc, "spec", "template", "spec")
	if spec == nil {
		spec = get(doc, "spec", "jobTemplate", "spec", "template", "spec")
	}
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := get(spec, key).([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func TestBumpUnparsable(t *testing.T) {
	tests := []struct {
		name, file, content string
		wantLine            *regexp.Regexp
	}{
		{"yaml", "deploy/broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken: yes\nspec: {}\n", regexp.MustCompile(`/deploy/broken\.yaml:4:15: cannot parse YAML: mapping values are not allowed in this context\n$`)},
		{"json", "deploy/broken.json", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"x\": 1}}\n", regexp.MustCompile(`/deploy/broken\.json:2:23: cannot parse YAML: did not find expected ',' or '}'\n$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bumpFixture(t, false)
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			before := readTree(t, dir)
			// The broken file sorts between files that would change, and
			// other/pod.yaml after it: none of them may be written.
			code, stdout, stderr := runBump(t, "-C", dir, "bump", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", "deploy", "other")
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if !tt.wantLine.MatchString(stderr) {
				t.Errorf("stderr = %q, want it to name %s", stderr, tt.wantLine)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			sameTree(t, dir, before)
		})
	}
}

// TestBumpChdir: -C is where PATHs, globs and the report resolve and what
// printed paths are relative to, whether it is given absolute or relative.
func TestBumpChdir(t *testing.T) {
	for _, relative := range []bool{false, true} {
		name := "absolute -C"
		if relative {
			name = "relative -C"
		}
		t.Run(name, func(t *testing.T) {
			dir := bumpFixture(t, false)
			before := readTree(t, dir)
			outside := t.TempDir()
			outsideFile := filepath.Join(outside, "pod.yaml")
			if err := os.WriteFile(outsideFile, []byte(bumpPodYAML), 0o644); err != nil {
				t.Fatal(err)
			}
			c := dir
			if relative {
				t.Chdir(filepath.Dir(dir))
				c = filepath.Base(dir)
			}
			code, stdout, stderr := runBump(t, "-C", c, "bump", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", "deploy/w*.yaml", "other/", outsideFile)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			const old, new = bumpTestRepo + ":1.0.0", bumpTestRepo + ":2.0.0"
			// Inside -C: relative; outside it: as absolute as given. Edits
			// come in the order of the absolute paths.
			inside := "deploy/web.yaml:11: Deployment/web migrate: " + old + " -> " + new + "\n" +
				"deploy/web.yaml:14: Deployment/web web: " + old + " -> " + new + "\n" +
				"other/pod.yaml:8: Pod/other web: " + old + " -> " + new + "\n"
			outsideOut := outsideFile + ":8: Pod/other web: " + old + " -> " + new + "\n"
			wantOut := inside + outsideOut
			if outsideFile < dir {
				wantOut = outsideOut + inside
			}
			if stdout != wantOut {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantOut)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			want := before
			want["deploy/web.yaml"] = bumped(before["deploy/web.yaml"], new)
			want["other/pod.yaml"] = bumped(before["other/pod.yaml"], new)
			sameTree(t, dir, want)
			b, err := os.ReadFile(outsideFile)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != bumped(bumpPodYAML, new) {
				t.Errorf("%s:\n%s", outsideFile, b)
			}
		})
	}
}

// TestBumpHelmChart: a chart inside a walked folder has its templates
// skipped (one debug line) and its values bumped by rules; a template named
// on the command line is refused with a hint.
func TestBumpHelmChart(t *testing.T) {
	dir := bumpFixture(t, false)
	tmpl := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n"
	for name, content := range map[string]string{
		"deploy/charts/web/Chart.yaml":          "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"deploy/charts/web/values.yaml":         "image:\n  repository: " + bumpTestRepo + "\n  tag: 1.0.0\n",
		"deploy/charts/web/templates/web.yaml":  tmpl,
		"deploy/charts/web/templates/_help.tpl": "{{- define \"x\" -}}{{- end -}}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := readTree(t, dir)
	code, stdout, stderr := runBump(t, "-C", dir, "--debug", "bump", "--set", bumpTestRepo+"="+bumpTestRepo+":2.0.0", "deploy")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "skipping deploy/charts/web/templates: Helm chart templates"); n != 1 {
		t.Errorf("stderr names the skipped templates %d times, want once:\n%s", n, stderr)
	}
	if strings.Contains(stdout, "templates") {
		t.Errorf("a template was bumped:\n%s", stdout)
	}
	if got := readTree(t, dir)["deploy/charts/web/templates/web.yaml"]; got != tmpl {
		t.Errorf("template changed:\n%s", got)
	}
	if got := readTree(t, dir)["deploy/web.yaml"]; got == before["deploy/web.yaml"] {
		t.Errorf("deploy/web.yaml was not bumped")
	}

	code, stdout, stderr = runBump(t, "-C", dir, "bump", "--set", bumpTestRepo+"="+bumpTestRepo+":3.0.0", "deploy/charts/web/templates/web.yaml")
	if code != 1 || !strings.Contains(stderr, "deploy/charts/web/templates/web.yaml: a Helm chart template") || !strings.Contains(stderr, "rules:") {
		t.Errorf("named template: exit %d, stderr %q; want 1 and a hint at rules:", code, stderr)
	}
}
