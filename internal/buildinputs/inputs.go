// Package buildinputs says which files an image's build reads: its
// Dockerfile and the files of its context that BuildKit is sent, after the
// context's .dockerignore and without slipway's own files (the store,
// reports, the signing key pair, the manifests slipway rewrites). The dirty
// rule of tags and the input digest of an image are both judged on this
// set, so that they agree with what the build really sees.
package buildinputs

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Input names one image's build inputs.
type Input struct {
	// Context is the build context folder, absolute.
	Context string
	// Dockerfile is the Dockerfile's absolute path (inside Context or not).
	Dockerfile string
	// Own are absolute paths of slipway's own files and folders, which are
	// never part of a build context.
	Own []string
	// OwnFile, when set, recognises more of slipway's own files by their
	// path (absolute), such as reports written earlier. It is asked about
	// changed files only, never while walking a whole context.
	OwnFile func(path string) bool
}

// File is one file of the build context that BuildKit is sent.
type File struct {
	// Path is relative to the context, with forward slashes.
	Path string
	Mode fs.FileMode
	Size int64
}

// IgnoreFile is the .dockerignore that applies to in, as BuildKit picks it:
// <Dockerfile>.dockerignore beside the Dockerfile first, else .dockerignore
// at the root of the context. It returns "" when there is none.
func (in Input) IgnoreFile() string {
	if in.Dockerfile != "" {
		p := in.Dockerfile + ".dockerignore"
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	p := filepath.Join(in.Context, ".dockerignore")
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p
	}
	return ""
}

// IgnorePatterns reads the patterns of the .dockerignore that applies.
func (in Input) IgnorePatterns() ([]string, error) {
	p := in.IgnoreFile()
	if p == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	pats, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return pats, nil
}

// OwnPatterns are exclude patterns, relative to the context, for the own
// files inside it; own files outside the context need none.
func (in Input) OwnPatterns() []string {
	var out []string
	for _, p := range in.ownInside() {
		out = append(out, escapePattern(p))
	}
	return out
}

// ownInside lists the own paths inside the context, relative to it, with
// forward slashes; the context itself never counts as own.
func (in Input) ownInside() []string {
	ctxDir := resolve(in.Context)
	var out []string
	for _, p := range in.Own {
		rel, ok := within(ctxDir, resolve(p))
		if ok && rel != "." {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return out
}

// escapePattern makes a path a literal dockerignore pattern.
func escapePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// matcher says whether a context-relative path is left out of the context.
type matcher struct {
	ignore *patternmatcher.PatternMatcher
	own    []string
}

func (in Input) matcher() (*matcher, error) {
	pats, err := in.IgnorePatterns()
	if err != nil {
		return nil, err
	}
	m := &matcher{own: in.ownInside()}
	if len(pats) > 0 {
		if m.ignore, err = patternmatcher.New(pats); err != nil {
			return nil, fmt.Errorf("reading %s: %w", in.IgnoreFile(), err)
		}
	}
	return m, nil
}

// isOwn reports whether rel is one of slipway's files or below one.
func (m *matcher) isOwn(rel string) bool {
	for _, o := range m.own {
		if rel == o || strings.HasPrefix(rel, o+"/") {
			return true
		}
	}
	return false
}

// excluded reports whether rel (slash-separated, relative to the context)
// is not sent to BuildKit.
func (m *matcher) excluded(rel string) (bool, error) {
	if m.isOwn(rel) {
		return true, nil
	}
	if m.ignore == nil {
		return false, nil
	}
	//nolint:staticcheck // MatchesOrParentMatches is what BuildKit's context transfer applies.
	return m.ignore.MatchesOrParentMatches(rel)
}

// canSkipDir reports whether a whole excluded folder can be skipped: only
// when no "!" pattern could bring something below it back.
func (m *matcher) canSkipDir(rel string) bool {
	return m.isOwn(rel) || m.ignore == nil || !m.ignore.Exclusions()
}

// List walks the context and returns the files BuildKit is sent, sorted
// by path, plus the Dockerfile when it lies outside the context (as
// "../"-free absolute path in Path). Symbolic links are listed, not followed.
func List(ctx context.Context, in Input) ([]File, error) {
	m, err := in.matcher()
	if err != nil {
		return nil, err
	}
	root := in.Context
	var out []File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		ex, err := m.excluded(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if ex && m.canSkipDir(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if ex {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, File{Path: rel, Mode: info.Mode(), Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the build context %s: %w", root, err)
	}
	if in.Dockerfile != "" {
		if _, inside := within(resolve(in.Context), resolve(in.Dockerfile)); !inside {
			st, err := os.Stat(in.Dockerfile)
			if err != nil {
				return nil, fmt.Errorf("reading the Dockerfile: %w", err)
			}
			out = append(out, File{Path: in.Dockerfile, Mode: st.Mode(), Size: st.Size()})
		}
	}
	return out, nil
}

// Sends reports whether a path (absolute) is a build input of in: the
// Dockerfile, its .dockerignore, or a file of the context that BuildKit is
// sent.
func (in Input) Sends(m *matcher, path string) (bool, error) {
	path = resolve(path)
	if in.Dockerfile != "" && path == resolve(in.Dockerfile) {
		return true, nil
	}
	if ig := in.IgnoreFile(); ig != "" && path == resolve(ig) {
		return true, nil
	}
	rel, ok := within(resolve(in.Context), path)
	if !ok || rel == "." {
		return false, nil
	}
	ex, err := m.excluded(filepath.ToSlash(rel))
	return !ex, err
}

// resolve makes p absolute and clean, with symbolic links of its existing
// part resolved, so that paths from git and from slipway.yaml compare.
func resolve(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	// The path may not exist (a deleted file): resolve its folder.
	dir, base := filepath.Split(abs)
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(r, base)
	}
	return abs
}

// within returns p relative to dir when p is dir or below it.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}
