// Package builder builds container images from Dockerfiles with BuildKit
// and puts them in the local image store.
//
// [Connect] reaches BuildKit: a given address (unix://, tcp:// with mutual
// TLS, docker-container://, podman-container://, nerdctl-container://,
// kube-pod://, ssh://), or, with none, a private buildkitd started for this
// run and stopped by [Builder.Close]. [Builder.Build] runs Dockerfile builds
// (BuildKit's built-in dockerfile.v0 frontend) concurrently on that daemon,
// which shares its cache between them, and exports each result into a
// [store.Store]. A [Fleet] builds each platform on a daemon that declares
// it and assembles the multi-platform index in the store. [Preflight] finds
// the mistakes in build requests that need no BuildKit to find.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"  // docker-container://
	_ "github.com/moby/buildkit/client/connhelper/kubepod"          // kube-pod://
	_ "github.com/moby/buildkit/client/connhelper/nerdctlcontainer" // nerdctl-container://
	_ "github.com/moby/buildkit/client/connhelper/podmancontainer"  // podman-container://
	_ "github.com/moby/buildkit/client/connhelper/ssh"              // ssh://
	"google.golang.org/grpc/status"
)

// ConnectOptions says how to reach BuildKit. The zero value starts a
// private buildkitd.
type ConnectOptions struct {
	// Address of a running buildkitd. Empty: start a private one for this
	// run. The library does not read BUILDKIT_HOST: callers pass it here.
	Address string
	// TLS files for a tcp:// address. Nil: no TLS.
	TLS *TLSFiles

	// Root is the private buildkitd's state and cache directory.
	// Default: $XDG_CACHE_HOME/slipway/buildkit (os.UserCacheDir), so that
	// the cache survives between runs. Runs that share a root take turns:
	// a second run waits until the first has closed its builder.
	Root string
	// Buildkitd is the buildkitd program. Default: found in PATH, next to
	// the running executable, or in ./bin. runc is looked for in the same
	// places.
	Buildkitd string
	// StartTimeout bounds how long to wait for BuildKit to answer.
	// Default: 30s.
	StartTimeout time.Duration
	// StopTimeout is how long the private buildkitd gets to stop after
	// SIGTERM before it is killed. Default: 10s.
	StopTimeout time.Duration
	// Log receives the private buildkitd's output (for --debug).
	// Default: none; its last lines are kept for error messages.
	Log io.Writer
	// Progress receives notes on what Connect waits for (another run
	// holding the root). Default: none.
	Progress io.Writer
}

// TLSFiles are the file names of a mutual-TLS setup for tcp:// addresses.
type TLSFiles struct {
	CA         string // CA certificate that signed the server's
	Cert, Key  string // client certificate and key; both or neither
	ServerName string // name to verify in the server's certificate; default: the address's host
}

// Builder is a connection to BuildKit, and the private buildkitd behind it
// when Connect started one. Close it.
type Builder struct {
	c      *client.Client
	addr   string
	daemon *daemon // nil when connected to a given address
}

// Connect reaches BuildKit as opts says and waits until it answers.
// With no address it starts a private buildkitd (see ConnectOptions.Root);
// missing programs are reported before anything starts, with hints (see
// Hints). Cancelling ctx while waiting stops what was started.
func Connect(ctx context.Context, opts ConnectOptions) (*Builder, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.Address != "" {
		return connectRemote(ctx, opts)
	}
	return startPrivate(ctx, opts)
}

func connectRemote(ctx context.Context, opts ConnectOptions) (*Builder, error) {
	var copts []client.ClientOpt
	if t := opts.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			return nil, errors.New("connecting to BuildKit: TLS needs both a client certificate and its key")
		}
		for _, f := range []string{t.CA, t.Cert, t.Key} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("connecting to BuildKit: TLS file: %w", err)
			}
		}
		copts = append(copts, client.WithServerConfig(t.ServerName, t.CA))
		if t.Cert != "" {
			copts = append(copts, client.WithCredentials(t.Cert, t.Key))
		}
	}
	c, err := client.New(ctx, opts.Address, copts...)
	if err != nil {
		return nil, withHints(fmt.Errorf("connecting to BuildKit at %s: %w", opts.Address, err), hintRemote)
	}
	if err := ping(ctx, c, opts.StartTimeout); err != nil {
		c.Close()
		return nil, withHints(fmt.Errorf("connecting to BuildKit at %s: %w", opts.Address, err), hintRemote)
	}
	return &Builder{c: c, addr: opts.Address}, nil
}

const hintRemote = "check that buildkitd runs at that address, or set none (BUILDKIT_HOST, --buildkit-host, buildkit.host) to let slipway start its own"

// ping asks for the daemon's workers: the sign that it can build.
func ping(ctx context.Context, c *client.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return cleanRPCError(err)
	}
	if len(ws) == 0 {
		return errors.New("BuildKit has no workers")
	}
	return nil
}

// cleanRPCError drops gRPC's wrapping ("rpc error: code = ... desc =",
// "transport: Error while dialing:") so that the cause reads plainly.
func cleanRPCError(err error) error {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "Error while dialing: "); ok {
		return errors.New(strings.TrimRight(after, `"`))
	}
	if s, ok := status.FromError(err); ok && s.Message() != "" {
		return errors.New(s.Message())
	}
	return err
}

// DefaultRoot returns the private buildkitd's default root directory.
func DefaultRoot() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory: %w", err)
	}
	return filepath.Join(dir, "slipway", "buildkit"), nil
}

func startPrivate(ctx context.Context, opts ConnectOptions) (b *Builder, err error) {
	progs, err := findPrograms(opts.Buildkitd, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	root := opts.Root
	if root == "" {
		if root, err = DefaultRoot(); err != nil {
			return nil, err
		}
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return nil, fmt.Errorf("creating BuildKit root: %w", err)
	}
	lock, err := lockRoot(ctx, root, opts.Progress)
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(progs, root, lock, opts.Log, opts.StopTimeout)
	if err != nil {
		lock.Close()
		return nil, err
	}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := d.waitReady(wctx); err != nil {
		return nil, err
	}
	c, err := client.New(ctx, d.address())
	if err != nil {
		return nil, fmt.Errorf("connecting to buildkitd: %w", err)
	}
	if err := ping(wctx, c, opts.StartTimeout); err != nil {
		c.Close()
		select {
		case <-d.exited:
			return nil, d.exitError("buildkitd exited while starting")
		default:
		}
		return nil, fmt.Errorf("waiting for buildkitd to answer: %w%s", err, d.logTail())
	}
	return &Builder{c: c, addr: d.address(), daemon: d}, nil
}

// Address is where BuildKit is reached: the given address, or the private
// daemon's unix socket.
func (b *Builder) Address() string { return b.addr }

// Client is the underlying BuildKit client, for callers that need more than
// Build (disk usage, pruning).
func (b *Builder) Client() *client.Client { return b.c }

// Close closes the connection and stops the private buildkitd, if any:
// SIGTERM, then SIGKILL after ConnectOptions.StopTimeout; its socket
// directory is removed and the root is released for the next run.
// Calling Close again does nothing.
func (b *Builder) Close() error {
	err := b.c.Close()
	if b.daemon != nil {
		if derr := b.daemon.stop(); derr != nil {
			err = derr
		}
	}
	if err != nil && strings.Contains(err.Error(), "grpc: the client connection is closing") {
		err = nil
	}
	return err
}

// daemonExited is closed when the private daemon ends; nil for a given address.
func (b *Builder) daemonExited() <-chan struct{} {
	if b.daemon == nil {
		return nil
	}
	return b.daemon.exited
}

// Schemes are the BuildKit address forms slipway connects to.
var Schemes = []string{"unix://", "tcp://", "docker-container://", "kube-pod://", "ssh://"}

// ValidateAddress checks that addr uses one of Schemes, before any
// connection is tried.
func ValidateAddress(addr string) error {
	for _, s := range Schemes {
		if strings.HasPrefix(addr, s) && len(addr) > len(s) {
			return nil
		}
	}
	return fmt.Errorf("%q is not a BuildKit address: use one of %s", addr, strings.Join(Schemes, ", "))
}
