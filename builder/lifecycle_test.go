package builder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-build/slipway/internal/store"
)

// privateBuilder starts a private daemon for one test, with the default
// root under a private XDG_CACHE_HOME unless root is given.
func privateBuilder(t *testing.T, root string, progress *syncBuffer) *Builder {
	t.Helper()
	bin := requireBuildKit(t)
	opts := ConnectOptions{Buildkitd: bin, Root: root}
	if progress != nil {
		opts.Progress = progress
	}
	b, err := Connect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// waitForProcess waits until a process mentions s.
func waitForProcess(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(processesWith(s)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no process %q appeared", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPrivateDaemonLifecycle(t *testing.T) {
	requireBuildKit(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	b := privateBuilder(t, "", nil)
	root := filepath.Join(cache, "slipway", "buildkit")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("default root %s not used: %v", root, err)
	}
	sock := strings.TrimPrefix(b.Address(), "unix://")
	if len(processesWith("--root "+root)) != 1 {
		t.Fatalf("want one buildkitd on %s: %q", root, processesWith("--root "+root))
	}
	st := openStore(t)
	res, err := b.Build(context.Background(), []Request{{Name: "ok", Context: newContext(t, "FROM scratch\nCOPY a /a\n", map[string]string{"a": "a"})}}, st, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Store != st.Dir() {
		t.Errorf("result store = %s", res[0].Store)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	noProcessesWith(t, "--root "+root)
	if _, err := os.Stat(filepath.Dir(sock)); !os.IsNotExist(err) {
		t.Errorf("socket dir %s left: %v", filepath.Dir(sock), err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The cache stays for the next run.
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}

func TestCancelMidBuild(t *testing.T) {
	requireBuildKit(t)
	root := filepath.Join(t.TempDir(), "root")
	b := privateBuilder(t, root, nil)
	base := baseImage(t)
	const marker = "sleep 987"
	ctxDir := newContext(t, "FROM "+base+"\nRUN "+marker+"\n", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitForProcess(t, marker)
		cancel()
	}()
	_, err := b.Build(ctx, []Request{{Name: "slow", Context: ctxDir}}, openStore(t), BuildOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	noProcessesWith(t, marker)
	noProcessesWith(t, "--root "+root)
}

func TestDaemonDiesMidBuild(t *testing.T) {
	requireBuildKit(t)
	root := filepath.Join(t.TempDir(), "root")
	b := privateBuilder(t, root, nil)
	base := baseImage(t)
	const marker = "sleep 986"
	ctxDir := newContext(t, "FROM "+base+"\nRUN "+marker+"\n", nil)
	go func() {
		waitForProcess(t, marker)
		b.daemon.cmd.Process.Kill()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := b.Build(context.Background(), []Request{{Name: "slow", Context: ctxDir}}, openStore(t), BuildOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "buildkitd exited during the build") {
			t.Fatalf("err = %v, want the daemon's death", err)
		}
		t.Log(err)
	case <-time.After(2 * time.Minute):
		t.Fatal("build hangs after the daemon died")
	}
	b.Close()
	noProcessesWith(t, marker)
	noProcessesWith(t, "--root "+root)
	if m := mountsUnder(root); len(m) > 0 {
		t.Errorf("mounts left under the root: %q", m)
	}
}

func TestSharedRootTakesTurns(t *testing.T) {
	requireBuildKit(t)
	root := filepath.Join(t.TempDir(), "root")
	ctxDir := newContext(t, "FROM scratch\nCOPY a /a\n", map[string]string{"a": "a"})
	var second syncBuffer
	first := privateBuilder(t, root, nil)

	type outcome struct {
		b   *Builder
		err error
	}
	got := make(chan outcome, 1)
	go func() {
		b, err := Connect(context.Background(), ConnectOptions{Buildkitd: requireBuildKit(t), Root: root, Progress: &second})
		got <- outcome{b, err}
	}()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(second.String(), "waiting for another run") {
		if time.Now().After(deadline) {
			t.Fatal("second Connect did not wait for the root")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := first.Build(context.Background(), []Request{{Name: "a", Context: ctxDir}}, openStore(t), BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	o := <-got
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.b.Close()
	if _, err := o.b.Build(context.Background(), []Request{{Name: "b", Context: ctxDir}}, openStore(t), BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := o.b.Close(); err != nil {
		t.Fatal(err)
	}
	noProcessesWith(t, "--root "+root)
}

func TestCacheExportImport(t *testing.T) {
	requireBuildKit(t)
	base := baseImage(t)
	registry, _, _ := strings.Cut(base, "/")
	ctxDir := newContext(t, "FROM "+base+"\nRUN echo expensive > /result\nCOPY a /a\n", map[string]string{"a": "a"})
	const runStep = "RUN echo expensive > /result"

	cachedRun := func(vs map[string]bool) (cached, seen bool) {
		for name, c := range vs {
			if strings.Contains(name, runStep) {
				seen = true
				cached = cached || c
			}
		}
		return cached, seen
	}
	tests := []struct {
		name       string
		from, to   string
		exportedAt string // a file that exists once the cache is exported
	}{
		{name: "local", from: "type=local,src=CACHE", to: "type=local,dest=CACHE,mode=max", exportedAt: "CACHE/index.json"},
		{name: "registry", from: "type=registry,ref=" + registry + "/cache:build", to: "type=registry,ref=" + registry + "/cache:build,mode=max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cacheDir := filepath.Join(dir, "cache")
			expand := func(s string) string { return strings.ReplaceAll(s, "CACHE", cacheDir) }
			buildOn := func(root string, r Request) map[string]bool {
				t.Helper()
				b := privateBuilder(t, filepath.Join(dir, root), nil)
				defer b.Close()
				var progress bytes.Buffer
				r.Name, r.Context = "cached", ctxDir
				if _, err := b.Build(context.Background(), []Request{r}, openStore(t), BuildOptions{Progress: &progress, ProgressMode: "rawjson"}); err != nil {
					t.Fatal(err)
				}
				return vertexStatus(t, progress.Bytes())
			}
			first := buildOn("root1", Request{CacheTo: []string{expand(tt.to)}})
			if c, seen := cachedRun(first); !seen || c {
				t.Fatalf("first build: RUN seen=%v cached=%v", seen, c)
			}
			if tt.exportedAt != "" {
				if _, err := os.Stat(expand(tt.exportedAt)); err != nil {
					t.Fatalf("no cache exported: %v", err)
				}
			}
			// An empty root without the cache runs the step (the control)...
			if c, _ := cachedRun(buildOn("root2", Request{})); c {
				t.Fatal("RUN cached on an empty root without a cache import")
			}
			// ...and with the imported cache does not.
			if c, seen := cachedRun(buildOn("root3", Request{CacheFrom: []string{expand(tt.from)}})); !seen || !c {
				t.Errorf("RUN not cached from the imported cache (seen=%v)", seen)
			}
		})
	}
}

func TestSSHForwarding(t *testing.T) {
	b := sharedBuilder(t)
	base := baseImage(t)
	// Any unix socket stands in for the agent: the step only checks that
	// the forwarded socket is there.
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	df := "FROM " + base + "\nRUN --mount=type=ssh,id=deploy test -S $SSH_AUTH_SOCK && echo forwarded > /ssh\n"
	st := openStore(t)
	if _, err := b.Build(context.Background(), []Request{{Name: "ssh", Context: newContext(t, df, nil), SSH: []string{"deploy=" + sock}}}, st, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	img, err := st.Image("ssh")
	if err != nil {
		t.Fatal(err)
	}
	if f := imageFiles(t, img); f["ssh"] != "forwarded\n" {
		t.Errorf("/ssh = %q", f["ssh"])
	}
}

// TestHelperSlipway plays a slipway run in a process of its own: it
// starts a private daemon on $HELPER_ROOT, prints "ready", then either
// waits to be killed (HELPER_MODE=wait) or builds a long RUN step until
// SIGINT cancels it (HELPER_MODE=build), closing the builder on the way out.
func TestHelperSlipway(t *testing.T) {
	mode := os.Getenv("HELPER_MODE")
	if mode == "" {
		t.Skip("helper process only")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b, err := Connect(ctx, ConnectOptions{Buildkitd: os.Getenv("HELPER_BUILDKITD"), Root: os.Getenv("HELPER_ROOT")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fmt.Println("ready", b.Address())
	if mode == "wait" {
		select {}
	}
	st, err := store.Open(os.Getenv("HELPER_STORE"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Build(ctx, []Request{{Name: "slow", Context: os.Getenv("HELPER_CONTEXT")}}, st, BuildOptions{})
	fmt.Println("build:", err)
}

func TestParentEnds(t *testing.T) {
	bin := requireBuildKit(t)
	base := baseImage(t)
	// wait: killed while idle; build: SIGINT during a RUN step; kill:
	// SIGKILL during a RUN step, which leaves the step's container to the
	// next run on the same root.
	for _, mode := range []string{"wait", "build", "kill"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			const marker = "sleep 985"
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSlipway$", "-test.v")
			helperMode := mode
			if mode == "kill" {
				helperMode = "build"
			}
			cmd.Env = append(os.Environ(), "HELPER_MODE="+helperMode, "HELPER_ROOT="+root, "HELPER_BUILDKITD="+bin,
				"HELPER_CONTEXT="+newContext(t, "FROM "+base+"\nRUN "+marker+"\n", nil),
				"HELPER_STORE="+filepath.Join(dir, "store"))
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			lines := bufio.NewScanner(out)
			var log []string
			var sockDir string
			for lines.Scan() {
				log = append(log, lines.Text())
				if addr, ok := strings.CutPrefix(lines.Text(), "ready unix://"); ok {
					sockDir = filepath.Dir(addr)
					break
				}
			}
			go func() {
				for lines.Scan() {
				}
			}()
			if len(processesWith("--root "+root)) == 0 {
				t.Fatalf("helper started no buildkitd:\n%s", strings.Join(log, "\n"))
			}
			if mode == "wait" {
				// Killed without a chance to clean up: the kernel ends buildkitd.
				cmd.Process.Kill()
			} else {
				waitForProcess(t, marker)
				if mode == "kill" {
					cmd.Process.Kill()
				} else {
					cmd.Process.Signal(syscall.SIGINT)
				}
			}
			cmd.Wait()
			noProcessesWith(t, "--root "+root)
			if mode != "build" {
				// Killed runs leave their containers, mounts and socket
				// directory to the next run on the root, which removes them.
				b := privateBuilder(t, root, nil)
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(sockDir); sockDir == "" || !os.IsNotExist(err) {
				t.Errorf("socket dir %q left: %v", sockDir, err)
			}
			noProcessesWith(t, marker)
			if m := mountsUnder(root); len(m) > 0 {
				t.Errorf("mounts left under the root: %q", m)
			}
		})
	}
}

func mountsUnder(root string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
