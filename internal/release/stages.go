package release

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/tagging"
	"github.com/slipway-build/slipway/manifest"
	"github.com/slipway-build/slipway/pusher"
)

// OCI annotation and label keys set from git.
const (
	annSource   = "org.opencontainers.image.source"
	annRevision = "org.opencontainers.image.revision"
	annVersion  = "org.opencontainers.image.version"
	annCreated  = "org.opencontainers.image.created"
)

// Requests turns the plan into build requests: the image settings of
// slipway.yaml plus reproducibility (SOURCE_DATE_EPOCH from the time of
// the image's source commit, see PlannedImage.Source) and the OCI
// annotations and labels from git.
func Requests(ctx context.Context, cfg *project.Config, plan *Plan, opts Options) []builder.Request {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	f := plan.Facts
	source := sourceURL(ctx, cfg.Dir, getenv)
	own := OwnFiles(cfg, opts.storeDir(cfg), opts.ReportPath)
	var reqs []builder.Request
	for _, img := range plan.Images {
		in := Inputs(cfg, []project.Image{img.Config}, own)[0]
		c := img.Config
		src := img.Source
		if src.Commit == "" && src.Time.IsZero() {
			src = tagging.Source{Commit: f.Commit, Time: f.CommitTime, Dirty: f.Dirty}
		}
		ann := map[string]string{}
		if source != "" {
			ann[annSource] = source
		}
		if src.Commit != "" {
			ann[annRevision] = src.Commit
		}
		// The version is HEAD's tag, and only for an image whose inputs
		// changed in HEAD: an image untouched by a release keeps the
		// annotations, and so the digest, of its last build.
		if src.Commit == f.Commit {
			switch {
			case f.Version != "":
				ann[annVersion] = f.Version
			case f.Tag != "":
				ann[annVersion] = f.Tag
			}
		}
		if !src.Time.IsZero() {
			ann[annCreated] = src.Time.UTC().Format(time.RFC3339)
		}
		labels := maps.Clone(ann)
		if img.InputDigest != "" {
			ann[AnnotationInputDigest] = img.InputDigest
		}
		maps.Copy(labels, c.Labels) // the user's labels win
		var secrets []builder.Secret
		for _, s := range c.Secrets {
			secrets = append(secrets, builder.Secret{ID: s.ID, Src: s.Src, Env: s.Env})
		}
		req := builder.Request{
			Name:        img.Name,
			Context:     c.Context,
			Dockerfile:  c.Dockerfile,
			Target:      c.Target,
			Platforms:   c.Platforms,
			Args:        c.Args,
			Labels:      labels,
			Secrets:     secrets,
			SSH:         c.SSH,
			CacheFrom:   c.Cache.From,
			CacheTo:     c.Cache.To,
			NoCache:     opts.NoCache,
			Pull:        opts.Pull,
			Annotations: ann,
			Exclude:     in.OwnPatterns(),
			Provenance:  cfg.ProvenanceMode(),
		}
		if !src.Time.IsZero() {
			req.SourceDateEpoch = src.Time.Unix()
		}
		reqs = append(reqs, req)
	}
	return reqs
}

// connectOptions picks the BuildKit address: the option (flag or
// BUILDKIT_HOST), else slipway.yaml's buildkit.host, else none (private).
func connectOptions(cfg *project.Config, opts Options) builder.ConnectOptions {
	co := builder.ConnectOptions{Address: opts.BuildkitHost, Progress: opts.Progress, Log: opts.Debug}
	if co.Address == "" {
		co.Address = cfg.Buildkit.Host
	}
	if co.Address != "" && (cfg.Buildkit.CA != "" || cfg.Buildkit.Cert != "") {
		co.TLS = &builder.TLSFiles{CA: cfg.Buildkit.CA, Cert: cfg.Buildkit.Cert, Key: cfg.Buildkit.Key}
	}
	return co
}

// Build builds every image of the plan into the store, in one BuildKit
// session, and records the results in rep.
func Build(ctx context.Context, cfg *project.Config, plan *Plan, opts Options, rep *report.Report) ([]builder.Result, error) {
	warnings, err := PrepareInputs(ctx, cfg, plan, opts)
	if err != nil {
		return nil, err
	}
	if opts.Warn != nil {
		for _, w := range warnings {
			opts.Warn(w)
		}
	}
	reqs := Requests(ctx, cfg, plan, opts)
	if opts.Debug != nil {
		for _, r := range reqs {
			if len(r.Exclude) > 0 {
				fmt.Fprintf(opts.Debug, "slipway: debug: the build context of %s leaves out slipway's own files: %s\n", r.Name, strings.Join(r.Exclude, ", "))
			}
		}
	}
	if err := builder.Preflight(reqs, opts.Getenv); err != nil {
		return nil, fmt.Errorf("checking the build inputs: %w", err)
	}
	st, err := store.Open(opts.storeDir(cfg))
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	fleet, closeFleet, err := connectFleet(ctx, cfg, opts, reqs)
	if err != nil {
		return nil, err
	}
	defer closeFleet()
	results, err := fleet.Build(ctx, reqs, st, builder.BuildOptions{Jobs: opts.jobs(), Progress: opts.Progress, ProgressMode: opts.ProgressMode, Getenv: opts.Getenv})
	for _, r := range results {
		if r.Name == "" {
			continue // failed or cancelled: nothing was built
		}
		img := rep.Upsert(r.Name)
		img.Digest, img.MediaType, img.Store = r.Digest, r.MediaType, r.Store
		img.PlatformDigests, img.Nodes = r.PlatformDigests, r.Nodes
		for _, pi := range plan.Images {
			if pi.Name == r.Name {
				img.InputDigest = pi.InputDigest
			}
		}
	}
	if err != nil {
		return results, fmt.Errorf("building: %w", err)
	}
	if cerr := closeFleet(); cerr != nil {
		return results, fmt.Errorf("stopping BuildKit: %w", cerr)
	}
	return results, nil
}

// connectFleet reaches the daemons reqs need: buildkit.nodes for the
// platforms they declare, and the default daemon (connectOptions) for the
// rest; an address from the options (--buildkit-host, BUILDKIT_HOST)
// builds everything. The returned func closes them all; calling it again
// does nothing.
func connectFleet(ctx context.Context, cfg *project.Config, opts Options, reqs []builder.Request) (*builder.Fleet, func() error, error) {
	var nodes []project.BuildkitNode
	needDefault := opts.BuildkitHost != "" || len(cfg.Buildkit.Nodes) == 0
	if !needDefault {
		used := make([]bool, len(cfg.Buildkit.Nodes))
		for _, r := range reqs {
			if len(r.Platforms) == 0 {
				needDefault = true
			}
			for _, p := range r.Platforms {
				if !cfg.Buildkit.Declares(p) {
					needDefault = true
				}
				for i, n := range cfg.Buildkit.Nodes {
					if (project.Buildkit{Nodes: []project.BuildkitNode{n}}).Declares(p) {
						used[i] = true
					}
				}
			}
		}
		for i, n := range cfg.Buildkit.Nodes {
			if used[i] {
				nodes = append(nodes, n)
			}
		}
	}

	fleet := &builder.Fleet{Nodes: make([]builder.Node, len(nodes))}
	var mu sync.Mutex
	var opened []*builder.Builder
	closeAll := func() error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, b := range opened {
			errs = append(errs, b.Close())
		}
		opened = nil
		return errors.Join(errs...)
	}
	connect := func(co builder.ConnectOptions, what string) (*builder.Builder, error) {
		b, err := builder.Connect(ctx, co)
		if err != nil {
			return nil, fmt.Errorf("reaching BuildKit%s: %w", what, err)
		}
		mu.Lock()
		opened = append(opened, b)
		mu.Unlock()
		return b, nil
	}
	// Daemons are reached at once: a fleet answers in the time of its slowest node.
	errs := make([]error, len(nodes)+1)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			co := builder.ConnectOptions{Address: n.Host, Progress: opts.Progress, Log: opts.Debug}
			if n.CA != "" || n.Cert != "" {
				co.TLS = &builder.TLSFiles{CA: n.CA, Cert: n.Cert, Key: n.Key}
			}
			b, err := connect(co, " node "+n.Host)
			errs[i] = err
			fleet.Nodes[i] = builder.Node{Name: n.Host, Platforms: n.Platforms, Builder: b}
		}()
	}
	if needDefault {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fleet.Default, errs[len(nodes)] = connect(connectOptions(cfg, opts), "")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll()
		return nil, nil, err
	}
	return fleet, closeAll, nil
}

// NotBuiltError is a push of an image the store does not hold.
type NotBuiltError struct {
	Image string
	Store string
}

func (e *NotBuiltError) Error() string {
	return fmt.Sprintf("image %s is not in the store %s", e.Image, e.Store)
}

// Hint says what to do.
func (e *NotBuiltError) Hint() string { return "run slipway build " + e.Image + " first" }

// Access is the registry access of a run: opts.Access when set, else
// built from slipway.yaml's registry settings and the options.
func (o Options) access(cfg *project.Config) *access.Access {
	if o.Access != nil {
		return o.Access
	}
	// Without pull secrets New reads no file and cannot fail.
	a, _ := access.New(cfg, access.Options{InsecureRegistries: o.InsecureRegistries, Retries: o.Retries, Debug: o.Debug})
	return a
}

// PushOptions turn the run's registry access and the options into the
// pusher's.
func PushOptions(cfg *project.Config, opts Options) pusher.Options {
	po := opts.access(cfg).PushOptions()
	po.Jobs = opts.jobs()
	po.Deadline = opts.PushTimeout
	po.Progress = opts.Progress
	if opts.StageProgress != nil && opts.Progress != nil {
		po.Progress = opts.StageProgress("push")
	}
	switch opts.ProgressMode {
	case "tty":
		po.ProgressMode = pusher.ProgressBar
	case "plain", "rawjson":
		po.ProgressMode = pusher.ProgressPlain
	case "quiet":
		po.Progress = nil
	}
	return po
}

// Push publishes every image of the plan from the store to all its
// references and records what was pushed in rep. An image whose plan names
// a digest (a plan from a report) is pushed by that digest, from the store
// the report names unless opts.StoreDir says otherwise; a store that no
// longer holds it whole is a GoneError, before anything is published.
func Push(ctx context.Context, cfg *project.Config, plan *Plan, opts Options, rep *report.Report) ([]pusher.Published, error) {
	stores := map[string]*store.Store{}
	open := func(img PlannedImage) (*store.Store, string, error) {
		dir := opts.storeDir(cfg)
		if opts.StoreDir == "" && img.Store != "" {
			dir = img.Store
		}
		if st, ok := stores[dir]; ok {
			return st, dir, nil
		}
		st, err := openExistingStore(dir, img.Name)
		if err != nil {
			return nil, dir, err
		}
		stores[dir] = st
		return st, dir, nil
	}
	// Check every image first: a push of three images where the third was
	// never built should fail before the first is published.
	arts := make([]remote.Taggable, len(plan.Images))
	dirs := make([]string, len(plan.Images))
	for i, img := range plan.Images {
		st, dir, err := open(img)
		if err != nil {
			return nil, err
		}
		dirs[i] = dir
		if img.Digest != "" {
			h, err := v1.NewHash(img.Digest)
			if err != nil {
				return nil, fmt.Errorf("report: image %s: digest %q: %w", img.Name, img.Digest, err)
			}
			if arts[i], err = st.ByDigest(h); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, &GoneError{Image: img.Name, Digest: img.Digest, Store: dir}
				}
				return nil, fmt.Errorf("reading %s from the store: %w", img.Name, err)
			}
			continue
		}
		if _, err := st.Lookup(img.Name); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, &NotBuiltError{Image: img.Name, Store: dir}
			}
			return nil, fmt.Errorf("reading the store: %w", err)
		}
		if arts[i], err = st.Taggable(img.Name); err != nil {
			return nil, fmt.Errorf("reading %s from the store: %w", img.Name, err)
		}
	}
	po := PushOptions(cfg, opts)
	refuse := cfg.ImmutableTags || opts.ImmutableTags
	var out []pusher.Published
	for i, img := range plan.Images {
		// Tags that name one commit or version are checked by the pusher's
		// own tag lookup, before it sends anything.
		po := po
		if len(img.Immutable) > 0 {
			po.Guard = guard(img, refuse, opts.Warn)
		}
		pub, err := pusher.Push(ctx, arts[i], img.Refs, po)
		if err != nil {
			return out, fmt.Errorf("pushing %s: %w", img.Name, err)
		}
		out = append(out, pub)
		r := rep.Upsert(img.Name)
		r.Digest, r.MediaType, r.PlatformDigests = pub.Digest, pub.MediaType, pub.PlatformDigests
		r.Pushed, r.Registries = pub.Refs, pub.Registries
		r.BytesUploaded, r.BlobsUploaded, r.BlobsSkipped, r.BlobsMounted = pub.BytesUploaded, pub.BlobsUploaded, pub.BlobsSkipped, pub.BlobsMounted
		if r.Store == "" {
			r.Store = dirs[i]
		}
	}
	return out, nil
}

// checkMoves warns about, or with immutable tags refuses, tags naming one
// commit or version that already point at another digest; refused, nothing
// is pushed.
func checkMoves(ctx context.Context, cfg *project.Config, plan *Plan, arts []remote.Taggable, po pusher.Options, opts Options) error {
	any := false
	for _, img := range plan.Images {
		any = any || len(img.Immutable) > 0
	}
	if !any {
		return nil
	}
	digests := make([]string, len(arts))
	for i, a := range arts {
		d, err := a.(interface{ Digest() (v1.Hash, error) }).Digest()
		if err != nil {
			return fmt.Errorf("reading %s from the store: %w", plan.Images[i].Name, err)
		}
		digests[i] = d.String()
	}
	ro, err := pusher.RemoteOptions(po)
	if err != nil {
		return err
	}
	moved, err := movedTags(ctx, plan, digests, po.InsecureRegistries, ro)
	if err != nil {
		return err
	}
	return refuseOrWarn(moved, cfg.ImmutableTags || opts.ImmutableTags, opts.Warn)
}

// GoneError is a push of a digest that a report names but the store no
// longer holds (a later build of the same name replaced it).
type GoneError struct {
	Image, Digest, Store string
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("image %s: the store %s no longer holds %s, the digest the report names", e.Image, e.Store, e.Digest)
}

// Hint says what to do.
func (e *GoneError) Hint() string {
	return "build again with --report and push with that report; a report is pushed by digest, never by name"
}

// openExistingStore opens the store at dir; when there is none, image (the
// first one wanted) is reported as not built.
func openExistingStore(dir, image string) (*store.Store, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, &NotBuiltError{Image: image, Store: dir}
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return st, nil
}

// RecordPlan puts the plan's names, repositories, tags and references in rep.
func RecordPlan(plan *Plan, rep *report.Report) {
	if rep.Git == nil {
		f := plan.Facts
		rep.Git = &report.Git{Commit: f.Commit, Tag: f.Tag, Branch: f.Branch, Dirty: f.Dirty}
	}
	for _, img := range plan.Images {
		r := rep.Upsert(img.Name)
		r.Repository = img.Repositories[0].String()
		r.Tags = img.Tags
		r.Refs = r.Refs[:0]
		for _, ref := range img.Refs {
			r.Refs = append(r.Refs, ref.String())
		}
		if len(r.Registries) == 0 {
			for _, repo := range img.Repositories {
				r.Registries = append(r.Registries, repo.RegistryStr())
			}
		}
	}
}

// SignTarget is one pushed image to sign.
type SignTarget struct {
	Name   string
	Digest name.Digest
}

// LoadSigner opens the signing key of slipway.yaml; call it before pushing
// so that a wrong password stops the run before anything is published.
func LoadSigner(ctx context.Context, cfg *project.Config, opts Options) (*sign.Signer, error) {
	if cfg.Sign == nil {
		return nil, errors.New("slipway.yaml has no sign: section")
	}
	s, err := sign.LoadSigner(ctx, cfg.Sign.Key, opts.Pass)
	if err != nil {
		return nil, fmt.Errorf("loading the signing key: %w", err)
	}
	return s, nil
}

// SignOptions are the sign package's options for slipway.yaml.
func SignOptions(cfg *project.Config, plan *Plan, opts Options) (sign.Options, error) {
	so := sign.Options{Annotations: map[string]string{}}
	if cfg.Sign != nil {
		maps.Copy(so.Annotations, cfg.Sign.Annotations)
		so.TLog, so.RekorURL = cfg.Sign.TLog, cfg.Sign.RekorURL
	}
	if plan != nil {
		if c := plan.Facts.Commit; c != "" {
			so.Annotations["git.commit"] = c
		}
		if t := plan.Facts.Tag; t != "" {
			so.Annotations["git.tag"] = t
		}
	}
	repo := opts.SignatureRepository
	if repo == "" && cfg.Sign != nil {
		repo = cfg.Sign.Repository
	}
	if repo != "" {
		r, err := name.NewRepository(repo, nameOptions(PushOptions(cfg, opts).InsecureRegistries, repo+":x")...)
		if err != nil {
			return so, fmt.Errorf("signature repository %q: %w", repo, err)
		}
		so.Repository = r
	}
	ro, err := pusher.RemoteOptions(PushOptions(cfg, opts))
	if err != nil {
		return so, err
	}
	so.RemoteOptions = ro
	return so, nil
}

// Sign signs each target (and, for an index, every platform manifest) and
// records the signature references in rep.
func Sign(ctx context.Context, s *sign.Signer, targets []SignTarget, so sign.Options, rep *report.Report) ([]sign.Signature, error) {
	var all []sign.Signature
	for _, t := range targets {
		digests, err := sign.Manifests(ctx, t.Digest, so)
		if err != nil {
			return all, fmt.Errorf("signing %s: %w", t.Digest, err)
		}
		sigs, err := s.SignAll(ctx, digests, so)
		all = append(all, sigs...)
		r := rep.Upsert(t.Name)
		for _, sg := range sigs {
			r.Signatures = append(r.Signatures, sg.Ref.String())
		}
		if err != nil {
			return all, fmt.Errorf("signing %s: %w", t.Digest, err)
		}
	}
	return all, nil
}

// BumpImages are the manifest values for what rep says was pushed (or,
// before a push, planned): the primary repository and tag, and the digest.
func BumpImages(rep *report.Report) ([]manifest.Image, error) {
	var out []manifest.Image
	for _, img := range rep.Images {
		if len(img.Refs) == 0 {
			continue
		}
		tag, err := name.NewTag(img.Refs[0])
		if err != nil {
			return nil, fmt.Errorf("report: image %s: %w", img.Name, err)
		}
		out = append(out, manifest.Image{Repository: tag.Repository.String(), Tag: tag.TagStr(), Digest: img.Digest})
	}
	return out, nil
}

// ManifestTargets are slipway.yaml's manifests entries as the manifest
// package takes them; pin, when set, overrides every entry's.
func ManifestTargets(cfg *project.Config, pin string) ([]manifest.Target, error) {
	var targets []manifest.Target
	for i, m := range cfg.Manifests {
		p := m.Pin
		if pin != "" {
			p = pin
		}
		mp, err := manifest.ParsePin(p)
		if err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %w", cfg.File, i, err)
		}
		opts := manifest.Options{Pin: mp, PullPolicy: m.PullPolicy, Rules: m.BumpRules()}
		t, err := manifest.Discover(manifest.Source{Paths: m.Paths, Kustomization: m.Kustomization, Options: opts})
		if err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %w", cfg.File, i, err)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// RecordEdits puts the manifest edits in rep, grouped by file.
func RecordEdits(ch *manifest.Changes, rep *report.Report) {
	byFile := map[string][]report.Edit{}
	for _, e := range ch.Edits() {
		byFile[e.File] = append(byFile[e.File], report.Edit{Document: e.Document, Line: e.Line, Object: e.Object,
			Container: e.Container, Field: e.Field, Old: e.Old, New: e.New})
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	rep.Manifests = rep.Manifests[:0]
	for _, f := range files {
		rep.Manifests = append(rep.Manifests, report.ManifestFile{File: f, Edits: byFile[f]})
	}
}
