// Package imagepolicy holds the rules about image references that a
// Kubernetes node applies: how a reference written in a manifest is
// expanded, how firmly it names one image (its pinning), which pull policy
// the API server gives a container that sets none, and which combinations
// of pinning and pull policy let nodes run something other than what the
// manifest means.
//
// It does no I/O. Parse and the pure functions below give the facts; a
// Ruleset turns them into findings under the rule ids and severities of the
// tool that reports them (lint and verify word the same facts differently).
package imagepolicy

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Pinning says how firmly a reference names one image.
type Pinning int

const (
	// Untagged: neither tag nor digest; the node pulls :latest.
	Untagged Pinning = iota
	// Latest: the tag "latest" and no digest.
	Latest
	// Tag: a tag other than latest and no digest; the tag may move.
	Tag
	// Digest: a digest and no tag.
	Digest
	// TagDigest: a tag and a digest; the node pulls by the digest.
	TagDigest
)

func (p Pinning) String() string {
	switch p {
	case Untagged:
		return "untagged"
	case Latest:
		return "latest"
	case Tag:
		return "tag"
	case Digest:
		return "digest"
	case TagDigest:
		return "tag+digest"
	}
	return fmt.Sprintf("Pinning(%d)", int(p))
}

// Pinned reports whether the reference names one image by its digest.
func (p Pinning) Pinned() bool { return p == Digest || p == TagDigest }

// Ref is a parsed image reference.
type Ref struct {
	// Original is the text as written.
	Original string
	// Name is the parsed reference: a name.Digest when a digest is
	// written (the tag, if any, is in Tag), else a name.Tag.
	Name name.Reference
	// Registry is the registry host as Kubernetes names it: "docker.io"
	// for Docker Hub (go-containerregistry says index.docker.io).
	Registry string
	// Repository is the path inside the registry, "library/nginx" for
	// "nginx".
	Repository string
	// Tag is the tag as written, "" when none is.
	Tag string
	// Digest is the digest as written, "" when none is.
	Digest string
	// ShortName is true when no registry is written and Docker Hub is
	// assumed.
	ShortName bool
	Pinning   Pinning
}

// Expanded is the reference as a node's runtime pulls it:
// docker.io/library/nginx:latest for nginx, with the tag and/or digest
// kept as written.
func (r Ref) Expanded() string {
	s := r.Registry + "/" + r.Repository
	switch {
	case r.Tag != "":
		s += ":" + r.Tag
	case r.Digest == "":
		s += ":latest"
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// String is the reference as written.
func (r Ref) String() string { return r.Original }

// Parse reads a reference the way the kubelet and containerd do: a name
// without a registry host (no dot, no port, not localhost in its first
// component) is on Docker Hub, a one-component name there is under
// library/, and a name with neither tag nor digest means :latest. opts are
// passed to go-containerregistry (name.Insecure for plain-HTTP
// registries).
func Parse(s string, opts ...name.Option) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image reference")
	}
	if strings.TrimSpace(s) != s {
		return Ref{}, fmt.Errorf("image reference %q has surrounding spaces", s)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	r := Ref{Original: s, Name: ref}
	base := s
	if d, ok := ref.(name.Digest); ok {
		r.Digest = d.DigestStr()
		base = strings.TrimSuffix(s, "@"+r.Digest)
	}
	// An empty default tag tells a written tag from go-containerregistry's
	// default one.
	if t, err := name.NewTag(base, append(opts[:len(opts):len(opts)], name.WithDefaultTag(""))...); err == nil {
		r.Tag = t.TagStr()
	}
	repo := ref.Context()
	r.Registry = repo.RegistryStr()
	if r.Registry == name.DefaultRegistry {
		r.Registry = "docker.io"
	}
	r.Repository = repo.RepositoryStr()
	r.ShortName = !hasRegistry(base)
	switch {
	case r.Digest != "" && r.Tag != "":
		r.Pinning = TagDigest
	case r.Digest != "":
		r.Pinning = Digest
	case r.Tag == "":
		r.Pinning = Untagged
	case r.Tag == "latest":
		r.Pinning = Latest
	default:
		r.Pinning = Tag
	}
	return r, nil
}

// hasRegistry reports whether the first component of a repository name is
// a registry host, by the rule Docker, containerd and Kubernetes share.
func hasRegistry(repo string) bool {
	first, _, ok := strings.Cut(repo, "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first
}

// Pull policies, as Kubernetes spells them.
const (
	Always       = "Always"
	IfNotPresent = "IfNotPresent"
	Never        = "Never"
)

// ValidPullPolicy reports whether p is one of the three policies the API
// server accepts (the empty string is not one: it means "defaulted").
func ValidPullPolicy(p string) bool {
	return p == Always || p == IfNotPresent || p == Never
}

// DefaultPullPolicy is the imagePullPolicy the API server gives a container
// that sets none: Always when the tag is latest (even beside a digest:
// Kubernetes looks only at the tag) or when neither tag nor digest is
// written; IfNotPresent otherwise.
func DefaultPullPolicy(r Ref) string {
	if r.Tag == "latest" || r.Tag == "" && r.Digest == "" {
		return Always
	}
	return IfNotPresent
}

// EffectivePullPolicy is the policy a node applies: the explicit one when
// set, else the default.
func EffectivePullPolicy(r Ref, explicit string) string {
	if explicit != "" {
		return explicit
	}
	return DefaultPullPolicy(r)
}
