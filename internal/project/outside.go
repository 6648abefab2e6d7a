package project

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkOutside refuses build contexts and manifests that resolve outside
// the project folder (through "..", an absolute path or a symbolic link),
// unless allow_outside lists them: a project file should not make slipway
// read or rewrite files its user did not mean to hand over. Paths must be
// absolute (after resolvePaths).
func checkOutside(cfg *Config, root *yaml.Node, ps *Problems) {
	at := func(p Position, format string, args ...any) {
		ps.add(cfg.File, p.Line, p.Col, fmt.Sprintf(format, args...))
	}
	project := realPath(cfg.Dir)
	var allowed []string
	for _, a := range cfg.AllowOutside {
		if !filepath.IsAbs(a) {
			a = filepath.Join(cfg.Dir, a)
		}
		allowed = append(allowed, realPath(a))
	}
	outside := func(p string) (string, bool) {
		r := realPath(p)
		if isWithin(project, r) {
			return r, false
		}
		for _, a := range allowed {
			if isWithin(a, r) {
				return r, false
			}
		}
		return r, true
	}
	explain := func(given, real string) string {
		if real != filepath.Clean(given) {
			return fmt.Sprintf("%s (%s) is outside the project folder %s", given, real, cfg.Dir)
		}
		return fmt.Sprintf("%s is outside the project folder %s", given, cfg.Dir)
	}
	imagesNode := mappingValue(root, "images")
	for i, img := range cfg.Images {
		if r, out := outside(img.Context); out {
			at(valuePos(seqItem(imagesNode, i), "context"), "images[%d].context: %s; list it in allow_outside if that is meant", i, explain(img.Context, r))
		}
	}
	manifestsNode := mappingValue(root, "manifests")
	for i, m := range cfg.Manifests {
		mNode := seqItem(manifestsNode, i)
		for j, p := range m.Paths {
			matches, err := filepath.Glob(p)
			if err != nil || len(matches) == 0 {
				matches = []string{p}
			}
			for _, match := range matches {
				if bad, real := outsideBelow(match, outside); bad != "" {
					at(seqItemPos(mNode, "paths", j), "manifests[%d].paths[%d]: %s; list it in allow_outside if that is meant", i, j, explain(bad, real))
					break
				}
			}
		}
		if m.Kustomization != "" {
			if r, out := outside(m.Kustomization); out {
				at(valuePos(mNode, "kustomization"), "manifests[%d].kustomization: %s; list it in allow_outside if that is meant", i, explain(m.Kustomization, r))
			}
		}
	}
}

// outsideBelow checks p and, for a folder, every symbolic link below it;
// it returns the first path that leads outside, and where it leads.
func outsideBelow(p string, outside func(string) (string, bool)) (string, string) {
	if r, out := outside(p); out {
		return p, r
	}
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return "", ""
	}
	var bad, real string
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil || bad != "" {
			return filepath.SkipDir
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if r, out := outside(q); out {
				bad, real = q, r
				return filepath.SkipAll
			}
		}
		return nil
	})
	return bad, real
}

// realPath resolves the symbolic links of the part of p that exists.
func realPath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	dir, base := filepath.Split(p)
	if dir == "" || filepath.Clean(dir) == p {
		return p
	}
	return filepath.Join(realPath(filepath.Clean(dir)), base)
}

func isWithin(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
