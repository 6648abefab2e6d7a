package builder

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
)

// Request is one image to build from a Dockerfile.
type Request struct {
	// Name is the image's name in the store; unique within one Build.
	Name string
	// Context is the build context directory.
	Context string
	// Dockerfile is the Dockerfile's path, relative to Context unless
	// absolute. Default: "Dockerfile".
	Dockerfile string
	// Target is the stage to build. Default: the last one.
	Target string
	// Platforms to build for, such as "linux/arm64". Several give one
	// multi-platform image (an OCI index). Default: the daemon's platform.
	Platforms []string
	// Args are build arguments (ARG), Labels image labels (LABEL).
	Args, Labels map[string]string
	// Secrets are mounted by RUN --mount=type=secret; never stored in the image.
	Secrets []Secret
	// SSH forwards agent sockets for RUN --mount=type=ssh: "default"
	// ($SSH_AUTH_SOCK) or "ID=PATH[,PATH...]" (sockets or key files).
	SSH []string
	// CacheFrom and CacheTo are cache imports and exports in buildx's
	// notation: "type=registry,ref=REF[,mode=max]", "type=local,src=DIR",
	// "type=local,dest=DIR[,mode=max]"; a bare reference means
	// type=registry,ref=REF.
	CacheFrom, CacheTo []string
	// NoCache ignores the build cache; Pull checks base images for newer
	// versions (image-resolve-mode=pull).
	NoCache, Pull bool
	// SourceDateEpoch (Unix seconds), when not 0, is passed as the
	// SOURCE_DATE_EPOCH build argument and every file time in the layers is
	// clamped to it (rewrite-timestamp), so that building the same sources
	// twice gives the same digest. Use the commit time.
	SourceDateEpoch int64
	// Exclude are patterns (.dockerignore syntax, relative to Context) of
	// files never sent to BuildKit, on top of the context's .dockerignore:
	// slipway's own files.
	Exclude []string
	// Annotations are put on the image manifests, and on the index of a
	// multi-platform image; for the standard org.opencontainers.image.*
	// keys (source, revision, version, created). Pass them in Labels too to
	// have them as labels in the image config.
	Annotations map[string]string
	// Provenance, when "min" or "max", asks BuildKit for SLSA provenance
	// of that mode. The statements are kept in the store as sidecars of
	// each platform image (SidecarProvenance); the attestation manifests
	// BuildKit adds to the index are left out of the stored image.
	Provenance string
}

// Secret is a build secret: its bytes come from a file (Src) or an
// environment variable (Env), exactly one of them.
type Secret struct {
	ID  string
	Src string
	Env string
}

func (r Request) dockerfilePath() string {
	df := r.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if filepath.IsAbs(df) {
		return df
	}
	return filepath.Join(r.Context, df)
}

// Preflight finds what would make requests fail before BuildKit is
// contacted: a missing or duplicate name, a missing context directory or
// Dockerfile, a secret without its file or environment variable (looked up
// with getenv; nil means os.Getenv), a bad SSH, cache or platform spec.
// It returns every problem found, joined (errors.Join), one per line.
func Preflight(reqs []Request, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	seen := map[string]bool{}
	for i, r := range reqs {
		who := "image " + r.Name
		problem := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(who+": "+format, args...))
		}
		switch {
		case r.Name == "":
			who = fmt.Sprintf("image #%d", i+1)
			problem("no name")
		case seen[r.Name]:
			problem("built twice in one run")
		}
		seen[r.Name] = true

		if r.Context == "" {
			problem("no context directory")
		} else if fi, err := os.Stat(r.Context); err != nil {
			problem("context directory %s does not exist", r.Context)
		} else if !fi.IsDir() {
			problem("context %s is not a directory", r.Context)
		} else if fi, err := os.Stat(r.dockerfilePath()); err != nil {
			problem("Dockerfile %s does not exist", r.dockerfilePath())
		} else if fi.IsDir() {
			problem("Dockerfile %s is a directory", r.dockerfilePath())
		}

		ids := map[string]bool{}
		for _, s := range r.Secrets {
			switch {
			case s.ID == "":
				problem("a secret has no id")
				continue
			case ids[s.ID]:
				problem("secret %s is defined twice", s.ID)
			case s.Src != "" && s.Env != "":
				problem("secret %s has both a file and an environment variable", s.ID)
			case s.Src == "" && s.Env == "":
				problem("secret %s has neither a file nor an environment variable", s.ID)
			case s.Src != "":
				if fi, err := os.Stat(s.Src); err != nil {
					problem("secret %s: file %s does not exist", s.ID, s.Src)
				} else if fi.IsDir() {
					problem("secret %s: %s is a directory", s.ID, s.Src)
				}
			case getenv(s.Env) == "":
				problem("secret %s: environment variable %s is not set", s.ID, s.Env)
			}
			ids[s.ID] = true
		}
		for _, spec := range r.SSH {
			if err := checkSSH(spec, getenv); err != nil {
				problem("ssh %s: %v", spec, err)
			}
		}
		for _, spec := range r.CacheFrom {
			if _, err := parseCacheSpec(spec, false); err != nil {
				problem("cache-from %q: %v", spec, err)
			}
		}
		for _, spec := range r.CacheTo {
			if _, err := parseCacheSpec(spec, true); err != nil {
				problem("cache-to %q: %v", spec, err)
			}
		}
		for _, p := range r.Platforms {
			if _, err := platforms.Parse(p); err != nil {
				problem("platform %q: %v", p, err)
			}
		}
		for k := range r.Args {
			if k == "" {
				problem("a build argument has no name")
			}
		}
	}
	return errors.Join(errs...)
}

// parseSSH splits "ID=PATH,PATH" or "ID" (the agent at $SSH_AUTH_SOCK).
func parseSSH(spec string) (id string, paths []string) {
	id, rest, ok := strings.Cut(spec, "=")
	if ok && rest != "" {
		paths = strings.Split(rest, ",")
	}
	return id, paths
}

func checkSSH(spec string, getenv func(string) string) error {
	id, paths := parseSSH(spec)
	if id == "" {
		return errors.New("no id")
	}
	if len(paths) == 0 {
		if getenv("SSH_AUTH_SOCK") == "" {
			return errors.New("no path given and SSH_AUTH_SOCK is not set")
		}
		return nil
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s does not exist", p)
		}
	}
	return nil
}

// parseCacheSpec reads a buildx-style cache spec: CSV of key=value, type
// defaulting to registry; a lone value is a registry ref.
func parseCacheSpec(spec string, export bool) (client.CacheOptionsEntry, error) {
	e := client.CacheOptionsEntry{Attrs: map[string]string{}}
	fields, err := csv.NewReader(strings.NewReader(spec)).Read()
	if err != nil {
		return e, err
	}
	if len(fields) == 1 && !strings.Contains(fields[0], "=") {
		fields = []string{"type=registry", "ref=" + fields[0]}
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return e, fmt.Errorf("%q is not key=value", f)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "type" {
			e.Type = v
		} else {
			e.Attrs[k] = v
		}
	}
	if e.Type == "" {
		e.Type = "registry"
	}
	switch e.Type {
	case "registry":
		if e.Attrs["ref"] == "" {
			return e, errors.New("type=registry needs ref=")
		}
	case "local":
		key := "src"
		if export {
			key = "dest"
		}
		if e.Attrs[key] == "" {
			return e, fmt.Errorf("type=local needs %s=", key)
		}
		if p, err := filepath.Abs(e.Attrs[key]); err == nil {
			e.Attrs[key] = p
		}
	case "inline", "gha", "s3", "azblob":
	default:
		return e, fmt.Errorf("unknown cache type %q", e.Type)
	}
	if m, ok := e.Attrs["mode"]; ok && m != "min" && m != "max" {
		return e, fmt.Errorf("mode=%s: want min or max", m)
	}
	return e, nil
}

// frontendAttrs are the dockerfile.v0 frontend's options for r.
func (r Request) frontendAttrs() map[string]string {
	df := r.dockerfilePath()
	a := map[string]string{"filename": filepath.Base(df)}
	if r.Target != "" {
		a["target"] = r.Target
	}
	if len(r.Platforms) > 0 {
		ps := make([]string, len(r.Platforms))
		for i, p := range r.Platforms {
			ps[i] = platforms.Format(platforms.Normalize(platforms.MustParse(p)))
		}
		a["platform"] = strings.Join(ps, ",")
	}
	for k, v := range r.Args {
		a["build-arg:"+k] = v
	}
	for k, v := range r.Labels {
		a["label:"+k] = v
	}
	if r.NoCache {
		a["no-cache"] = ""
	}
	if r.Pull {
		a["image-resolve-mode"] = "pull"
	}
	if r.SourceDateEpoch != 0 {
		a["build-arg:SOURCE_DATE_EPOCH"] = strconv.FormatInt(r.SourceDateEpoch, 10)
	}
	if r.Provenance != "" {
		a["attest:provenance"] = "mode=" + r.Provenance
		// The provenance names the source the way buildx records git.
		if v := r.Annotations["org.opencontainers.image.revision"]; v != "" {
			a["vcs:revision"] = v
		}
		if v := r.Annotations["org.opencontainers.image.source"]; v != "" {
			a["vcs:source"] = v
		}
	}
	return a
}

// exportAttrs are the oci exporter's options for r: an OCI layout written
// into a content store (tar=false), OCI media types, and annotations.
func (r Request) exportAttrs() map[string]string {
	a := map[string]string{
		"tar":            "false",
		"oci-mediatypes": "true",
	}
	if r.SourceDateEpoch != 0 {
		a["rewrite-timestamp"] = "true"
	}
	keys := make([]string, 0, len(r.Annotations))
	for k := range r.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	multi := len(r.Platforms) > 1
	for _, k := range keys {
		v := r.Annotations[k]
		a["annotation."+k] = v // every manifest
		if multi {
			a["annotation-index."+k] = v
		}
	}
	return a
}

// cacheOptions are r's cache imports and exports as BuildKit takes them,
// with what buildx fills in: for registry exports the settings registries
// accept (image-manifest=true, oci-mediatypes=true), for the GitHub
// Actions cache the runner's variables (ACTIONS_RUNTIME_TOKEN,
// ACTIONS_CACHE_URL or ACTIONS_RESULTS_URL, ACTIONS_CACHE_SERVICE_V2) and a
// scope named after the image. A gha cache without a token is left out,
// with a warning: a build outside GitHub Actions runs without that cache.
func cacheOptions(r Request, getenv func(string) string) (imports, exports []client.CacheOptionsEntry, warnings []string, err error) {
	add := func(specs []string, export bool) ([]client.CacheOptionsEntry, error) {
		var out []client.CacheOptionsEntry
		for _, spec := range specs {
			e, err := parseCacheSpec(spec, export)
			if err != nil {
				return nil, err
			}
			switch e.Type {
			case "registry":
				if export {
					if _, ok := e.Attrs["oci-mediatypes"]; !ok {
						e.Attrs["oci-mediatypes"] = "true"
					}
					if _, ok := e.Attrs["image-manifest"]; !ok && e.Attrs["oci-mediatypes"] != "false" {
						e.Attrs["image-manifest"] = "true"
					}
				}
			case "gha":
				if !githubCache(e.Attrs, r.Name, getenv) {
					dir := "cache-from"
					if export {
						dir = "cache-to"
					}
					warnings = append(warnings, fmt.Sprintf("image %s: %s type=gha skipped: no token (ACTIONS_RUNTIME_TOKEN is set only inside GitHub Actions)", r.Name, dir))
					continue
				}
			}
			out = append(out, e)
		}
		return out, nil
	}
	if imports, err = add(r.CacheFrom, false); err != nil {
		return nil, nil, nil, err
	}
	if exports, err = add(r.CacheTo, true); err != nil {
		return nil, nil, nil, err
	}
	return imports, exports, warnings, nil
}

// githubCache fills the attributes of a gha cache from the runner's
// environment where the spec left them out, as buildx does; it reports
// false when there is no token.
func githubCache(a map[string]string, image string, getenv func(string) string) bool {
	setIfEmpty := func(k, v string) {
		if _, ok := a[k]; !ok && v != "" {
			a[k] = v
		}
	}
	setIfEmpty("token", getenv("ACTIONS_RUNTIME_TOKEN"))
	if _, ok := a["version"]; !ok {
		if v2, err := strconv.ParseBool(getenv("ACTIONS_CACHE_SERVICE_V2")); err == nil && v2 {
			a["version"] = "2"
		}
	}
	if a["version"] == "2" {
		setIfEmpty("url_v2", getenv("ACTIONS_RESULTS_URL"))
	}
	url := getenv("ACTIONS_CACHE_URL")
	if url == "" {
		url = getenv("ACTIONS_RESULTS_URL")
	}
	setIfEmpty("url", url)
	setIfEmpty("scope", image)
	return a["token"] != ""
}
