// Package verify is the pre-deploy gate: every image a set of manifests
// names is checked the way a node would meet it, so that what would end in
// ImagePullBackOff or ErrImagePull after kubectl apply fails here first.
//
// For each distinct reference, in order: resolve (it parses; short names
// expanded as Kubernetes does), exists (the registry has it), platform
// (it has every platform the nodes run), pinned (latest, untagged, tag
// only, a tag that moved away from its digest), pull-policy (per
// container) and signed (when a verifier is given, for references under
// the signed prefixes). A reference that fails resolve, exists or platform
// is not checked further: its pinning and pull policy matter once it can be
// pulled at all.
package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/imagepolicy"
	"github.com/slipway-build/slipway/internal/sign"
)

// Rule ids, in the order the checks run.
const (
	RuleResolve    = "resolve"
	RuleExists     = "exists"
	RulePlatform   = "platform"
	RulePinned     = "pinned"
	RulePullPolicy = "pull-policy"
	RuleSigned     = "signed"
	RuleAttested   = "attested"
)

// Severities of findings; "ok" is a use with nothing to report.
const (
	OK      = "ok"
	Warning = "warning"
	Error   = "error"
)

// Use is one place an image reference is named: a container of a
// manifest, an entry of a kustomization or values file, or the command
// line (File "").
type Use struct {
	File       string
	Line       int
	Object     string
	Container  string
	Image      string
	PullPolicy string
	// HasPullPolicy is false for references that carry no pull policy
	// (kustomization entries, values files, the command line): the
	// pull-policy rule is not applied to them.
	HasPullPolicy bool
}

// Finding is one verdict about one use.
type Finding struct {
	Rule      string `json:"rule,omitempty"`
	Severity  string `json:"severity"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Object    string `json:"object,omitempty"`
	Container string `json:"container,omitempty"`
	Reference string `json:"reference"`
	// Resolved is the reference as the node pulls it.
	Resolved string `json:"resolved,omitempty"`
	// Digest is the digest the registry gave for the reference.
	Digest string `json:"digest,omitempty"`
	// Platforms are those the image offers (os/arch[/variant]).
	Platforms []string `json:"platforms,omitempty"`
	Message   string   `json:"message,omitempty"`
	Hint      string   `json:"hint,omitempty"`
}

// Options tune Check. Access is required.
type Options struct {
	Access *access.Access
	// Platforms the nodes run, os/arch[/variant]. Default linux/amd64.
	Platforms []string
	// RequireDigest makes a tag without digest an error instead of a warning.
	RequireDigest bool
	// Jobs bounds the references checked at once. Default 16.
	Jobs int
	// Verifier, when set, checks signatures of the references under Signed.
	Verifier    *sign.Verifier
	SignOptions sign.Options
	// Signed are repository prefixes ("host[:port][/path]") whose images
	// must be signed.
	Signed []string
	// Attested, when set, checks the attestations an image under Signed
	// must carry; an error is an attested finding.
	Attested func(ctx context.Context, d name.Digest) error
}

// Result is the outcome of Check.
type Result struct {
	// Findings are sorted by file, line, then rule order; every use has at
	// least one (an "ok" when nothing is wrong).
	Findings []Finding `json:"findings"`
	// Images counts distinct references; OK, Warnings and Errors count them
	// by their worst finding.
	Images   int `json:"images"`
	OK       int `json:"ok"`
	Warnings int `json:"warnings"`
	Errors   int `json:"errors"`
}

// Failed reports whether any finding is an error.
func (r *Result) Failed() bool { return r.Errors > 0 }

// Check verifies every use. It returns an error only when the checks could
// not run (bad options, cancellation); what is wrong with images is in the
// result.
func Check(ctx context.Context, uses []Use, opts Options) (*Result, error) {
	if opts.Access == nil {
		return nil, fmt.Errorf("verify: no registry access")
	}
	wanted, err := parsePlatforms(opts.Platforms)
	if err != nil {
		return nil, err
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 16
	}
	ro, err := opts.Access.RemoteOptions(jobs)
	if err != nil {
		return nil, err
	}
	// One puller for the run: its transports, and their tokens, are kept per
	// repository, so a repository named by many references costs one token.
	puller, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	ro = append(ro, remote.Reuse(puller), remote.WithContext(ctx))
	so := opts.SignOptions
	so.RemoteOptions = ro
	c := &checker{opts: opts, wanted: wanted, ro: ro, so: so}

	var order []string
	byImage := map[string]*imageState{}
	for _, u := range uses {
		if byImage[u.Image] == nil {
			byImage[u.Image] = &imageState{}
			order = append(order, u.Image)
		}
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for _, img := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(img string) {
			defer func() { <-sem; wg.Done() }()
			*byImage[img] = c.image(ctx, img)
		}(img)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &Result{Findings: []Finding{}}
	worst := map[string]string{}
	for _, u := range uses {
		st := byImage[u.Image]
		fs := c.use(u, st)
		for _, f := range fs {
			worst[u.Image] = worse(worst[u.Image], f.Severity)
		}
		res.Findings = append(res.Findings, fs...)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	res.Images = len(order)
	for _, img := range order {
		switch worst[img] {
		case Error:
			res.Errors++
		case Warning:
			res.Warnings++
		default:
			res.OK++
		}
	}
	return res, nil
}

func worse(a, b string) string {
	rank := map[string]int{"": 0, OK: 1, Warning: 2, Error: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// imageState is what the registry said about one distinct reference.
type imageState struct {
	ref       imagepolicy.Ref
	parsed    bool
	digest    string
	platforms []string
	// findings are the reference's own (resolve, exists, platform, tag
	// moved, signed), shared by its uses.
	findings []Finding
}

type checker struct {
	opts   Options
	wanted []platformWant
	ro     []remote.Option
	so     sign.Options
}

func (c *checker) image(ctx context.Context, s string) imageState {
	var st imageState
	add := func(rule, sev, msg, hint string) {
		st.findings = append(st.findings, Finding{Rule: rule, Severity: sev, Message: msg, Hint: hint})
	}
	ref, err := imagepolicy.Parse(s, c.opts.Access.NameOptions(s)...)
	if err != nil {
		add(RuleResolve, Error, fmt.Sprintf("not an image reference (%s); the kubelet fails with InvalidImageName", parseReason(err)),
			"write registry/repository[:tag][@digest], lowercase; a registry host needs a dot, a port or localhost")
		return st
	}
	st.ref, st.parsed = ref, true

	got, err := remote.Get(ref.Name, c.ro...)
	if err != nil {
		msg, hint := c.registryCause(ctx, ref, err)
		add(RuleExists, Error, msg, hint)
		return st
	}
	st.digest = got.Digest.String()
	plats, err := imagePlatforms(got)
	if err != nil {
		add(RulePlatform, Error, fmt.Sprintf("reading the image's platforms: %v", err), "")
		return st
	}
	st.platforms = plats.names()
	if missing := plats.missing(c.wanted); len(missing) > 0 && (len(plats) > 0 || got.MediaType.IsIndex()) {
		hint := "build for every node platform (platforms: in slipway.yaml), or set --platform to what the cluster runs"
		if got.MediaType.IsIndex() {
			add(RulePlatform, Error, fmt.Sprintf("no match for platform in manifest: the image has %s, not %s; nodes of that platform fail to pull it (ErrImagePull)",
				strings.Join(st.platforms, ", "), strings.Join(missing, ", ")), hint)
		} else {
			// containerd does not match a lone manifest against the node's
			// platform: the pull succeeds and the container cannot start.
			add(RulePlatform, Error, fmt.Sprintf("the image is a single %s manifest, not %s; nodes of that platform pull it and fail to start it (exec format error, CrashLoopBackOff)",
				strings.Join(st.platforms, ", "), strings.Join(missing, ", ")), hint)
		}
		return st
	}
	if ref.Pinning == imagepolicy.TagDigest {
		tagRef := ref.Name.Context().Tag(ref.Tag)
		if d, err := remote.Head(tagRef, c.ro...); err == nil && d.Digest.String() != ref.Digest {
			add(RulePinned, Warning, fmt.Sprintf("tag moved: %s now points at %s; the digest still pins the old image", ref.Tag, d.Digest),
				"bump the manifest if the new image is meant (slipway bump)")
		} else if err != nil {
			add(RulePinned, Warning, fmt.Sprintf("tag moved: %s no longer resolves (%s); the digest still pins the image", ref.Tag, shortErr(err)), "")
		}
	}
	if c.opts.Verifier != nil && c.mustSign(ref) {
		d := ref.Name.Context().Digest(st.digest)
		if _, err := c.opts.Verifier.Verify(ctx, d, c.so); err != nil {
			if ctx.Err() == nil {
				add(RuleSigned, Error, signReason(err), "sign it (slipway sign), or check --key")
			}
		}
		if c.opts.Attested != nil {
			if err := c.opts.Attested(ctx, d); err != nil && ctx.Err() == nil {
				add(RuleAttested, Error, err.Error(), "release it with attest: in slipway.yaml, or check --key")
			}
		}
	}
	return st
}

// mustSign reports whether ref is under one of the signed prefixes.
func (c *checker) mustSign(ref imagepolicy.Ref) bool {
	full := ref.Name.Context().Name()
	for _, p := range c.opts.Signed {
		r, err := name.NewRepository(p + "/x")
		if err != nil {
			continue
		}
		prefix := strings.TrimSuffix(r.Name(), "/x")
		if full == prefix || strings.HasPrefix(full, prefix+"/") {
			return true
		}
	}
	return false
}

// use turns a reference's state into the findings of one use of it.
func (c *checker) use(u Use, st *imageState) []Finding {
	base := Finding{File: u.File, Line: u.Line, Object: u.Object, Container: u.Container, Reference: u.Image,
		Digest: st.digest, Platforms: st.platforms}
	if st.parsed {
		base.Resolved = st.ref.Expanded()
	}
	var out []Finding
	push := func(f Finding) {
		g := base
		g.Rule, g.Severity, g.Message, g.Hint = f.Rule, f.Severity, f.Message, f.Hint
		out = append(out, g)
	}
	var moved, signed []Finding
	stop := false
	for _, f := range st.findings {
		switch f.Rule {
		case RuleResolve, RuleExists, RulePlatform:
			push(f)
			stop = true
		case RulePinned:
			moved = append(moved, f)
		case RuleSigned, RuleAttested:
			signed = append(signed, f)
		}
	}
	if st.parsed && !stop {
		rs := imagepolicy.Verify
		if c.opts.RequireDigest {
			rs.Unpinned.Severity = imagepolicy.Error
		}
		if !u.HasPullPolicy {
			rs.PullPolicy = imagepolicy.Rule{}
		}
		for _, f := range rs.Check(st.ref, u.PullPolicy) {
			push(Finding{Rule: f.Rule, Severity: f.Severity.String(), Message: f.Message, Hint: f.Hint})
		}
	}
	if !stop {
		// Tag moved is a pinned finding: it goes with them, before pull-policy.
		for _, f := range moved {
			out = insertBefore(out, RulePullPolicy, withBase(base, f))
		}
		for _, f := range signed {
			push(f)
		}
	}
	if len(out) == 0 {
		g := base
		g.Severity = OK
		out = append(out, g)
	}
	return out
}

func withBase(base, f Finding) Finding {
	base.Rule, base.Severity, base.Message, base.Hint = f.Rule, f.Severity, f.Message, f.Hint
	return base
}

func insertBefore(fs []Finding, rule string, f Finding) []Finding {
	for i, g := range fs {
		if g.Rule == rule {
			return append(fs[:i], append([]Finding{f}, fs[i:]...)...)
		}
	}
	return append(fs, f)
}

type platformWant struct {
	name string
	m    platforms.Matcher
}

func parsePlatforms(ps []string) ([]platformWant, error) {
	if len(ps) == 0 {
		ps = []string{"linux/amd64"}
	}
	var out []platformWant
	for _, s := range ps {
		p, err := platforms.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", s, err)
		}
		out = append(out, platformWant{name: platforms.Format(p), m: platforms.Only(p)})
	}
	return out, nil
}
