package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Buildkitd is a buildkitd started for a test, on runc with the OCI worker.
type Buildkitd struct {
	// Addr is the unix:// address to give buildctl or BUILDKIT_HOST.
	Addr string
	Root string
	Log  string
	cmd  *exec.Cmd
}

// StartBuildkitd runs bin/buildkitd with root as its state folder (a new
// temporary one when root is empty) until the test ends.
func StartBuildkitd(t testing.TB, root string) *Buildkitd {
	t.Helper()
	bin := Bin(t, "buildkitd")
	buildctl := Bin(t, "buildctl")
	RequireTools(t, "runc")
	if root == "" {
		root = t.TempDir()
	}
	sockDir, err := os.MkdirTemp("", "bk-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Buildkitd{Addr: "unix://" + filepath.Join(sockDir, "buildkitd.sock"), Root: root, Log: filepath.Join(sockDir, "buildkitd.log")}
	logf, err := os.Create(b.Log)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(bin, "--root", root, "--addr", b.Addr, "--oci-worker=true", "--containerd-worker=false")
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		os.RemoveAll(sockDir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := exec.CommandContext(ctx, buildctl, "--addr", b.Addr, "debug", "workers").Run()
		if err == nil {
			return b
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(b.Log)
			t.Fatalf("buildkitd did not answer: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// String is for messages.
func (b *Buildkitd) String() string { return fmt.Sprintf("buildkitd at %s", b.Addr) }

// Kill ends the daemon at once (SIGKILL to its process group), as a node
// that dies in the middle of a build.
func (b *Buildkitd) Kill() error {
	return syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
}
