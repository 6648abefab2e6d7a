package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/client"

	"github.com/slipway-build/slipway/internal/testenv"
)

// archServer serves /amd64 and /arm64 (what the Dockerfile ADDs for its
// TARGETARCH); while block is set, a request for /arm64 is announced on
// armAsked and then held until the client goes away.
type archServer struct {
	*httptest.Server
	mu       sync.Mutex
	block    bool
	armAsked chan struct{}
}

func newArchServer(t *testing.T) *archServer {
	s := &archServer{armAsked: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arch := strings.TrimPrefix(r.URL.Path, "/")
		s.mu.Lock()
		block := s.block
		s.mu.Unlock()
		if arch == "arm64" && block {
			select {
			case s.armAsked <- struct{}{}:
			default:
			}
			<-r.Context().Done()
			return
		}
		fmt.Fprintf(w, "built for %s\n", arch)
	}))
	t.Cleanup(func() {
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// historyPlatforms lists the platform attribute of every build a daemon ran.
func historyPlatforms(t *testing.T, addr string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stream, err := c.ControlClient().ListenBuildHistory(ctx, &controlapi.BuildHistoryRequest{EarlyExit: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Record != nil {
			out = append(out, ev.Record.FrontendAttrs["platform"])
		}
	}
}

func TestReleaseNodes(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "buildctl", "registry", "runc")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	amd := testenv.StartBuildkitd(t, "")
	arm := testenv.StartBuildkitd(t, "")
	srv := newArchServer(t)

	dir := gitProject(t, map[string]string{
		"slipway.yaml": fmt.Sprintf(`registry: %s/team
buildkit:
  nodes:
    - host: %s
      platforms: [linux/amd64]
    - host: %s
      platforms: [linux/arm64]
images:
  - name: web
    platforms: [linux/amd64, linux/arm64]
`, reg.Host, amd.Addr, arm.Addr),
		"Dockerfile": "FROM scratch\nARG TARGETARCH\nADD " + srv.URL + "/${TARGETARCH} /arch.txt\nCOPY hello.txt /hello.txt\n",
		"hello.txt":  "hello\n",
	})
	// No private daemon may start: the nodes cover every platform.
	env := []string{"XDG_CACHE_HOME=" + t.TempDir(), "BUILDKIT_HOST="}
	reportPath := filepath.Join(t.TempDir(), "report.json")

	r := slipway(t, dir, env, "release", "--progress", "plain", "--report", reportPath)
	if r.code != 0 {
		t.Fatalf("release: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"[web linux/amd64 @ " + amd.Addr, "[web linux/arm64 @ " + arm.Addr} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress does not show %q:\n%s", want, r.stderr)
		}
	}
	rep := readReport(t, reportPath)
	img := rep.Images[0]
	if img.Nodes["linux/amd64"] != amd.Addr || img.Nodes["linux/arm64"] != arm.Addr || len(img.Nodes) != 2 {
		t.Errorf("report nodes %v, want amd64 on %s and arm64 on %s", img.Nodes, amd.Addr, arm.Addr)
	}

	// The pushed index has both platforms, each built for its own.
	tag := mustTag(t, img.Refs[0])
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatalf("reading the pushed index %s: %v", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d.String() != img.Digest {
		t.Errorf("pushed index %s, report says %s", d, img.Digest)
	}
	var got []string
	for _, m := range im.Manifests {
		got = append(got, m.Platform.String())
		one, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := one.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != m.Platform.Architecture {
			t.Errorf("manifest for %s has a config for %s", m.Platform, cf.Architecture)
		}
		if content, _ := imageLayerFile(t, one, "arch.txt"); content != "built for "+cf.Architecture+"\n" {
			t.Errorf("%s image: /arch.txt = %q", m.Platform, content)
		}
	}
	if strings.Join(got, " ") != "linux/amd64 linux/arm64" {
		t.Errorf("index platforms %v, want linux/amd64 linux/arm64", got)
	}

	// Each daemon built its own platform only.
	for _, d := range []struct {
		addr, want string
	}{{amd.Addr, "linux/amd64"}, {arm.Addr, "linux/arm64"}} {
		ps := historyPlatforms(t, d.addr)
		if len(ps) == 0 {
			t.Errorf("%s built nothing", d.addr)
		}
		for _, p := range ps {
			if p != d.want {
				t.Errorf("%s built for %q, want only %s", d.addr, p, d.want)
			}
		}
	}

	// A new commit; the arm64 node dies in the middle of its build: the
	// release fails and writes no tag.
	tagsBefore := listTags(t, tag.Repository)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "again")
	srv.mu.Lock()
	srv.block = true
	srv.mu.Unlock()
	cmd := slipwayCmd(t, dir, env, "release", "--progress", "plain")
	done := make(chan result, 1)
	go func() {
		res, err := runCmd(cmd)
		if err != nil {
			res.stderr = err.Error()
			res.code = -1
		}
		done <- res
	}()
	select {
	case <-srv.armAsked:
	case res := <-done:
		t.Fatalf("release ended before the arm64 build reached its ADD: exit %d\n%s", res.code, res.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatal("the arm64 node never asked for its file")
	}
	if err := arm.Kill(); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("release did not end after its arm64 node died")
	}
	if res.code != 1 {
		t.Errorf("release with a dead node: exit %d, want 1\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "building web on "+arm.Addr+": the BuildKit daemon stopped answering") {
		t.Errorf("the error does not say which node went away:\n%s", res.stderr)
	}
	if after := listTags(t, tag.Repository); strings.Join(after, " ") != strings.Join(tagsBefore, " ") {
		t.Errorf("tags after the failed release %v, before %v", after, tagsBefore)
	}
	short := git(t, dir, "rev-parse", "--short=7", "HEAD")
	if _, err := remote.Head(tag.Repository.Tag(short)); err == nil {
		t.Errorf("the failed release pushed %s", tag.Repository.Tag(short))
	}
}

func listTags(t *testing.T, repo name.Repository) []string {
	t.Helper()
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}
