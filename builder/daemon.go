package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const hintTools = "run make tools, or set BUILDKIT_HOST"

// daemon is a buildkitd that this process started and must stop.
type daemon struct {
	cmd  *exec.Cmd
	runc string
	root string
	tmp  string // private directory holding the socket
	sock string
	log  *tailBuffer

	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // set before exited is closed

	lock        *os.File // exclusive flock on the root, held for the daemon's life
	stopTimeout time.Duration
	closeOnce   sync.Once
	closeErr    error
}

// programs says where the programs needed to run buildkitd are.
type programs struct {
	buildkitd   string
	runc        string
	rootlesskit string // empty when running as root
	path        string // PATH for the daemon: ours plus the directories we found programs in
}

// searchDirs are the places looked at after PATH: next to the running
// executable, and ./bin.
func searchDirs() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, filepath.Join(wd, "bin"))
	}
	return dirs
}

// lookPath finds name in PATH, then in dirs.
func lookPath(name string, dirs []string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, true
		}
		return p, true
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// findPrograms checks, before anything starts, that buildkitd, runc and (when
// not root) rootlesskit with newuidmap/newgidmap can be found.
func findPrograms(buildkitd string, euid int) (programs, error) {
	dirs := searchDirs()
	var p programs
	if buildkitd != "" {
		if _, err := os.Stat(buildkitd); err != nil {
			return p, withHints(fmt.Errorf("%w at %s", ErrNoBuildkitd, buildkitd), hintTools)
		}
		abs, _ := filepath.Abs(buildkitd)
		p.buildkitd = abs
	} else {
		var ok bool
		if p.buildkitd, ok = lookPath("buildkitd", dirs); !ok {
			return p, withHints(fmt.Errorf("%w in PATH, next to %s or in ./bin", ErrNoBuildkitd, exeName()), hintTools)
		}
	}
	// runc is looked up by buildkitd in its PATH: give it ours plus the
	// directories where we look for programs.
	pathDirs := append([]string{filepath.Dir(p.buildkitd)}, dirs...)
	p.path = strings.Join(append(filepath.SplitList(os.Getenv("PATH")), pathDirs...), string(os.PathListSeparator))
	var ok bool
	if p.runc, ok = lookPath("runc", pathDirs); !ok {
		return p, withHints(fmt.Errorf("%w: buildkitd's OCI worker needs it", ErrNoRunc),
			"install runc (Debian: apt-get install -y runc)", hintTools)
	}
	if euid != 0 {
		var missing []string
		if p.rootlesskit, ok = lookPath("rootlesskit", pathDirs); !ok {
			missing = append(missing, "rootlesskit")
		}
		for _, n := range []string{"newuidmap", "newgidmap"} {
			if _, ok := lookPath(n, pathDirs); !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return p, withHints(fmt.Errorf("%w: missing %s", ErrNoRootlesskit, strings.Join(missing, ", ")),
				"install rootlesskit and uidmap (Debian: apt-get install -y rootlesskit uidmap), or run as root",
				hintTools)
		}
	}
	return p, nil
}

func exeName() string {
	if exe, err := os.Executable(); err == nil {
		return filepath.Base(exe)
	}
	return "this program"
}

// daemonArgs returns the command line that starts buildkitd: under
// rootlesskit when not root, as BuildKit's buildctl-daemonless.sh does.
func daemonArgs(p programs, root, sock string) []string {
	args := []string{p.buildkitd,
		"--root", root,
		"--addr", "unix://" + sock,
		"--oci-worker=true",
		"--containerd-worker=false",
	}
	if p.rootlesskit != "" {
		args = append([]string{p.rootlesskit}, args...)
	}
	return args
}

// lockRoot takes the exclusive lock on root, waiting for another run that
// holds it; progress hears why we wait.
func lockRoot(ctx context.Context, root string, progress io.Writer) (*os.File, error) {
	path := root + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking BuildKit root: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking BuildKit root %s: %w", root, err)
		}
		if !told && progress != nil {
			owner, _ := os.ReadFile(path)
			who := "another run"
			if pid, _, _ := strings.Cut(string(owner), "\n"); pid != "" {
				who += " (pid " + pid + ")"
			}
			fmt.Fprintf(progress, "waiting for %s to finish with the BuildKit cache at %s\n", who, root)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the BuildKit root lock %s: %w", path, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
	// A run that was killed left its socket directory behind: its path is
	// the lock file's second line.
	if prev, err := os.ReadFile(path); err == nil {
		lines := strings.Split(string(prev), "\n")
		if len(lines) > 1 && strings.HasPrefix(filepath.Base(lines[1]), sockDirPrefix) {
			os.RemoveAll(lines[1])
		}
	}
	writeLockInfo(f, "")
	return f, nil
}

const sockDirPrefix = "slipway-buildkit-"

// writeLockInfo records our pid (for the waiting message) and socket
// directory (for the next run to remove if we die) in the lock file; the
// flock is what counts.
func writeLockInfo(f *os.File, sockDir string) {
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"+sockDir+"\n"), 0)
	}
}

// startDaemon starts buildkitd on root and returns once it has started
// (not yet once it answers: see waitReady).
func startDaemon(p programs, root string, lock *os.File, logTo io.Writer, stopTimeout time.Duration) (*daemon, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating BuildKit root: %w", err)
	}
	tmp, err := os.MkdirTemp("", sockDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating buildkitd socket dir: %w", err)
	}
	writeLockInfo(lock, tmp)
	killStaleContainers(p.runc, root)
	d := &daemon{
		runc:        p.runc,
		root:        root,
		tmp:         tmp,
		sock:        filepath.Join(tmp, "buildkitd.sock"),
		log:         &tailBuffer{max: 16 << 10},
		exited:      make(chan struct{}),
		lock:        lock,
		stopTimeout: stopTimeout,
	}
	args := daemonArgs(p, root, d.sock)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+p.path)
	var out io.Writer = d.log
	if logTo != nil {
		out = io.MultiWriter(d.log, logTo)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, so that stopping reaches whatever buildkitd started;
	// killed by the kernel if we die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild holding the log pipe must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	d.cmd = cmd
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// waitReady waits until the daemon's socket accepts connections, the daemon
// exits, or ctx ends.
func (d *daemon) waitReady(ctx context.Context) error {
	for {
		c, err := net.DialTimeout("unix", d.sock, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-d.exited:
			return d.exitError("buildkitd exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("waiting for buildkitd to start: %w%s", context.Cause(ctx), d.logTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// exitError says how the daemon ended, with the end of its log.
func (d *daemon) exitError(what string) error {
	status := "no error"
	if d.waitErr != nil {
		status = d.waitErr.Error()
	}
	return fmt.Errorf("%s (%s)%s", what, status, d.logTail())
}

func (d *daemon) logTail() string {
	t := strings.TrimSpace(d.log.String())
	if t == "" {
		return ""
	}
	lines := strings.Split(t, "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "; buildkitd log:\n  " + strings.Join(lines, "\n  ")
}

func (d *daemon) address() string { return "unix://" + d.sock }

// stop ends the daemon: SIGTERM to its process group, SIGKILL after the
// grace period, then removes its private directory and releases the root.
func (d *daemon) stop() error {
	d.closeOnce.Do(func() {
		pgid := d.cmd.Process.Pid
		select {
		case <-d.exited:
		default:
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(d.stopTimeout):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-d.exited
			}
		}
		// buildkitd is gone; whatever it left in its group goes too, and
		// so do the containers it ran (they live in sessions of their own).
		syscall.Kill(-pgid, syscall.SIGKILL)
		killStaleContainers(d.runc, d.root)
		if err := os.RemoveAll(d.tmp); err != nil {
			d.closeErr = fmt.Errorf("removing buildkitd socket dir: %w", err)
		}
		if d.lock != nil {
			d.lock.Close()
		}
	})
	return d.closeErr
}

// killStaleContainers removes the runc containers a buildkitd on root
// left running: it was killed, or the run before ours was. buildkitd keeps
// one executor directory per running container, named by its runc id.
// Only called while holding the root's lock, so none is in use.
func killStaleContainers(runc, root string) {
	if os.Geteuid() != 0 {
		return // rootless containers die with rootlesskit's namespaces
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "runc-*", "executor", "*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		exec.CommandContext(ctx, runc, "delete", "--force", filepath.Base(d)).Run()
		cancel()
	}
	unmountUnder(root)
}

// unmountUnder detaches the mounts a killed buildkitd left under root
// (container root filesystems, cache mounts), deepest first.
func unmountUnder(root string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMountPath(f[4])
		if strings.HasPrefix(p, root+string(filepath.Separator)) {
			points = append(points, p)
		}
	}
	for i := len(points) - 1; i >= 0; i-- { // mountinfo lists parents first
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		cut := len(t.buf) - t.max
		if i := bytes.IndexByte(t.buf[cut:], '\n'); i >= 0 {
			cut += i + 1
		}
		t.buf = append(t.buf[:0], t.buf[cut:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
