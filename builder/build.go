package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/docker/cli/cli/config"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/bklog"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/sirupsen/logrus"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc/codes"

	"github.com/slipway-build/slipway/internal/store"
)

// BuildOptions are the options of one Build call.
type BuildOptions struct {
	// Jobs is how many images build at once. Default: 4.
	Jobs int
	// Progress receives BuildKit's progress display, and its warnings at
	// the end. Default: none.
	Progress io.Writer
	// ProgressMode is auto, tty, plain, rawjson or quiet. Default: auto
	// (tty when Progress is a terminal, else plain).
	ProgressMode string
}

// Result is what one Build request produced.
type Result struct {
	// Name is the request's name, under which the image is in the store.
	Name string
	// Digest of the image: of the manifest, or of the index when several
	// platforms were built.
	Digest string
	// MediaType of what Digest names (an OCI manifest or index).
	MediaType string
	// Size in bytes of what Digest names.
	Size int64
	// Platforms built, such as "linux/amd64".
	Platforms []string
	// PlatformDigests maps each platform to its manifest's digest.
	PlatformDigests map[string]string
	// Store is the store's directory.
	Store string
}

// BuildError is a failed build. When BuildKit points at a line of the
// Dockerfile (a syntax error, a failing RUN), File and Line say where.
type BuildError struct {
	Image string
	File  string // the Dockerfile's path as given (Context joined with Dockerfile)
	Line  int    // 1-based; 0 when unknown
	// Excerpt shows the lines around Line, as BuildKit prints them.
	Excerpt string
	Err     error
}

func (e *BuildError) Error() string {
	msg := strings.TrimPrefix(cleanRPCError(e.Err).Error(), "failed to solve: ")
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("building %s: %s:%d: %s", e.Image, e.File, e.Line, msg)
	}
	return fmt.Sprintf("building %s: %s", e.Image, msg)
}

func (e *BuildError) Unwrap() error { return e.Err }

// Build builds reqs on b's BuildKit, at most opts.Jobs at once, and puts
// each image in st under its name (replacing the older build of that name).
// It checks reqs with Preflight first. The first failure cancels the builds
// still running; the error then joins every failure that is not a
// consequence of that cancel. Results are in the order of reqs; on error,
// the entries of failed builds are zero.
func (b *Builder) Build(ctx context.Context, reqs []Request, st *store.Store, opts BuildOptions) ([]Result, error) {
	if err := Preflight(reqs, nil); err != nil {
		return nil, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
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
	if exited := b.daemonExited(); exited != nil {
		go func() {
			select {
			case <-exited:
				cancel(b.daemon.exitError("buildkitd exited during the build"))
			case <-ctx.Done():
			}
		}()
	}

	statusCh := make(chan *client.SolveStatus)
	displayDone := make(chan struct{})
	var warnings []client.VertexWarning
	go func() {
		defer close(displayDone)
		// The display gets its own context: it must drain statusCh to the
		// end even when the build is cancelled.
		warnings, _ = display.UpdateFrom(context.Background(), statusCh)
	}()

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
			prefix := ""
			if len(reqs) > 1 {
				prefix = r.Name
			}
			results[i], errs[i] = b.buildOne(ctx, r, st, statusCh, prefix)
			if errs[i] != nil {
				cancel(errs[i])
			}
		}()
	}
	wg.Wait()
	close(statusCh)
	<-displayDone
	if mode != progressui.QuietMode && mode != progressui.RawJSONMode {
		printWarnings(out, warnings)
	}

	if err := joinBuildErrors(ctx, errs); err != nil {
		return results, err
	}
	return results, nil
}

// joinBuildErrors keeps the failures that caused the cancel, not the
// cancellations they caused.
func joinBuildErrors(ctx context.Context, errs []error) error {
	cause := context.Cause(ctx)
	var keep []error
	for _, e := range errs {
		if e == nil {
			continue
		}
		var be *BuildError
		if cause != nil && errors.As(e, &be) && (errors.Is(be.Err, context.Canceled) || be.Err == cause) && e != cause {
			continue
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
	}
	return errors.Join(keep...)
}

func (b *Builder) buildOne(ctx context.Context, r Request, st *store.Store, statusCh chan<- *client.SolveStatus, prefix string) (Result, error) {
	fail := func(err error) (Result, error) {
		return Result{}, &BuildError{Image: r.Name, Err: err}
	}
	so, err := solveOpt(r)
	if err != nil {
		return fail(err)
	}
	stage, err := st.Stage()
	if err != nil {
		return fail(err)
	}
	defer stage.Discard()
	es := newExportStore(stage)
	so.Exports = []client.ExportEntry{{Type: client.ExporterOCI, Attrs: r.exportAttrs(), OutputStore: es}}

	ch := make(chan *client.SolveStatus)
	fwd := make(chan struct{})
	go func() {
		defer close(fwd)
		for s := range ch {
			if prefix != "" {
				for _, v := range s.Vertexes {
					v.Name = addPrefix(prefix, v.Name)
				}
			}
			statusCh <- s
		}
	}()
	resp, err := b.c.Solve(ctx, nil, so, ch)
	<-fwd
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			// Cancelled: say why (Ctrl-C, another image's failure, the daemon's death).
			return fail(cause)
		}
		if derr := b.daemonDied(err); derr != nil {
			return fail(derr)
		}
		return Result{}, sourceError(r, err)
	}

	desc, err := exportedDescriptor(resp.ExporterResponse)
	if err != nil {
		return fail(err)
	}
	if err := stage.Commit(r.Name, desc); err != nil {
		return fail(err)
	}
	res := Result{
		Name:      r.Name,
		Digest:    desc.Digest.String(),
		MediaType: string(desc.MediaType),
		Size:      desc.Size,
		Store:     st.Dir(),
	}
	res.Platforms, res.PlatformDigests, err = describe(st, desc)
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// daemonDied returns why the private daemon ended when err is the broken
// connection its death causes (the error may arrive before the exit is seen).
func (b *Builder) daemonDied(err error) error {
	if b.daemon == nil || grpcerrors.Code(err) != codes.Unavailable {
		return nil
	}
	select {
	case <-b.daemon.exited:
		return b.daemon.exitError("buildkitd exited during the build")
	case <-time.After(2 * time.Second):
		return nil
	}
}

// solveOpt turns r into a dockerfile.v0 solve, without its export.
func solveOpt(r Request) (client.SolveOpt, error) {
	ctxDir, err := filepath.Abs(r.Context)
	if err != nil {
		return client.SolveOpt{}, err
	}
	dfDir, err := filepath.Abs(filepath.Dir(r.dockerfilePath()))
	if err != nil {
		return client.SolveOpt{}, err
	}
	ctxFS, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("context: %w", err)
	}
	if len(r.Exclude) > 0 {
		if ctxFS, err = fsutil.NewFilterFS(ctxFS, &fsutil.FilterOpt{ExcludePatterns: r.Exclude}); err != nil {
			return client.SolveOpt{}, fmt.Errorf("context: %w", err)
		}
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("dockerfile directory: %w", err)
	}
	attach, err := attachables(r)
	if err != nil {
		return client.SolveOpt{}, err
	}
	so := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: r.frontendAttrs(),
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Session:       attach,
		SharedKey:     sharedKey(ctxDir),
	}
	for _, spec := range r.CacheFrom {
		e, err := parseCacheSpec(spec, false)
		if err != nil {
			return so, err
		}
		so.CacheImports = append(so.CacheImports, e)
	}
	for _, spec := range r.CacheTo {
		e, err := parseCacheSpec(spec, true)
		if err != nil {
			return so, err
		}
		so.CacheExports = append(so.CacheExports, e)
	}
	return so, nil
}

// sharedKey names the context directory for BuildKit across sessions, so
// that a later build sends only what changed in it.
func sharedKey(dir string) string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + dir))
	return "slipway-" + hex.EncodeToString(sum[:16])
}

// attachables are what the build's session serves BuildKit: registry
// credentials (Docker's config file), secrets, SSH agents.
func attachables(r Request) ([]session.Attachable, error) {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	out := []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(cfg),
	})}
	var srcs []secretsprovider.Source
	for _, s := range r.Secrets {
		srcs = append(srcs, secretsprovider.Source{ID: s.ID, FilePath: s.Src, Env: s.Env})
	}
	secrets, err := secretsprovider.NewStore(srcs)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	out = append(out, secretsprovider.NewSecretProvider(secrets))
	if len(r.SSH) > 0 {
		var confs []sshprovider.AgentConfig
		for _, spec := range r.SSH {
			id, paths := parseSSH(spec)
			confs = append(confs, sshprovider.AgentConfig{ID: id, Paths: paths})
		}
		sp, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return nil, fmt.Errorf("ssh: %w", err)
		}
		out = append(out, sp)
	}
	return out, nil
}

// exportedDescriptor reads the image's descriptor from the oci exporter's response.
func exportedDescriptor(resp map[string]string) (v1.Descriptor, error) {
	var d v1.Descriptor
	enc := resp[exptypes.ExporterImageDescriptorKey]
	if enc == "" {
		return d, errors.New("BuildKit returned no image descriptor")
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return d, fmt.Errorf("decoding image descriptor: %w", err)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("decoding image descriptor: %w", err)
	}
	return d, nil
}

// describe lists the platforms of the stored image and their manifests' digests.
func describe(st *store.Store, d v1.Descriptor) ([]string, map[string]string, error) {
	pd := map[string]string{}
	var list []string
	add := func(p v1.Platform, dg v1.Hash) {
		s := platforms.Format(ocispecPlatform(p))
		if _, ok := pd[s]; !ok {
			list = append(list, s)
		}
		pd[s] = dg.String()
	}
	raw, err := os.ReadFile(st.BlobPath(d.Digest))
	if err != nil {
		return nil, nil, err
	}
	if d.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, nil, err
		}
		for _, m := range idx.Manifests {
			// BuildKit puts attestations in the index as "unknown/unknown" manifests.
			if m.Platform == nil || m.Platform.OS == "unknown" || m.Annotations["vnd.docker.reference.type"] != "" {
				continue
			}
			add(*m.Platform, m.Digest)
		}
		return list, pd, nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, err
	}
	cfgRaw, err := os.ReadFile(st.BlobPath(m.Config.Digest))
	if err != nil {
		return nil, nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
		return nil, nil, err
	}
	add(v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, d.Digest)
	return list, pd, nil
}

// sourceError adds the Dockerfile location BuildKit attached to err.
func sourceError(r Request, err error) error {
	be := &BuildError{Image: r.Name, Err: err}
	srcs := errdefs.Sources(err)
	for i := len(srcs) - 1; i >= 0; i-- {
		s := srcs[i]
		if s.Info == nil || len(s.Ranges) == 0 || s.Ranges[0].Start == nil {
			continue
		}
		be.Line = int(s.Ranges[0].Start.Line)
		be.File = s.Info.Filename
		if df := r.dockerfilePath(); be.File == filepath.Base(df) || be.File == r.Dockerfile {
			be.File = df
		}
		var buf bytes.Buffer
		if s.Print(&buf) == nil {
			be.Excerpt = buf.String()
		}
		break
	}
	return be
}

// addPrefix names the image in a vertex name as buildx bake does:
// "[web 2/3] RUN ..." or "[web] exporting ...".
func addPrefix(prefix, name string) string {
	if strings.HasPrefix(name, "[") {
		return "[" + prefix + " " + name[1:]
	}
	return "[" + prefix + "] " + name
}

func printWarnings(w io.Writer, ws []client.VertexWarning) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%d warning(s):\n", len(ws))
	for _, vw := range ws {
		loc := ""
		if vw.SourceInfo != nil && len(vw.Range) > 0 && vw.Range[0].Start != nil {
			loc = fmt.Sprintf(" (%s:%d)", vw.SourceInfo.Filename, vw.Range[0].Start.Line)
		}
		fmt.Fprintf(w, " - %s%s\n", bytes.TrimSpace(vw.Short), loc)
	}
}
