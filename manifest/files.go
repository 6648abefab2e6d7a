package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files expands paths into the manifest files they name, sorted and without
// duplicates. A file is taken whatever its name. A directory is walked
// recursively for *.yaml, *.yml, *.json and Kustomization files, skipping
// files and folders whose name starts with a dot (.git); symlinked files
// are taken, symlinked folders inside it are not followed (a folder named
// in paths is walked even through a symlink). A glob (*, ?, [...]) is
// expanded first; its files are taken and its folders walked. A path that
// does not exist, or a glob that matches nothing, is an error.
func Files(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		matches := []string{p}
		if strings.ContainsAny(p, "*?[") {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("expanding %s: %w", p, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("expanding %s: no file matches", p)
			}
			matches = m
		}
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", m, err)
			}
			if !fi.IsDir() {
				add(m)
				continue
			}
			root := m
			if li, err := os.Lstat(m); err == nil && li.Mode()&fs.ModeSymlink != 0 {
				// A folder named through a symlink is walked: the trailing
				// separator makes the walk start at its target.
				root = m + string(filepath.Separator)
			}
			err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					if path != root && strings.HasPrefix(d.Name(), ".") {
						return filepath.SkipDir
					}
					return nil
				}
				if !isManifestName(d.Name()) || strings.HasPrefix(d.Name(), ".") {
					return nil
				}
				if d.Type()&fs.ModeSymlink != 0 {
					if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
						return nil
					}
				} else if !d.Type().IsRegular() {
					return nil
				}
				add(path)
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("walking %s: %w", m, err)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func isManifestName(base string) bool {
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return base == "Kustomization"
}
