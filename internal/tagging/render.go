package tagging

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// DefaultTemplates is what applies when slipway.yaml has no tags: the short commit.
var DefaultTemplates = []string{"{{.ShortCommit}}"}

// ErrNotRepository is wrapped by Render's error when a template reads a git
// fact and the facts come from outside a git work tree.
var ErrNotRepository = errors.New("not inside a git work tree")

// TemplateError is a tag template that cannot be rendered into a valid tag.
type TemplateError struct {
	Index    int    // position of the template in the list given to Render
	Template string // the template text, for the caller to locate it
	Err      error
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("tag template %q: %v", e.Template, e.Err)
}

func (e *TemplateError) Unwrap() error { return e.Err }

// maxRendered bounds what one template may write, and any string a template
// function builds, so that no template can exhaust memory. It is far above
// the 128 characters a tag may have.
const maxRendered = 1024

var errTooLong = fmt.Errorf("renders more than %d bytes", maxRendered)

// Render renders each template over f and returns the tags in template
// order, duplicates removed, with a warning for each template it skipped.
//
// Templates are Go text/template text. They read the facts as .Commit,
// .ShortCommit, .Branch, .Tag, .Version, .Major, .Minor, .Patch,
// .Prerelease, .Describe, .Date, .Timestamp, .BuildNumber and .Dirty, and
// may call:
//
//	env NAME             the variable's value, looked up with getenv (nil: os.Getenv)
//	default DEF VALUE    DEF when VALUE is unset, "" or false; else VALUE
//	lower S              S in lower case
//	replace OLD NEW S    S with every OLD replaced by NEW
//	trunc N S            the first N characters of S; the last -N when N < 0
//
// and the built-ins printf (widths below 256; unset if an argument is),
// and, or, not, eq, ne, lt, le, gt, ge, len, index and slice. range,
// define, template, block and the other built-ins are refused: a tag
// template computes one short value and always finishes. Output and every
// intermediate string are limited to 1024 bytes.
//
// A fact that does not apply here (.Tag with no tag at HEAD; .Version,
// .Major, .Minor, .Patch and .Prerelease without a semver tag; .Branch on
// a detached HEAD without a CI branch variable; .BuildNumber outside CI;
// env of an unset or empty variable) is unset: if, with and default treat
// it as empty, the functions above pass it through, and a template that
// prints it is skipped with a warning, as is a template whose output
// (spaces trimmed) is empty. So {{.Major}}.{{.Minor}} yields nothing on an
// untagged commit, while {{default "dev" .Version}} yields "dev".
//
// On a dirty tree (f.Dirty), a template that reads any fact of the commit
// (.Commit, .ShortCommit, .Describe, .Tag, .Version, .Major, .Minor,
// .Patch, .Prerelease, .Date, .Timestamp), even only in a condition, gets
// "-dirty" appended, so a dirty build never claims the clean commit's tag.
// .Branch and .BuildNumber do not name a commit and add no suffix. A
// template that reads .Dirty decides for itself and gets no suffix.
//
// When f.InRepo is false a template that reads a git fact (all but
// .BuildNumber) is an error wrapping ErrNotRepository; in a repository
// without commits it is an error too. A template that does not parse, uses
// a refused construct, or renders a value that is not a valid tag
// ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) is an error. err joins one
// *TemplateError per failing template (errors.Join), so a caller can point
// at each; when err is not nil, tags and warnings are nil.
func Render(templates []string, f Facts, getenv func(string) string) (tags []string, warnings []string, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	seen := make(map[string]bool)
	for i, text := range templates {
		tag, skipped, _, err := renderOne(text, &f, getenv)
		switch {
		case err != nil:
			errs = append(errs, &TemplateError{Index: i, Template: text, Err: err})
		case skipped != "":
			warnings = append(warnings, fmt.Sprintf("tag template %q skipped: %s", text, skipped))
		case !seen[tag]:
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return tags, warnings, nil
}

// Immutable says which of the tags that templates render name one commit
// or version: they read .Commit, .ShortCommit, .Describe or the full
// .Version. Such tags are meant never to move; the others (.Major.Minor,
// branches, fixed text like latest) move by design.
func Immutable(templates []string, f Facts, getenv func(string) string) map[string]bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	out := map[string]bool{}
	for _, text := range templates {
		if tag, skipped, pinned, err := renderOne(text, &f, getenv); err == nil && skipped == "" && pinned {
			out[tag] = true
		}
	}
	return out
}

// renderOne returns the tag, or why the template is skipped, or an error;
// pinned says whether it read a fact that names one commit or version.
func renderOne(text string, f *Facts, getenv func(string) string) (tag, skipped string, pinned bool, err error) {
	tag, skipped, st, err := execute(text, f, getenv)
	return tag, skipped, st != nil && st.pinned, err
}

func execute(text string, f *Facts, getenv func(string) string) (tag, skipped string, st *renderState, err error) {
	st = &renderState{f: f, getenv: getenv}
	t, err := template.New("tag").Funcs(st.funcs()).Parse(text)
	if err != nil {
		return "", "", st, cleanTemplateError(err)
	}
	if err := checkTree(t); err != nil {
		return "", "", st, err
	}
	var out cappedWriter
	err = t.Execute(&out, view{st})
	if st.fatal != nil {
		return "", "", st, st.fatal
	}
	if err != nil {
		if errors.Is(err, errTooLong) {
			return "", "", st, errTooLong
		}
		return "", "", st, cleanTemplateError(err)
	}
	s := strings.TrimSpace(string(out))
	// text/template prints an unset value as "<no value>".
	if s == "" || strings.Contains(s, "<no value>") {
		if len(st.unset) > 0 {
			return "", strings.Join(st.unset, "; "), st, nil
		}
		if s == "" {
			return "", "it rendered empty", st, nil
		}
		return "", "it prints a value that is not set", st, nil
	}
	if f.Dirty && st.readCommit && !st.readDirty {
		s += "-dirty"
	}
	if err := checkTag(s); err != nil {
		if st.readEnv { // the value may hold a secret: describe it, never show it
			return "", "", st, fmt.Errorf("rendered value is not a valid tag: %w", err)
		}
		return "", "", st, fmt.Errorf("rendered %q, which is not a valid tag: %w", s, err)
	}
	return s, "", st, nil
}

// cleanTemplateError drops text/template's "template: tag:" prefix, which
// names our internal template rather than anything the user wrote.
func cleanTemplateError(err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "template: tag:"); ok {
		return errors.New("line " + rest)
	}
	return err
}

// allowedFuncs are the identifiers a template may call: ours and the
// built-ins whose cost is bounded by the template's size.
var allowedFuncs = map[string]bool{
	"env": true, "default": true, "lower": true, "replace": true, "trunc": true, "printf": true,
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true,
	"gt": true, "ge": true, "len": true, "index": true, "slice": true,
}

// checkTree refuses the constructs that can loop or nest without bound.
func checkTree(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("define and block are not supported in tag templates")
	}
	if t.Tree == nil {
		return nil
	}
	var err error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		if err != nil || n == nil {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			err = errors.New("range is not supported in tag templates")
		case *parse.TemplateNode:
			err = errors.New("template and block are not supported in tag templates")
		case *parse.IdentifierNode:
			if !allowedFuncs[n.Ident] {
				err = fmt.Errorf("function %q is not available in tag templates", n.Ident)
			}
		}
	}
	walk(t.Tree.Root)
	return err
}

type cappedWriter []byte

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(*w)+len(p) > maxRendered {
		return 0, errTooLong
	}
	*w = append(*w, p...)
	return len(p), nil
}

// renderState records what one execution of a template read.
type renderState struct {
	f      *Facts
	getenv func(string) string

	readCommit bool     // read a fact that names the commit
	readDirty  bool     // read .Dirty
	pinned     bool     // read a fact that names one commit or version
	readEnv    bool     // called env with a set variable
	unset      []string // why the unset values it read are unset, in order
	fatal      error    // a git fact read without git facts
}

func (st *renderState) noteUnset(why string) {
	for _, u := range st.unset {
		if u == why {
			return
		}
	}
	st.unset = append(st.unset, why)
}

// git checks that git facts exist before a template reads the fact name.
func (st *renderState) git(name string) error {
	switch {
	case !st.f.InRepo:
		st.fatal = fmt.Errorf(".%s needs git facts: %w", name, ErrNotRepository)
	case st.f.Commit == "":
		st.fatal = fmt.Errorf(".%s needs git facts, but the repository has no commits yet", name)
	}
	return st.fatal
}

// fact reads a fact that names the commit; with why set, "" means unset.
func (st *renderState) fact(name, value, why string) (any, error) {
	if err := st.git(name); err != nil {
		return nil, err
	}
	st.readCommit = true
	if value == "" && why != "" {
		st.noteUnset(why)
		return nil, nil
	}
	return value, nil
}

const (
	whyNoTag    = "HEAD has no git tag"
	whyNoSemver = "HEAD has no semantic version tag"
)

// view is the dot of a tag template. Its methods, rather than Facts'
// fields, let Render see what a template reads and report unset facts as
// nil (untyped nil is false for if and prints as "<no value>").
type view struct{ st *renderState }

func (v view) Commit() (any, error) {
	v.st.pinned = true
	return v.st.fact("Commit", v.st.f.Commit, "")
}

func (v view) ShortCommit() (any, error) {
	v.st.pinned = true
	return v.st.fact("ShortCommit", v.st.f.ShortCommit, "")
}

func (v view) Describe() (any, error) {
	v.st.pinned = true
	return v.st.fact("Describe", v.st.f.Describe, "")
}
func (v view) Date() (any, error)      { return v.st.fact("Date", v.st.f.Date, "") }
func (v view) Timestamp() (any, error) { return v.st.fact("Timestamp", v.st.f.Timestamp, "") }
func (v view) Tag() (any, error)       { return v.st.fact("Tag", v.st.f.Tag, whyNoTag) }
func (v view) Version() (any, error) {
	v.st.pinned = true
	return v.st.fact("Version", v.st.f.Version, whyNoSemver)
}
func (v view) Major() (any, error) { return v.st.fact("Major", v.st.f.Major, whyNoSemver) }
func (v view) Minor() (any, error) { return v.st.fact("Minor", v.st.f.Minor, whyNoSemver) }
func (v view) Patch() (any, error) { return v.st.fact("Patch", v.st.f.Patch, whyNoSemver) }

// Prerelease is "" for a release and unset without a semver tag.
func (v view) Prerelease() (any, error) {
	if v.st.f.Version == "" {
		return v.st.fact("Prerelease", "", whyNoSemver)
	}
	return v.st.fact("Prerelease", v.st.f.Prerelease, "")
}

func (v view) Branch() (any, error) {
	if err := v.st.git("Branch"); err != nil {
		return nil, err
	}
	if v.st.f.Branch == "" {
		v.st.noteUnset("HEAD is detached and no CI branch variable is set")
		return nil, nil
	}
	return v.st.f.Branch, nil
}

func (v view) Dirty() (any, error) {
	if err := v.st.git("Dirty"); err != nil {
		return nil, err
	}
	v.st.readDirty = true
	return v.st.f.Dirty, nil
}

// Format makes printing the dot itself an error rather than a pointer.
// (Format is no fact: a template cannot supply its arguments.)
func (v view) Format(fmt.State, rune) {
	if v.st.fatal == nil {
		v.st.fatal = errors.New("{{.}} is the set of facts, not a value; print one fact, such as {{.ShortCommit}}")
	}
}

func (v view) BuildNumber() any {
	if v.st.f.BuildNumber == "" {
		v.st.noteUnset("no CI build number (GITHUB_RUN_NUMBER, CI_PIPELINE_IID, BUILD_NUMBER) is set")
		return nil
	}
	return v.st.f.BuildNumber
}

func (st *renderState) funcs() template.FuncMap {
	return template.FuncMap{
		"env": func(name string) any {
			v := st.getenv(name)
			if v == "" {
				st.noteUnset("$" + name + " is not set")
				return nil
			}
			st.readEnv = true
			return v
		},
		"default": func(def any, given ...any) any {
			if len(given) == 0 {
				return def
			}
			switch g := given[0].(type) {
			case nil:
				return def
			case string:
				if g == "" {
					return def
				}
			case bool:
				if !g {
					return def
				}
			}
			return given[0]
		},
		"lower": func(s any) (any, error) {
			return mapString(s, strings.ToLower)
		},
		"replace": func(old, new string, s any) (any, error) {
			str, ok, err := asString(s)
			if !ok || err != nil {
				return nil, err
			}
			n := strings.Count(str, old)
			if len(str)+n*(len(new)-len(old)) > maxRendered {
				return nil, errTooLong
			}
			return strings.ReplaceAll(str, old, new), nil
		},
		"trunc": func(n int, s any) (any, error) {
			return mapString(s, func(str string) string { return trunc(n, str) })
		},
		"printf": printf,
	}
}

// asString accepts what facts and functions produce; ok is false for unset.
func asString(v any) (s string, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case bool:
		return strconv.FormatBool(v), true, nil
	case int:
		return strconv.Itoa(v), true, nil
	}
	return "", false, fmt.Errorf("expected a string, got %T", v)
}

// mapString applies fn to a string argument and passes unset through.
func mapString(v any, fn func(string) string) (any, error) {
	s, ok, err := asString(v)
	if !ok || err != nil {
		return nil, err
	}
	s = fn(s)
	if len(s) > maxRendered {
		return nil, errTooLong
	}
	return s, nil
}

// trunc keeps the first n runes of s, or the last -n when n is negative.
func trunc(n int, s string) string {
	count := utf8.RuneCountInString(s)
	if n >= count || n < 0 && n <= -count {
		return s
	}
	if n < 0 {
		n = count + n // the index of the first rune to keep
		for i := range s {
			if n == 0 {
				return s[i:]
			}
			n--
		}
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// printf is fmt.Sprintf without the ways to ask for huge output: widths and
// precisions stay under 256, and '*' (width from an argument) is refused.
func printf(format string, args ...any) (any, error) {
	for _, a := range args {
		if a == nil {
			return nil, nil // an unset argument makes the result unset
		}
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		num := 0
	verb:
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case c >= '0' && c <= '9':
				num = num*10 + int(c-'0')
				if num >= 256 {
					return nil, errors.New("printf: width and precision must be below 256")
				}
			case c == '.' || c == '+' || c == '-' || c == '#' || c == ' ':
				num = 0
			case c == '*' || c == '[':
				return nil, errors.New("printf: '*' and explicit argument indexes are not supported")
			default:
				break verb
			}
		}
	}
	s := fmt.Sprintf(format, args...)
	if len(s) > maxRendered {
		return nil, errTooLong
	}
	return s, nil
}
