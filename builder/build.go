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
	"github.com/moby/buildkit/util/grpcerrors"
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
	// Getenv reads the variables of the GitHub Actions cache (see
	// Request.CacheFrom). Default: os.Getenv.
	Getenv func(string) string
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
	// Nodes maps each platform to the BuildKit daemon that built it: a
	// Node's name, or the default daemon's (see Builder.Name).
	Nodes map[string]string
	// Store is the store's directory.
	Store string
}

// BuildError is a failed build. When BuildKit points at a line of the
// Dockerfile (a syntax error, a failing RUN), File and Line say where.
type BuildError struct {
	Image string
	// Node names the daemon the build failed on, when the image was built
	// on several (see Fleet).
	Node string
	File string // the Dockerfile's path as given (Context joined with Dockerfile)
	Line int    // 1-based; 0 when unknown
	// Excerpt shows the lines around Line, as BuildKit prints them.
	Excerpt string
	Err     error
}

func (e *BuildError) Error() string {
	msg := strings.TrimPrefix(cleanRPCError(e.Err).Error(), "failed to solve: ")
	who := e.Image
	if e.Node != "" {
		who += " on " + e.Node
	}
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("building %s: %s:%d: %s", who, e.File, e.Line, msg)
	}
	return fmt.Sprintf("building %s: %s", who, msg)
}

func (e *BuildError) Unwrap() error { return e.Err }

// Build builds reqs on b's BuildKit, at most opts.Jobs at once, and puts
// each image in st under its name (replacing the older build of that name).
// It checks reqs with Preflight first. The first failure cancels the builds
// still running; the error then joins every failure that is not a
// consequence of that cancel. Results are in the order of reqs; on error,
// the entries of failed builds are zero.
func (b *Builder) Build(ctx context.Context, reqs []Request, st *store.Store, opts BuildOptions) ([]Result, error) {
	return (&Fleet{Default: b}).Build(ctx, reqs, st, opts)
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

// solve builds r on b and exports it into stage, returning the exported
// image's descriptor. prefix names the image (and node) in progress.
func (b *Builder) solve(ctx context.Context, r Request, stage *store.Staging, statusCh chan<- *client.SolveStatus, prefix string, getenv func(string) string) (v1.Descriptor, []string, error) {
	fail := func(err error) (v1.Descriptor, []string, error) {
		return v1.Descriptor{}, nil, &BuildError{Image: r.Name, Err: err}
	}
	so, warnings, err := solveOpt(r, getenv)
	if err != nil {
		return fail(err)
	}
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
		return v1.Descriptor{}, warnings, sourceError(r, err)
	}
	desc, err := exportedDescriptor(resp.ExporterResponse)
	if err != nil {
		return fail(err)
	}
	desc, statements, err := splitAttestations(es, desc, len(r.Platforms) > 1)
	if err != nil {
		return fail(err)
	}
	for subject, stmt := range statements {
		h, err := v1.NewHash(subject)
		if err != nil {
			return fail(fmt.Errorf("provenance subject %q: %w", subject, err))
		}
		if err := stage.Store().PutSidecar(h, SidecarProvenance, stmt); err != nil {
			return fail(err)
		}
	}
	return desc, warnings, nil
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

// solveOpt turns r into a dockerfile.v0 solve, without its export; it
// returns warnings about caches left out (see cacheOptions).
func solveOpt(r Request, getenv func(string) string) (client.SolveOpt, []string, error) {
	ctxDir, err := filepath.Abs(r.Context)
	if err != nil {
		return client.SolveOpt{}, nil, err
	}
	dfDir, err := filepath.Abs(filepath.Dir(r.dockerfilePath()))
	if err != nil {
		return client.SolveOpt{}, nil, err
	}
	ctxFS, err := fsutil.NewFS(ctxDir)
	if err != nil {
		return client.SolveOpt{}, nil, fmt.Errorf("context: %w", err)
	}
	if len(r.Exclude) > 0 {
		if ctxFS, err = fsutil.NewFilterFS(ctxFS, &fsutil.FilterOpt{ExcludePatterns: r.Exclude}); err != nil {
			return client.SolveOpt{}, nil, fmt.Errorf("context: %w", err)
		}
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return client.SolveOpt{}, nil, fmt.Errorf("dockerfile directory: %w", err)
	}
	attach, err := attachables(r)
	if err != nil {
		return client.SolveOpt{}, nil, err
	}
	so := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: r.frontendAttrs(),
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Session:       attach,
		SharedKey:     sharedKey(ctxDir),
	}
	imports, exports, warnings, err := cacheOptions(r, getenv)
	if err != nil {
		return so, nil, err
	}
	so.CacheImports, so.CacheExports = imports, exports
	return so, warnings, nil
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
