package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Source names one set of manifests, as an entry of a project's manifests
// list does: paths to walk, or one kustomization file, and the options its
// files are rewritten with.
type Source struct {
	// Paths are files, folders and globs, found as Files finds them.
	Paths []string
	// Kustomization, when set, is the one file of the source, taken as it
	// is (its images: entries are rewritten); Paths are then ignored.
	Kustomization string
	Options       Options
}

// ErrChartTemplate marks a Helm chart template named as a manifest.
var ErrChartTemplate = errors.New("a Helm chart template is not YAML until Helm renders it; bump the chart's values.yaml through rules: instead")

// Discover finds the files of a source: the one file every command that
// reads a project's manifests uses, so that they all read the same files.
// The Target it returns holds the files found, the source's options, and
// the chart template folders that walking left out.
func Discover(src Source) (Target, error) {
	t := Target{Options: src.Options}
	if src.Kustomization != "" {
		t.Files = []string{filepath.Clean(src.Kustomization)}
		return t, nil
	}
	files, skipped, err := walk(src.Paths)
	if err != nil {
		return Target{}, err
	}
	t.Files, t.Skipped = files, skipped
	return t, nil
}

// Files expands paths into the manifest files they name, sorted and without
// duplicates. A file is taken whatever its name. A directory is walked
// recursively for *.yaml, *.yml, *.json and Kustomization files, skipping
// files and folders whose name starts with a dot (.git) and the templates/
// folders of Helm charts (a templates folder beside a Chart.yaml: its files
// are not YAML until Helm renders them); symlinked files are taken,
// symlinked folders inside it are not followed (a folder named in paths is
// walked even through a symlink). A glob (*, ?, [...]) is expanded first;
// its files are taken and its folders walked. A path that does not exist, a
// glob that matches nothing, or a path inside a chart's templates folder is
// an error.
func Files(paths []string) ([]string, error) {
	files, _, err := walk(paths)
	return files, err
}

func walk(paths []string) (files, skipped []string, err error) {
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
				return nil, nil, fmt.Errorf("expanding %s: %w", p, err)
			}
			if len(m) == 0 {
				return nil, nil, fmt.Errorf("expanding %s: no file matches", p)
			}
			matches = m
		}
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				return nil, nil, fmt.Errorf("reading %s: %w", m, err)
			}
			if inChartTemplates(m) {
				return nil, nil, &FileError{File: m, Err: ErrChartTemplate}
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
					if path == root {
						return nil
					}
					if strings.HasPrefix(d.Name(), ".") {
						return filepath.SkipDir
					}
					if isChartTemplates(path) {
						skipped = append(skipped, filepath.Clean(path))
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
				return nil, nil, fmt.Errorf("walking %s: %w", m, err)
			}
		}
	}
	sort.Strings(out)
	sort.Strings(skipped)
	return out, skipped, nil
}

// isChartTemplates reports whether dir is a Helm chart's templates folder:
// named templates, beside a Chart.yaml.
func isChartTemplates(dir string) bool {
	if filepath.Base(dir) != "templates" {
		return false
	}
	fi, err := os.Stat(filepath.Join(filepath.Dir(filepath.Clean(dir)), "Chart.yaml"))
	return err == nil && fi.Mode().IsRegular()
}

// inChartTemplates reports whether p is a chart's templates folder or lies
// inside one.
func inChartTemplates(p string) bool {
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	for d := abs; ; {
		if isChartTemplates(d) {
			return true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}

func isManifestName(base string) bool {
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return base == "Kustomization"
}
