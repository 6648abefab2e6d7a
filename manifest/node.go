package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

type kind uint8

const (
	docNode kind = iota + 1
	mapNode
	seqNode
	scalarNode
	aliasNode
)

type style uint8

const (
	plainStyle style = iota
	singleStyle
	doubleStyle
	literalStyle
	foldedStyle
)

// node is the part of a YAML node that finding and splicing need: what it
// is, where its first byte is, and its value. Both the yaml.v3 parse and the
// fast scanner produce it.
type node struct {
	kind    kind
	style   style
	flow    bool // a flow collection ({...} or [...])
	inFlow  bool // inside a flow collection
	props   bool // an anchor or tag precedes the token
	line    int  // 1-based, as yaml.v3 counts
	col     int  // 1-based, in characters, as yaml.v3 counts
	off     int  // byte offset of line:col in the file
	value   string
	content []*node
	alias   *node
}

// resolve follows aliases to the node they name.
func resolve(n *node) *node {
	for i := 0; n != nil && n.kind == aliasNode && i < 100; i++ {
		n = n.alias
	}
	return n
}

// lines maps yaml.v3 positions to byte offsets. yaml.v3 counts lines at
// \r\n, \r, \n, U+0085, U+2028 and U+2029, and columns in characters,
// starting after a byte order mark.
type lines struct {
	src    []byte
	starts []int
	// The last conversion, from which the next on the same line goes on:
	// nodes come in file order, so a long line is walked once.
	lastLine, lastCol, lastOff int
}

const bom = "\ufeff"

func newLines(src []byte) *lines { return newLinesIn(src, nil) }

// newLinesIn is newLines keeping the line starts in buf when it has room.
func newLinesIn(src []byte, buf []int) *lines {
	l := &lines{src: src}
	i := 0
	if bytes.HasPrefix(src, []byte(bom)) {
		i = len(bom)
	}
	if n := bytes.Count(src, []byte{'\n'}) + 2; cap(buf) >= n {
		l.starts = append(buf[:0], i)
	} else {
		l.starts = make([]int, 1, n)
		l.starts[0] = i
	}
	if bytes.IndexByte(src, '\r') < 0 && !bytes.Contains(src, []byte("\u0085")) &&
		!bytes.Contains(src, []byte("\u2028")) && !bytes.Contains(src, []byte("\u2029")) {
		// Only \n: the common case, at memchr speed.
		for {
			j := bytes.IndexByte(src[i:], '\n')
			if j < 0 {
				return l
			}
			i += j + 1
			l.starts = append(l.starts, i)
		}
	}
	for i < len(src) {
		switch c := src[i]; {
		case c == '\n':
			i++
		case c == '\r':
			i++
			if i < len(src) && src[i] == '\n' {
				i++
			}
		case c == 0xC2 && i+1 < len(src) && src[i+1] == 0x85:
			i += 2
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9):
			i += 3
		default:
			i++
			continue
		}
		l.starts = append(l.starts, i)
	}
	return l
}

// offset converts a 1-based line and character column to a byte offset.
func (l *lines) offset(line, col int) (int, bool) {
	if line == len(l.starts)+1 && col == 1 && len(l.src) > l.starts[line-2] {
		// Just past a last line without a line break: yaml.v3 puts the
		// empty document after a final "---" there.
		return len(l.src), true
	}
	if line < 1 || line > len(l.starts) || col < 1 {
		return 0, false
	}
	off, c := l.starts[line-1], 1
	if line == l.lastLine && col >= l.lastCol {
		off, c = l.lastOff, l.lastCol
	}
	for ; c < col; c++ {
		if off >= len(l.src) {
			return 0, false
		}
		_, w := utf8.DecodeRune(l.src[off:])
		off += w
	}
	l.lastLine, l.lastCol, l.lastOff = line, col, off
	return off, true
}

// position converts a byte offset to a 1-based line and character column.
func (l *lines) position(off int) (line, col int) {
	lo, hi := 0, len(l.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, utf8.RuneCount(l.src[l.starts[lo]:off]) + 1
}

// lineEnd returns the offset just past the line break of the line holding
// off, or len(src) on the last line without one.
func (l *lines) lineEnd(off int) int {
	line, _ := l.position(off)
	if line < len(l.starts) {
		return l.starts[line]
	}
	return len(l.src)
}

// eol returns the line break ending the line holding off ("" on a last
// line without one).
func (l *lines) eol(off int) string {
	line, _ := l.position(off)
	end := len(l.src)
	if line < len(l.starts) {
		end = l.starts[line]
	}
	i := end
	for i > l.starts[line-1] && (l.src[i-1] == '\n' || l.src[i-1] == '\r') {
		i--
	}
	if i < end {
		return string(l.src[i:end])
	}
	if line < len(l.starts) {
		// U+0085, U+2028 or U+2029: write a plain newline instead.
		return "\n"
	}
	return ""
}

// errParse marks a file that yaml.v3 cannot read.
var errParse = errors.New("cannot parse YAML")

var yamlPrefixRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (?:line \d+: )?`) })

// parseYAML reads every document of src with yaml.v3 and converts the trees.
func parseYAML(src []byte, ls *lines, json bool) ([]*node, error) {
	in := src
	if json {
		// JSON allows tabs wherever it allows spaces and never inside a
		// string; YAML does not allow them for indentation. A tab and a space
		// are both one byte and one column, so positions do not move.
		if bytes.IndexByte(src, '\t') >= 0 {
			in = bytes.ReplaceAll(src, []byte{'\t'}, []byte{' '})
		}
	}
	trees, err := decodeAll(in)
	if err != nil {
		why := yamlPrefixRE().ReplaceAllString(err.Error(), "")
		off := stopOffset(in, err.Error())
		line, col := ls.position(off)
		return nil, &lineError{line: line, col: col, err: fmt.Errorf("%w: %s", errParse, why)}
	}
	docs := make([]*node, 0, len(trees))
	for _, y := range trees {
		conv := converter{ls: ls, seen: map[*yaml.Node]*node{}}
		n, err := conv.node(y, false)
		if err != nil {
			return nil, err
		}
		docs = append(docs, n)
	}
	return docs, nil
}

func decodeAll(src []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		y := new(yaml.Node)
		err := dec.Decode(y)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, y)
	}
}

// stopOffset finds where yaml.v3 stopped reading src with error msg: the
// last byte of the shortest prefix after which every longer prefix fails
// the same way. yaml.v3 names only the line where the enclosing collection
// starts (and for some errors a line too early), which is not where the
// problem is. Prefixes are cut at line ends first, then inside the line
// found; only a file that does not parse pays for this.
func stopOffset(src []byte, msg string) int {
	same := func(k int) bool {
		_, err := decodeAll(src[:k])
		return err != nil && err.Error() == msg
	}
	var ends []int // the offsets after each line break
	for i, c := range src {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	// Walk back over whole lines while the prefix still fails the same
	// way; beyond a few thousand lines, halve the search instead.
	hi := len(src)
	if len(ends) > 2000 {
		lo, h := 0, len(ends)
		for lo < h {
			mid := (lo + h) / 2
			if same(ends[mid]) {
				h = mid
			} else {
				lo = mid + 1
			}
		}
		if lo < len(ends) {
			hi = ends[lo]
		}
	} else {
		for i := len(ends) - 1; i >= 0; i-- {
			if ends[i] >= hi {
				continue
			}
			if !same(ends[i]) {
				break
			}
			hi = ends[i]
		}
	}
	// hi ends the line the parser stopped on: walk back inside it.
	start := 0
	for i := len(ends) - 1; i >= 0; i-- {
		if ends[i] < hi {
			start = ends[i]
			break
		}
	}
	k := hi
	for k-1 > start && same(k-1) {
		k--
	}
	// The stop is the last byte read; on a line break, the line it ends.
	off := k - 1
	for off > start && (src[off] == '\n' || src[off] == '\r' || src[off] == ' ') {
		off--
	}
	if off > start && (src[off] == '"' || src[off] == '\'') {
		// A quoted token is read whole: point at its opening quote.
		q := src[off]
		for i := off - 1; i >= start; i-- {
			if src[i] == q && !(q == '"' && i > start && src[i-1] == '\\') {
				off = i
				break
			}
		}
	}
	return max(off, 0)
}

// lineError carries a line number up to the FileError that names the file.
type lineError struct {
	line, col int // col is 0 when only the line is known
	err       error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

type converter struct {
	ls   *lines
	seen map[*yaml.Node]*node
}

func (c *converter) node(y *yaml.Node, inFlow bool) (*node, error) {
	if n, ok := c.seen[y]; ok {
		return n, nil
	}
	n := &node{line: y.Line, col: y.Column, value: y.Value, props: y.Anchor != "" || y.Style&yaml.TaggedStyle != 0, inFlow: inFlow}
	c.seen[y] = n
	if y.Kind != yaml.DocumentNode {
		off, ok := c.ls.offset(y.Line, y.Column)
		if !ok {
			return nil, &lineError{line: y.Line, err: fmt.Errorf("position %d:%d outside the file", y.Line, y.Column)}
		}
		n.off = off
	}
	switch y.Kind {
	case yaml.DocumentNode:
		n.kind = docNode
	case yaml.MappingNode:
		n.kind = mapNode
	case yaml.SequenceNode:
		n.kind = seqNode
	case yaml.ScalarNode:
		n.kind = scalarNode
	case yaml.AliasNode:
		n.kind = aliasNode
		if y.Alias != nil {
			a, err := c.node(y.Alias, inFlow)
			if err != nil {
				return nil, err
			}
			n.alias = a
		}
	}
	switch {
	case y.Style&yaml.FlowStyle != 0:
		n.flow = true
	case y.Style&yaml.DoubleQuotedStyle != 0:
		n.style = doubleStyle
	case y.Style&yaml.SingleQuotedStyle != 0:
		n.style = singleStyle
	case y.Style&yaml.LiteralStyle != 0:
		n.style = literalStyle
	case y.Style&yaml.FoldedStyle != 0:
		n.style = foldedStyle
	}
	if len(y.Content) > 0 {
		n.content = make([]*node, len(y.Content))
		for i, yc := range y.Content {
			cn, err := c.node(yc, n.flow || inFlow)
			if err != nil {
				return nil, err
			}
			n.content[i] = cn
		}
	}
	return n, nil
}
