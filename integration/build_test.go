package integration

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/slipway-build/slipway/internal/seed"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/testenv"
)

// busyboxBase starts a registry holding the seeded busybox base image and
// returns the image's digest reference, for FROM lines.
func busyboxBase(t *testing.T) string {
	t.Helper()
	testenv.RequireTools(t, "buildkitd", "registry", "runc")
	if _, err := seed.FindBusybox(); err != nil {
		if testenv.Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	d, err := seed.Busybox(context.Background(), mustTag(t, reg.Host+"/seed/busybox:latest"))
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// buildkitRoot is where slipway keeps the private buildkitd's state under
// the cache folder cache.
func buildkitRoot(cache string) string { return filepath.Join(cache, "slipway", "buildkit") }

// leftovers lists the processes whose command line contains one of marks
// (a private buildkitd root, a marker in a RUN step) and the mounts below
// any mark that is a path: what a run that cleaned up leaves none of.
func leftovers(marks ...string) []string {
	var found []string
	self := strconv.Itoa(os.Getpid())
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		pid := filepath.Base(filepath.Dir(p))
		if pid == self {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		for _, m := range marks {
			if strings.Contains(cmdline, m) {
				found = append(found, "process "+pid+": "+cmdline)
				break
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		for _, m := range marks {
			if filepath.IsAbs(m) && strings.HasPrefix(f[4], m+"/") {
				found = append(found, "mount "+f[4])
				break
			}
		}
	}
	return found
}

// checkNoLeftovers fails the test when processes or mounts marked by marks
// are still there a few seconds after slipway ended (kills are not
// instantaneous; a leak does not go away).
func checkNoLeftovers(t *testing.T, marks ...string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if left = leftovers(marks...); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind after slipway ended:\n  %s", strings.Join(left, "\n  "))
	}
}

// imageFile reads one file of a store image's layers.
func imageFile(t *testing.T, st *store.Store, image, path string) (string, bool) {
	t.Helper()
	img, err := st.Image(image)
	if err != nil {
		t.Fatal(err)
	}
	return imageLayerFile(t, img, path)
}

// imageLayerFile reads one file of an image's layers.
func imageLayerFile(t *testing.T, img v1.Image, path string) (string, bool) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") == path {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b), true
		}
	}
}

var buildLine = regexp.MustCompile(`^web (sha256:[0-9a-f]{64}) linux/amd64\n$`)

func TestBuildProject(t *testing.T) {
	base := busyboxBase(t)
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000\nimages:\n  - name: web\n    args: {GREETING: hello}\n",
		"Dockerfile": "FROM " + base + ` AS build
ARG GREETING=unset
RUN mkdir -p /out && echo "$GREETING from RUN" > /out/greeting
FROM scratch
COPY --from=build /out/greeting /greeting
COPY hello.txt /hello.txt
`,
		"hello.txt": "hello from the context\n",
	})
	env := []string{"XDG_CACHE_HOME=" + cacheHome}

	r := slipway(t, dir, env, "build", "--progress", "plain")
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	m := buildLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout %q, want one line: web DIGEST linux/amd64", r.stdout)
	}
	digest := m[1]
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the build dirtied the git tree:\n%s", st)
	}
	checkNoLeftovers(t, buildkitRoot(cacheHome))

	st, err := store.Open(filepath.Join(dir, ".slipway", "store"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := st.Lookup("web")
	if err != nil {
		t.Fatalf("the store does not hold web: %v", err)
	}
	if desc.Digest.String() != digest {
		t.Errorf("store holds web as %s, build printed %s", desc.Digest, digest)
	}
	// The RUN step ran on the base with the build argument, and the final
	// stage copied its output from the first.
	for path, want := range map[string]string{"greeting": "hello from RUN\n", "hello.txt": "hello from the context\n"} {
		if got, ok := imageFile(t, st, "web", path); !ok || got != want {
			t.Errorf("/%s in the image = %q (present %v), want %q", path, got, ok, want)
		}
	}

	r = slipway(t, dir, env, "build", "--progress", "quiet")
	if r.code != 0 {
		t.Fatalf("second build: exit %d\n%s", r.code, r.stderr)
	}
	if m := buildLine.FindStringSubmatch(r.stdout); m == nil || m[1] != digest {
		t.Errorf("second build of the same commit printed %q, first gave %s", r.stdout, digest)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the second build dirtied the git tree:\n%s", st)
	}
}

func TestBuildInterrupt(t *testing.T) {
	base := busyboxBase(t)
	// A cache folder of its own makes the buildkitd root path unique to
	// this test, so that /proc can be searched for it.
	cache := t.TempDir()
	root := buildkitRoot(cache)
	marker := fmt.Sprintf("slipway-interrupt-%d", time.Now().UnixNano())
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000\nimages: [{name: sleeper}]\n",
		// sh stays alive to run the echo, so the marker is on a process
		// for the whole sleep.
		"Dockerfile": "FROM " + base + "\nRUN sleep 30 && echo " + marker + "\n",
	})

	cmd := slipwayCmd(t, dir, []string{"XDG_CACHE_HOME=" + cache}, "build", "--progress", "plain")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})

	// Wait for the RUN step's container.
	ready := false
	for deadline := time.Now().Add(2 * time.Minute); !ready && time.Now().Before(deadline); {
		select {
		case <-done:
			t.Fatalf("slipway ended before the RUN step started: %v\n%s", waitErr, errb.String())
		case <-time.After(100 * time.Millisecond):
		}
		for _, l := range leftovers(marker) {
			if strings.Contains(l, "sleep 30") {
				ready = true
			}
		}
	}
	if !ready {
		t.Fatal("the RUN step did not start")
	}
	if len(leftovers(root)) == 0 {
		t.Fatal("no process runs with the private buildkitd root: is slipway using another daemon?")
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("slipway did not end within 30s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || ee.ExitCode() != 130 {
		t.Errorf("slipway ended with %v, want exit status 130\n%s", waitErr, errb.String())
	}
	if out.String() != "" {
		t.Errorf("stdout after an interrupted build: %q", out.String())
	}
	checkNoLeftovers(t, root, marker)

	// The private socket folder (second line of the lock file) is gone.
	lock, err := os.ReadFile(root + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(lock), "\n"); len(lines) > 1 && lines[1] != "" {
		if _, err := os.Stat(lines[1]); err == nil {
			t.Errorf("buildkitd's socket folder %s is still there", lines[1])
		}
	}
}

func TestBuildFailure(t *testing.T) {
	base := busyboxBase(t)
	tests := []struct {
		name       string
		dockerfile string
		line       int
		stderr     string
	}{
		{"RUN false", "FROM " + base + "\nRUN true\nRUN false\n", 3, "exit code: 1"},
		{"syntax error", "FROM scratch\nCOPY hello.txt /\nCOPPY hello.txt /again\n", 3, "COPPY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitProject(t, map[string]string{
				"slipway.yaml": "registry: localhost:5000\nimages: [{name: web}]\n",
				"Dockerfile":   tt.dockerfile,
				"hello.txt":    "hi\n",
			})
			r := slipway(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome}, "build", "--progress", "plain")
			if r.code != 1 {
				t.Errorf("exit %d, want 1\n%s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout of a failed build: %q", r.stdout)
			}
			where := filepath.Join(dir, "Dockerfile") + ":" + strconv.Itoa(tt.line)
			var errLine string
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.HasPrefix(l, "slipway: ") {
					errLine = l
				}
			}
			if !strings.Contains(errLine, where) || !strings.Contains(errLine, tt.stderr) {
				t.Errorf("error line %q does not name %s and %q\n%s", errLine, where, tt.stderr, r.stderr)
			}
			checkNoLeftovers(t, buildkitRoot(cacheHome))
		})
	}
}

func TestBuildConcurrent(t *testing.T) {
	base := busyboxBase(t)
	type run struct {
		dir string
		res result
		err error
	}
	runs := make([]*run, 2)
	for i := range runs {
		runs[i] = &run{dir: gitProject(t, map[string]string{
			"slipway.yaml": "registry: localhost:5000\nimages: [{name: web}]\n",
			// Different steps, so that neither run is a pure cache hit of the other.
			"Dockerfile": fmt.Sprintf("FROM %s\nRUN sleep 1 && echo run-%d-%d > /which\n", base, i, time.Now().UnixNano()),
		})}
	}
	results := make(chan *run)
	for _, r := range runs {
		cmd := slipwayCmd(t, r.dir, []string{"XDG_CACHE_HOME=" + cacheHome}, "build", "--progress", "plain")
		go func() {
			r.res, r.err = runCmd(cmd)
			results <- r
		}()
	}
	for range runs {
		<-results
	}
	for i, r := range runs {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.res.code != 0 || !buildLine.MatchString(r.res.stdout) {
			t.Errorf("run %d: exit %d, stdout %q\n%s", i, r.res.code, r.res.stdout, r.res.stderr)
		}
	}
	checkNoLeftovers(t, buildkitRoot(cacheHome))
}

func TestBuildMissingBuildkitd(t *testing.T) {
	// The binary alone in a folder, and a PATH without bin/ (nor any
	// other buildkitd): nothing to start.
	bin := filepath.Join(t.TempDir(), "slipway")
	if out, err := exec.Command("cp", testenv.Slipway(t), bin).CombinedOutput(); err != nil {
		t.Fatalf("copying slipway: %v\n%s", err, out)
	}
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "buildkitd")); err == nil || d == filepath.Join(testenv.RepoRoot(t), "bin") {
			continue
		}
		path = append(path, d)
	}
	dir := gitProject(t, map[string]string{
		"slipway.yaml": "registry: localhost:5000\nimages: [{name: web}]\n",
		"Dockerfile":   "FROM scratch\nCOPY Dockerfile /\n",
	})
	cmd := slipwayCmd(t, dir, []string{
		"XDG_CACHE_HOME=" + t.TempDir(),
		"PATH=" + strings.Join(path, string(os.PathListSeparator)),
		"BUILDKIT_HOST=",
	}, "build")
	cmd.Path, cmd.Args[0] = bin, bin
	r, err := runCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "hint: run make tools, or set BUILDKIT_HOST") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestBuildPreflight(t *testing.T) {
	const unset = "SLIPWAY_TEST_UNSET_SECRET"
	tests := []struct {
		name  string
		image string
		want  string
	}{
		{"missing context", "context: ./nowhere", "context directory "},
		{"missing Dockerfile", "dockerfile: Nope.Dockerfile", "Dockerfile "},
		{"missing secret env", "secrets: [{id: token, env: " + unset + "}]", "secret token: environment variable " + unset + " is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitProject(t, map[string]string{
				"slipway.yaml": "registry: localhost:5000\nimages:\n  - name: web\n    " + tt.image + "\n",
				"Dockerfile":   "FROM scratch\nCOPY Dockerfile /\n",
			})
			// An address that cannot answer: an error about it would mean
			// BuildKit was contacted before the inputs were checked.
			r := slipway(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome, "BUILDKIT_HOST=unix:///nonexistent/buildkitd.sock", unset + "="}, "build")
			if r.code != 1 || r.stdout != "" {
				t.Errorf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if strings.Contains(r.stderr, "nonexistent") || strings.Contains(r.stderr, "BuildKit") {
				t.Errorf("BuildKit was contacted before the inputs were checked:\n%s", r.stderr)
			}
		})
	}
}

func TestPushNeverBuilt(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"no store", func(*testing.T, string) {}},
		{"empty store", func(t *testing.T, dir string) {
			if _, err := store.Open(filepath.Join(dir, ".slipway", "store")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := gitProject(t, map[string]string{
				"slipway.yaml": "registry: 127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/team\nimages: [{name: web}]\n",
			})
			tt.setup(t, dir)
			r := slipway(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome, "DOCKER_CONFIG=" + t.TempDir()}, "push")
			if r.code != 1 || r.stdout != "" {
				t.Errorf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"image web ", "slipway build web"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}
