package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Containerd is a private containerd (a node's runtime) for the length of
// a test: its own root, state and sockets under a test folder, the CRI
// plugin off.
type Containerd struct {
	// Socket is the gRPC address for ctr -a.
	Socket string
	Log    string
	ctr    string
	hosts  string
}

// StartContainerd runs Debian's containerd with a config of its own.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	RequireTools(t, "containerd", "ctr")
	bin, _ := exec.LookPath("containerd")
	ctr, _ := exec.LookPath("ctr")
	// Unix socket paths are short; t.TempDir can be long.
	dir, err := os.MkdirTemp("", "ctrd")
	if err != nil {
		t.Fatal(err)
	}
	c := &Containerd{Socket: filepath.Join(dir, "c.sock"), Log: filepath.Join(dir, "containerd.log"), ctr: ctr, hosts: filepath.Join(dir, "hosts")}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket, filepath.Join(dir, "t.sock"), filepath.Join(dir, "d.sock"))
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(c.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logf.Close()
		// The snapshots may hold mounts; unmount before removing.
		_ = exec.Command("sh", "-c", "grep -o '"+dir+"[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount").Run()
		_ = os.RemoveAll(dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if out, err := exec.Command(ctr, "-a", c.Socket, "version").CombinedOutput(); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(c.Log)
			t.Fatalf("containerd did not start: %v\n%s\n%s", err, out, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// TrustRegistry configures host (host:port) as a node would in
// /etc/containerd/certs.d: HTTPS with caFile as its CA. (containerd 1.6
// otherwise speaks plain HTTP to loopback hosts.)
func (c *Containerd) TrustRegistry(t testing.TB, host, caFile string) {
	t.Helper()
	d := filepath.Join(c.hosts, host)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("server = %q\n\n[host.%q]\n  ca = %q\n", "https://"+host, "https://"+host, caFile)
	if err := os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// PullOptions are how a node would be set up to pull.
type PullOptions struct {
	// Platform is os/arch to pull (and unpack) for.
	Platform string
	// User is "user:password", "" for anonymous.
	User string
}

// Pull runs ctr images pull for ref and returns its output and error: nil
// when the node's runtime could pull the image.
func (c *Containerd) Pull(ctx context.Context, ref string, o PullOptions) (string, error) {
	args := []string{"-a", c.Socket, "-n", "verify", "images", "pull"}
	if o.Platform != "" {
		args = append(args, "--platform", o.Platform)
	}
	if o.User != "" {
		args = append(args, "--user", o.User)
	}
	args = append(args, "--hosts-dir", c.hosts)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.ctr, append(args, ref)...).CombinedOutput()
	if o.User != "" {
		out = []byte(strings.ReplaceAll(string(out), o.User, "***"))
	}
	return string(out), err
}
