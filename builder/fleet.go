package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/bklog"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slipway-build/slipway/internal/store"
)

// Node is a BuildKit daemon that builds the platforms it declares.
type Node struct {
	// Name shows in progress, errors and Result.Nodes. Default: the
	// builder's address.
	Name string
	// Platforms are the platforms it builds, such as "linux/arm64".
	Platforms []string
	Builder   *Builder
}

// Fleet is the BuildKit daemons of one run. Each platform of an image is
// built on a node that declares it: of several, the one with the fewest
// builds running (the first on a tie). Platforms no node declares, and
// images that name no platform, go to Default. An image built on several
// daemons is exported one platform group at a time into the store and
// assembled there into one index; when any part fails, nothing is stored.
type Fleet struct {
	Nodes []Node
	// Default builds what no node declares; nil when there is no such
	// build (a build that needs it then fails).
	Default *Builder
}

// member is one daemon of a running Build and its load.
type member struct {
	name      string
	b         *Builder
	platforms map[string]bool // normalized
	running   int
}

// part is what one daemon builds of one image.
type part struct {
	m         *member
	platforms []string // as the request names them; nil: the daemon's own
}

func normalPlatform(p string) string {
	sp, err := platforms.Parse(p)
	if err != nil {
		return p
	}
	return platforms.Format(platforms.Normalize(sp))
}

// Name is what the daemon is called in progress and reports: its address,
// or "private" for the buildkitd that Connect started.
func (b *Builder) Name() string {
	if b.daemon != nil {
		return "private"
	}
	return b.addr
}

// Build builds reqs on the fleet, at most opts.Jobs images at once, and
// puts each image in st under its name, as Builder.Build does.
func (f *Fleet) Build(ctx context.Context, reqs []Request, st *store.Store, opts BuildOptions) ([]Result, error) {
	if err := Preflight(reqs, opts.Getenv); err != nil {
		return nil, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	mode := progressui.DisplayMode(opts.ProgressMode)
	out := opts.Progress
	if out == nil {
		out, mode = io.Discard, progressui.QuietMode
	}
	display, err := progressui.NewDisplay(out, mode)
	if err != nil {
		return nil, fmt.Errorf("progress display: %w", err)
	}

	// BuildKit's client logs its warnings (a local cache that is not there
	// yet) through logrus: send them to the progress writer, not stderr.
	logger := logrus.New()
	logger.SetOutput(out)
	logger.SetLevel(logrus.WarnLevel)
	if mode == progressui.QuietMode || mode == progressui.RawJSONMode {
		logger.SetOutput(io.Discard)
	}
	ctx = bklog.WithLogger(ctx, logrus.NewEntry(logger))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	var members []*member
	var def *member
	if f.Default != nil {
		def = &member{name: f.Default.Name(), b: f.Default}
		members = append(members, def)
	}
	for _, n := range f.Nodes {
		m := &member{name: n.Name, b: n.Builder, platforms: map[string]bool{}}
		if m.name == "" {
			m.name = n.Builder.Name()
		}
		for _, p := range n.Platforms {
			m.platforms[normalPlatform(p)] = true
		}
		members = append(members, m)
	}
	for _, m := range members {
		if exited := m.b.daemonExited(); exited != nil {
			go func() {
				select {
				case <-exited:
					cancel(m.b.daemon.exitError("buildkitd exited during the build"))
				case <-ctx.Done():
				}
			}()
		}
	}

	statusCh := make(chan *client.SolveStatus)
	displayDone := make(chan struct{})
	var bkWarnings []client.VertexWarning
	go func() {
		defer close(displayDone)
		// The display gets its own context: it must drain statusCh to the
		// end even when the build is cancelled.
		bkWarnings, _ = display.UpdateFrom(context.Background(), statusCh)
	}()

	run := &fleetRun{members: members, def: def, nodes: len(f.Nodes) > 0, st: st, statusCh: statusCh,
		getenv: opts.Getenv, named: len(reqs) > 1}
	results := make([]Result, len(reqs))
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, opts.Jobs)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = &BuildError{Image: r.Name, Err: context.Cause(ctx)}
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = run.buildImage(ctx, r)
			if errs[i] != nil {
				cancel(errs[i])
			}
		}()
	}
	wg.Wait()
	close(statusCh)
	<-displayDone
	if mode != progressui.QuietMode && mode != progressui.RawJSONMode {
		printWarnings(out, bkWarnings)
		for _, w := range run.warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
	}

	if err := joinBuildErrors(ctx, errs); err != nil {
		return results, err
	}
	return results, nil
}

// fleetRun is the state of one Fleet.Build.
type fleetRun struct {
	members  []*member
	def      *member
	nodes    bool // the fleet has nodes: progress names them
	named    bool // several images: progress names them
	st       *store.Store
	statusCh chan<- *client.SolveStatus
	getenv   func(string) string

	mu       sync.Mutex
	warnings []string
}

// assign picks a daemon for every platform of r and counts the builds it
// takes on; done gives them back.
func (run *fleetRun) assign(r Request) (parts []part, done func(), err error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	byMember := map[*member]int{}
	add := func(m *member, p string) {
		i, ok := byMember[m]
		if !ok {
			i = len(parts)
			byMember[m] = i
			parts = append(parts, part{m: m})
		}
		if p != "" {
			parts[i].platforms = append(parts[i].platforms, p)
		}
	}
	if len(r.Platforms) == 0 {
		if run.def == nil {
			return nil, nil, errors.New("no BuildKit daemon for an image without platforms: name its platforms, or set buildkit.host")
		}
		add(run.def, "")
	}
	for _, p := range r.Platforms {
		np := normalPlatform(p)
		var pick *member
		for _, m := range run.members {
			if m.platforms[np] && (pick == nil || m.running < pick.running) {
				pick = m
			}
		}
		if pick == nil {
			pick = run.def
		}
		if pick == nil {
			return nil, nil, fmt.Errorf("no BuildKit node declares platform %s", np)
		}
		add(pick, p)
	}
	for _, pt := range parts {
		pt.m.running++
	}
	return parts, func() {
		run.mu.Lock()
		defer run.mu.Unlock()
		for _, pt := range parts {
			pt.m.running--
		}
	}, nil
}

func (run *fleetRun) warn(ws []string) {
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, w := range ws {
		dup := false
		for _, have := range run.warnings {
			dup = dup || have == w
		}
		if !dup {
			run.warnings = append(run.warnings, w)
		}
	}
}

// buildImage builds r on the daemons assign picks and stores the image.
func (run *fleetRun) buildImage(ctx context.Context, r Request) (Result, error) {
	fail := func(err error) (Result, error) {
		return Result{}, &BuildError{Image: r.Name, Err: err}
	}
	parts, done, err := run.assign(r)
	if err != nil {
		return fail(err)
	}
	defer done()
	stage, err := run.st.Stage()
	if err != nil {
		return fail(err)
	}
	defer stage.Discard()

	// Each part is a build of r for its platforms; the first part to fail
	// stops the others.
	pctx, pcancel := context.WithCancelCause(ctx)
	defer pcancel(context.Canceled)
	descs := make([]v1.Descriptor, len(parts))
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for i, pt := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr := r
			if len(parts) > 1 {
				pr.Platforms = pt.platforms
			}
			d, ws, err := pt.m.b.solve(pctx, pr, stage, run.statusCh, run.prefix(r, pt), run.getenv)
			run.warn(ws)
			if err != nil {
				var be *BuildError
				if run.nodes && errors.As(err, &be) && be.Node == "" {
					be.Node = pt.m.name
					be.Err = goneError(be.Err)
				}
				once.Do(func() { first = err })
				pcancel(err)
				return
			}
			descs[i] = d
		}()
	}
	wg.Wait()
	if first != nil {
		return Result{}, first
	}

	desc := descs[0]
	if len(parts) > 1 {
		var manifests []v1.Descriptor
		for _, d := range descs {
			ms, err := platformManifests(stage, d)
			if err != nil {
				return fail(err)
			}
			manifests = append(manifests, ms...)
		}
		if desc, err = stage.CommitIndex(r.Name, manifests, r.Annotations); err != nil {
			return fail(err)
		}
	} else if err := stage.Commit(r.Name, desc); err != nil {
		return fail(err)
	}
	res := Result{
		Name:      r.Name,
		Digest:    desc.Digest.String(),
		MediaType: string(desc.MediaType),
		Size:      desc.Size,
		Store:     run.st.Dir(),
		Nodes:     map[string]string{},
	}
	res.Platforms, res.PlatformDigests, err = describe(run.st, desc)
	if err != nil {
		return fail(err)
	}
	for _, pt := range parts {
		for _, p := range pt.platforms {
			res.Nodes[normalPlatform(p)] = pt.m.name
		}
		if pt.platforms == nil {
			for _, p := range res.Platforms {
				res.Nodes[p] = pt.m.name
			}
		}
	}
	return res, nil
}

// prefix names the image in progress when several build at once, and the
// platforms and daemon of the part when the fleet has nodes:
// "[web linux/arm64 @ tcp://arm:1234 2/3] RUN ...".
func (run *fleetRun) prefix(r Request, pt part) string {
	if !run.nodes {
		if run.named {
			return r.Name
		}
		return ""
	}
	ps := "default platform"
	if len(pt.platforms) > 0 {
		ps = strings.Join(pt.platforms, ",")
	}
	return r.Name + " " + ps + " @ " + pt.m.name
}

// platformManifests are the manifests of an exported image, to go into an
// index: a manifest with its platform (from its config), or every entry
// of an index (attestations included).
func platformManifests(stage *store.Staging, d v1.Descriptor) ([]v1.Descriptor, error) {
	raw, err := stage.ReadBlob(d.Digest)
	if err != nil {
		return nil, err
	}
	if d.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, fmt.Errorf("reading index %s: %w", d.Digest, err)
		}
		return idx.Manifests, nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
	}
	cfgRaw, err := stage.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
		return nil, fmt.Errorf("reading image config %s: %w", m.Config.Digest, err)
	}
	out := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size,
		Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}}
	return []v1.Descriptor{out}, nil
}

// goneError says plainly that a daemon went away (killed, evicted, its
// connection cut) instead of gRPC's "failed to receive status: rpc error:
// code = Unavailable desc = ...".
func goneError(err error) error {
	if grpcerrors.Code(err) != codes.Unavailable {
		return err
	}
	var st interface{ GRPCStatus() *status.Status }
	if errors.As(err, &st) && st.GRPCStatus().Message() != "" {
		return fmt.Errorf("the BuildKit daemon stopped answering: %s", st.GRPCStatus().Message())
	}
	return fmt.Errorf("the BuildKit daemon stopped answering: %w", err)
}
