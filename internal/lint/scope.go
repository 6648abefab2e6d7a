package lint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/manifest"
)

// Scope is what `slipway lint` was asked to read.
type Scope struct {
	// Project is slipway.yaml, nil when there is none.
	Project *project.Config
	// Paths are the PATH arguments: Dockerfiles (Dockerfile,
	// *.Dockerfile, Dockerfile.*, Containerfile) and manifest files or
	// folders. None means the whole project.
	Paths []string
	// Dockerfiles are files named with --dockerfile, whatever their name.
	Dockerfiles []string
	// StoreDir is the local store; empty means the project's default.
	StoreDir string
	// WorkDir is the folder file names are shown relative to.
	WorkDir string
}

// ErrNothing is returned when there is neither a project nor a PATH.
var ErrNothing = errors.New("nothing to lint: no slipway.yaml and no PATH")

// Gather turns a scope into a request (without Config or Registry).
func Gather(s Scope) (Request, error) {
	var req Request
	rel := func(p string) string { return Rel(s.WorkDir, p) }
	if len(s.Paths) == 0 && len(s.Dockerfiles) == 0 {
		if s.Project == nil {
			return req, ErrNothing
		}
		req.Dockerfiles = ProjectDockerfiles(s.Project, s.Project.Images, rel)
		ms, err := ProjectManifests(s.Project, rel)
		if err != nil {
			return req, err
		}
		req.Manifests = ms
		st, imgs, err := storeImages(s, rel)
		if err != nil {
			return req, err
		}
		req.Store, req.Images = st, imgs
		return req, nil
	}
	for _, p := range s.Dockerfiles {
		req.Dockerfiles = append(req.Dockerfiles, dockerfileFor(s.Project, p, rel))
	}
	var others []string
	for _, p := range s.Paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && IsDockerfileName(filepath.Base(p)) {
			req.Dockerfiles = append(req.Dockerfiles, dockerfileFor(s.Project, p, rel))
			continue
		}
		others = append(others, p)
	}
	if len(others) > 0 {
		t, err := manifest.Discover(manifest.Source{Paths: others})
		if err != nil {
			return req, err
		}
		for _, f := range t.Files {
			req.Manifests = append(req.Manifests, Manifest{Path: f, Shown: rel(f)})
		}
	}
	return req, nil
}

// IsDockerfileName reports whether a file name is a Dockerfile's:
// Dockerfile, Containerfile, NAME.Dockerfile or Dockerfile.NAME.
func IsDockerfileName(base string) bool {
	switch {
	case base == "Dockerfile", base == "Containerfile":
		return true
	case strings.HasSuffix(base, ".Dockerfile"), strings.HasSuffix(base, ".dockerfile"):
		return true
	case strings.HasPrefix(base, "Dockerfile."), strings.HasPrefix(base, "Containerfile."):
		return true
	}
	return false
}

// dockerfileFor is the Dockerfile at p, with the settings of the project
// image built from it when there is one.
func dockerfileFor(cfg *project.Config, p string, rel func(string) string) Dockerfile {
	abs, _ := filepath.Abs(p)
	if cfg != nil {
		for _, df := range ProjectDockerfiles(cfg, cfg.Images, rel) {
			if df.Path == abs {
				return df
			}
		}
	}
	return Dockerfile{Path: abs, Shown: rel(abs)}
}

// ProjectDockerfiles are the Dockerfiles of images with their build
// settings. Two images built from one Dockerfile with different settings
// are two entries.
func ProjectDockerfiles(cfg *project.Config, images []project.Image, rel func(string) string) []Dockerfile {
	var out []Dockerfile
	for _, img := range images {
		p := img.Dockerfile
		if !filepath.IsAbs(p) {
			p = filepath.Join(img.Context, p)
		}
		out = append(out, Dockerfile{Path: p, Shown: rel(p), Args: img.Args, Target: img.Target, Platforms: img.Platforms})
	}
	return out
}

// ProjectManifests are the files of the project's manifests entries, found
// as bump finds them.
func ProjectManifests(cfg *project.Config, rel func(string) string) ([]Manifest, error) {
	var out []Manifest
	seen := map[string]bool{}
	for i, m := range cfg.Manifests {
		rules := m.BumpRules()
		t, err := manifest.Discover(manifest.Source{Paths: m.Paths, Kustomization: m.Kustomization})
		if err != nil {
			return nil, fmt.Errorf("%s: manifests[%d]: %w", cfg.File, i, err)
		}
		for _, f := range t.Files {
			key := f + "\x00" + fmt.Sprint(rules)
			if !seen[key] {
				seen[key] = true
				out = append(out, Manifest{Path: f, Shown: rel(f), Rules: rules})
			}
		}
	}
	return out, nil
}

// storeImages lists every image of the project's store, shown against the
// Dockerfile of the project image of the same name. A store that was
// never written is empty, not an error, and is not created.
func storeImages(s Scope, rel func(string) string) (*store.Store, []StoreImage, error) {
	dir := s.StoreDir
	if dir == "" {
		dir = filepath.Join(s.Project.Dir, ".slipway", "store")
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	entries, err := st.Entries()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the store: %w", err)
	}
	files := map[string]string{}
	for i, df := range ProjectDockerfiles(s.Project, s.Project.Images, rel) {
		files[s.Project.Images[i].Name] = df.Shown
	}
	var out []StoreImage
	for _, e := range entries {
		f, ok := files[e.Name]
		if !ok {
			f = rel(filepath.Join(dir, "index.json"))
		}
		out = append(out, StoreImage{Name: e.Name, File: f})
	}
	return st, out, nil
}

// Rel shows p relative to dir when it is inside it, else as it is.
func Rel(dir, p string) string {
	if dir == "" {
		return p
	}
	if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return r
	}
	return p
}

// Options are how Lint reads what a scope names.
type Options struct {
	// Online lets lint ask registries (base-size, base configs); default
	// offline.
	Online bool
	// Access is how registries are reached when Online.
	Access *access.Access
}

// Lint gathers what s names and lints it under the project's lint:
// settings.
func Lint(ctx context.Context, s Scope, opts Options) (*Result, error) {
	req, err := Gather(s)
	if err != nil {
		return nil, err
	}
	if s.Project != nil {
		if req.Config, err = ConfigFrom(s.Project.Lint, s.Project.File); err != nil {
			return nil, err
		}
	}
	if opts.Online {
		req.Registry = RemoteRegistry{Access: opts.Access}
	}
	return Run(ctx, req)
}
