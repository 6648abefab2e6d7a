package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// op replaces src[start:end] with text; an insertion has start == end.
// seq orders insertions at the same offset.
type op struct {
	start, end int
	text       string
	seq        int
}

// splice applies ops to src. Ops must not overlap.
func splice(src []byte, ops []op) ([]byte, error) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.start != b.start {
			return a.start < b.start
		}
		// An insertion goes before a replacement that starts at its offset.
		if (a.start == a.end) != (b.start == b.end) {
			return a.start == a.end
		}
		return a.seq < b.seq
	})
	size := len(src)
	for i, o := range ops {
		if i > 0 && ops[i-1].end > o.start {
			return nil, fmt.Errorf("overlapping edits at byte %d", o.start)
		}
		size += len(o.text) - (o.end - o.start)
	}
	out := make([]byte, 0, size)
	last := 0
	for _, o := range ops {
		out = append(out, src[last:o.start]...)
		out = append(out, o.text...)
		last = o.end
	}
	return append(out, src[last:]...), nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// breakWidth returns the length of the yaml.v3 line break starting at
// src[i], or 0.
func breakWidth(src []byte, i int) int {
	if i >= len(src) {
		return 0
	}
	switch src[i] {
	case '\n', '\r':
		return 1
	case 0xC2:
		if i+1 < len(src) && src[i+1] == 0x85 {
			return 2
		}
	case 0xE2:
		if i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

func isBreakAt(src []byte, i int) bool { return breakWidth(src, i) > 0 }

// skipProps moves past an anchor (&a) and a tag (!t) before a node's token,
// and the blanks, line breaks and comments between them and the token.
func skipProps(src []byte, p int, inFlow bool) int {
	for p < len(src) && (src[p] == '&' || src[p] == '!') {
		if src[p] == '&' {
			p = anchorEnd(src, p+1)
		} else {
			for p < len(src) && !isBlank(src[p]) && !isBreakAt(src, p) && !(inFlow && src[p] == ',') {
				p++
			}
		}
		p = skipSpace(src, p)
	}
	return p
}

// anchorEnd returns the end of the anchor or alias name starting at p:
// yaml.v3 takes letters, digits, '_' and '-'.
func anchorEnd(src []byte, p int) int {
	for p < len(src) {
		c := src[p]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-') {
			break
		}
		p++
	}
	return p
}

// skipSpace moves past blanks, line breaks and comments.
func skipSpace(src []byte, p int) int {
	for p < len(src) {
		if isBlank(src[p]) {
			p++
			continue
		}
		if w := breakWidth(src, p); w > 0 {
			p += w
			continue
		}
		if src[p] != '#' {
			return p
		}
		for p < len(src) && !isBreakAt(src, p) {
			p++
		}
	}
	return p
}

// span returns the bytes of a scalar's token (quotes included, anchor and
// tag excluded) after checking that they hold exactly the node's value.
// Values over several lines and block scalars are refused: their bytes
// cannot be replaced without reflowing the text around them.
func span(src []byte, n *node) (start, end int, err error) {
	p := skipProps(src, n.off, n.inFlow)
	if n.kind == aliasNode {
		if p >= len(src) || src[p] != '*' {
			return 0, 0, &lineError{line: n.line, err: errors.New("alias not found")}
		}
		return p, anchorEnd(src, p+1), nil
	}
	if n.kind != scalarNode {
		return 0, 0, &lineError{line: n.line, err: errors.New("value is not a string")}
	}
	switch n.style {
	case plainStyle:
		e := p + len(n.value)
		if n.value == "" || e > len(src) || string(src[p:e]) != n.value || !plainEnds(src, e, n.inFlow) {
			return 0, 0, errMultiLine(n)
		}
		return p, e, nil
	case singleStyle, doubleStyle:
		q := byte('\'')
		if n.style == doubleStyle {
			q = '"'
		}
		if p >= len(src) || src[p] != q {
			return 0, 0, &lineError{line: n.line, err: errors.New("quoted value not found")}
		}
		escaped := false
		for e := p + 1; e < len(src); e++ {
			c := src[e]
			if isBreakAt(src, e) {
				break
			}
			switch {
			case q == '"' && c == '\\':
				escaped = true
				e++
				if isBreakAt(src, e) {
					return 0, 0, errMultiLine(n)
				}
			case c == '\'' && q == '\'' && e+1 < len(src) && src[e+1] == '\'':
				escaped = true
				e++
			case c == q:
				tok := src[p : e+1]
				var v string
				if escaped {
					if uerr := yaml.Unmarshal(tok, &v); uerr != nil {
						return 0, 0, &lineError{line: n.line, err: fmt.Errorf("reading value: %v", uerr)}
					}
				} else {
					v = string(tok[1 : len(tok)-1])
				}
				if v != n.value {
					return 0, 0, errMultiLine(n)
				}
				return p, e + 1, nil
			}
		}
		return 0, 0, errMultiLine(n)
	}
	return 0, 0, &lineError{line: n.line, err: errors.New("cannot rewrite a block scalar")}
}

func errMultiLine(n *node) error {
	return &lineError{line: n.line, err: fmt.Errorf("cannot rewrite %q: it spans several lines", n.value)}
}

// plainEnds reports whether a plain scalar can end at src[e]: at a blank, a
// line break, the colon after a key, or a flow indicator in flow context.
func plainEnds(src []byte, e int, inFlow bool) bool {
	if e >= len(src) || isBlank(src[e]) || isBreakAt(src, e) {
		return true
	}
	if inFlow && strings.IndexByte(",[]{}", src[e]) >= 0 {
		return true
	}
	return src[e] == ':' && (plainEnds(src, e+1, inFlow) && (e+1 >= len(src) || src[e+1] != ':'))
}

// quote writes v as a token in the given style. A plain token that would not
// read back as the same string becomes double-quoted, and so does any plain
// token in a JSON file (a number or true, there).
func quote(v string, st style, inFlow, json bool) string {
	switch {
	case st == doubleStyle || json && st == plainStyle:
		return doubleQuote(v)
	case st == singleStyle:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case plainSafe(v, inFlow):
		return v
	}
	return doubleQuote(v)
}

func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var plainCache sync.Map // "b:"/"f:" + value → bool

// plainSafe reports whether v, written unquoted, reads back as the string v
// in the given context, also when a comment or a flow separator follows.
func plainSafe(v string, inFlow bool) bool {
	key := "b:" + v
	if inFlow {
		key = "f:" + v
	}
	if ok, hit := plainCache.Load(key); hit {
		return ok.(bool)
	}
	ok := v != "" && strings.TrimSpace(v) == v && !strings.ContainsAny(v, "\n\r#\t") && utf8.ValidString(v)
	if ok {
		docs := []string{"k: " + v + " # c\n", "- " + v + "\n"}
		if inFlow {
			docs = []string{"[" + v + "]", "[" + v + ", x]", "{k: " + v + "}", "{k: " + v + ", j: x}"}
		}
		for _, d := range docs {
			if !readsBack(d, v) {
				ok = false
				break
			}
		}
	}
	plainCache.Store(key, ok)
	return ok
}

func readsBack(doc, v string) bool {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	c := n.Content[0]
	if len(c.Content) == 0 {
		return false
	}
	s := c.Content[0]
	if c.Kind == yaml.MappingNode {
		if len(c.Content) < 2 {
			return false
		}
		s = c.Content[1]
	}
	return s.Kind == yaml.ScalarNode && s.Style == 0 && s.Tag == "!!str" && s.Value == v
}

// lineIndent returns the text to put before a new key aligned with key k:
// the bytes before k on its line, with indicators ("- ") turned to spaces.
func lineIndent(src []byte, ls *lines, k *node) string {
	line, _ := ls.position(k.off)
	pre := src[ls.starts[line-1]:k.off]
	var b strings.Builder
	for _, r := range string(pre) {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// firstOnLine reports whether only blanks precede offset off on its line.
func firstOnLine(src []byte, ls *lines, off int) bool {
	line, _ := ls.position(off)
	return len(bytes.Trim(src[ls.starts[line-1]:off], " \t")) == 0
}

// fileEOL is the file's line break, for lines added after a last line that
// has none.
func fileEOL(src []byte) string {
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// eolWidth returns the length of the line break that ends just before
// offset i.
func eolWidth(src []byte, i int) int {
	switch {
	case i >= 2 && src[i-2] == '\r' && src[i-1] == '\n':
		return 2
	case i >= 1 && (src[i-1] == '\n' || src[i-1] == '\r'):
		return 1
	case i >= 2 && src[i-2] == 0xC2 && src[i-1] == 0x85:
		return 2
	case i >= 3 && src[i-3] == 0xE2 && src[i-2] == 0x80 && (src[i-1] == 0xA8 || src[i-1] == 0xA9):
		return 3
	}
	return 0
}
