package manifest

import (
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// treeMem holds the nodes of the fast parser's trees, reused from file to
// file: allocating them anew for every file was most of the time spent
// reading manifests.
type treeMem struct {
	chunks [][]node // chunks[:ci] are full, chunks[ci][:used] in use
	ci     int
	used   int
	lists  []*node // the children of every collection, one after another
	tmp    []*node
	starts []int // line starts, for newLinesIn
}

var treeMems = sync.Pool{New: func() any { return new(treeMem) }}

func getTreeMem() *treeMem { return treeMems.Get().(*treeMem) }

// putTreeMem gives mem back; no tree in it may be used after.
func putTreeMem(mem *treeMem) {
	if mem == nil {
		return
	}
	n := 0
	for _, c := range mem.chunks {
		n += cap(c)
	}
	if n > 1<<16 {
		return // a very large file's: let it go
	}
	treeMems.Put(mem)
}

// reset makes every node free again, with room for about want nodes in
// the first chunk.
func (m *treeMem) reset(want int) {
	m.ci, m.used = 0, 0
	m.lists = m.lists[:0]
	m.tmp = m.tmp[:0]
	if len(m.chunks) == 0 {
		m.chunks = [][]node{make([]node, max(want, 256))}
	}
}

func (m *treeMem) node() *node {
	if m.used == len(m.chunks[m.ci]) {
		m.ci++
		m.used = 0
		if m.ci == len(m.chunks) {
			m.chunks = append(m.chunks, make([]node, 1024))
		}
	}
	n := &m.chunks[m.ci][m.used]
	m.used++
	return n
}

// list stores the children of a collection and returns them. A list that
// outgrows its block moves to a new one; the old block stays for the
// lists already in it.
func (m *treeMem) list(kids []*node) []*node {
	if len(m.lists)+len(kids) > cap(m.lists) {
		m.lists = make([]*node, 0, max(2*cap(m.lists), len(kids), 1024))
	}
	a := len(m.lists)
	m.lists = append(m.lists, kids...)
	return m.lists[a:len(m.lists):len(m.lists)]
}

// fastParse reads the plain kind of YAML that most manifests are written in
// (block mappings and sequences, one-line scalars, one-line flow
// collections, comments, "---" between documents) an order of magnitude
// faster than yaml.v3, building the same trees yaml.v3 would. At the first
// thing outside that subset (anchors, tags, block scalars, values over
// several lines, tabs, escapes, empty values...) it gives up and returns
// false, and the caller parses the file with yaml.v3. A fuzz test checks
// that whenever it succeeds, yaml.v3 reads the same trees.
//
// The trees live in mem, which the caller gives back (putTreeMem) once it
// is done with them; the strings in them are slices of src, which must not
// change while they are in use.
func fastParse(src []byte, ls *lines, mem *treeMem) (docs []*node, ok bool) {
	if !fastChars(src) {
		return nil, false
	}
	p := &fastParser{src: unsafe.String(unsafe.SliceData(src), len(src)), starts: ls.starts, cached: -1, mem: mem}
	mem.reset(2*len(ls.starts) + 8)
	p.tmp = mem.tmp
	defer func() {
		mem.tmp = p.tmp[:0]
		if r := recover(); r != nil {
			if _, give := r.(giveUp); !give {
				panic(r)
			}
			docs, ok = nil, false
		}
	}()
	return p.documents(), true
}

// giveUp is panicked to leave the fast path; fastParse recovers it.
type giveUp struct{}

func fail() { panic(giveUp{}) }

// fastChars reports whether src holds only characters the fast path
// handles: printable characters that yaml.v3 accepts, \n and \r\n, and no
// tab, byte order mark or line break other than those.
func fastChars(src []byte) bool {
	for i := 0; i < len(src); {
		c := src[i]
		if c >= 0x20 && c < 0x7f || c == '\n' {
			i++
			continue
		}
		if c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			i += 2
			continue
		}
		if c < 0x80 {
			return false
		}
		r, w := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError, r < 0xA0, r == 0x2028, r == 0x2029, r == 0xFEFF,
			r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
			return false
		}
		i += w
	}
	return true
}

type fastParser struct {
	src    string
	starts []int
	li     int // current line index

	// Facts about line cached, -1 for none.
	cached int
	cs, ce int // its start and content end
	ascii  bool

	mem   *treeMem
	tmp   []*node
	depth int // collections open, kept well below yaml.v3's limit
}

// enter and leave count nesting: deeper files go to yaml.v3, whose limits
// (and errors) then apply.
func (p *fastParser) enter() {
	if p.depth++; p.depth > 1000 {
		fail()
	}
}

func (p *fastParser) leave() { p.depth-- }

func (p *fastParser) lineStart(i int) int { return p.starts[i] }

// lineEnd is the end of line i's content, before its line break.
func (p *fastParser) lineEnd(i int) int {
	if i == p.cached {
		return p.ce
	}
	e := len(p.src)
	if i+1 < len(p.starts) {
		e = p.starts[i+1] - 1
		if e > p.starts[i] && p.src[e-1] == '\r' {
			e--
		}
	}
	return e
}

func (p *fastParser) eof() bool { return p.li >= len(p.starts) }

// indent returns the number of spaces starting line i, and whether the line
// holds nothing but them and maybe a comment.
func (p *fastParser) indent(i int) (n int, blank bool) {
	s, e := p.lineStart(i), p.lineEnd(i)
	j := s
	for j < e && p.src[j] == ' ' {
		j++
	}
	return j - s, j == e || p.src[j] == '#'
}

// skipBlank moves to the next line with content.
func (p *fastParser) skipBlank() {
	for !p.eof() {
		if _, blank := p.indent(p.li); !blank {
			return
		}
		p.li++
	}
}

// marker reports whether line i is a document marker; "..." and a "---"
// followed by content are not handled.
func (p *fastParser) marker(i int) bool {
	s, e := p.lineStart(i), p.lineEnd(i)
	line := p.src[s:e]
	if strings.HasPrefix(line, "...") && (len(line) == 3 || line[3] == ' ') {
		fail()
	}
	if !strings.HasPrefix(line, "---") || len(line) > 3 && line[3] != ' ' {
		return false
	}
	rest := strings.TrimLeft(line[3:], " ")
	if rest != "" && rest[0] != '#' {
		fail()
	}
	return true
}

func (p *fastParser) newNode(k kind, off int) *node {
	n := p.mem.node()
	*n = node{kind: k, off: off, line: p.li + 1, col: p.column(off)}
	return n
}

// column converts an offset on the current line to yaml.v3's column.
func (p *fastParser) column(off int) int {
	if p.cached != p.li {
		e := p.lineEnd(p.li)
		p.cached, p.cs, p.ce = p.li, p.lineStart(p.li), e
		p.ascii = true
		for i := p.cs; i < e; i++ {
			if p.src[i] >= 0x80 {
				p.ascii = false
				break
			}
		}
	}
	if p.ascii {
		return off - p.cs + 1
	}
	return utf8.RuneCountInString(p.src[p.cs:off]) + 1
}

// children ends a collection whose children were pushed on tmp from mark.
func (p *fastParser) children(n *node, mark int) {
	n.content = p.mem.list(p.tmp[mark:])
	p.tmp = p.tmp[:mark]
}

func (p *fastParser) documents() []*node {
	var docs []*node
	p.skipBlank()
	if !p.eof() && p.marker(p.li) {
		p.li++
	}
	for {
		p.skipBlank()
		if p.eof() || p.marker(p.li) {
			// An empty document: yaml.v3 gives it a null node at a
			// position that is not worth reproducing.
			fail()
		}
		ind, _ := p.indent(p.li)
		doc := &node{kind: docNode, line: p.li + 1, col: 1}
		root := p.mapping(ind, p.lineStart(p.li)+ind)
		doc.content = []*node{root}
		docs = append(docs, doc)
		// mapping stops at the first line it does not own.
		if p.eof() {
			return docs
		}
		if !p.marker(p.li) {
			fail()
		}
		p.li++
		p.skipBlank()
		if p.eof() {
			// A trailing "---": yaml.v3 reads one more, empty, document.
			fail()
		}
	}
}

// mapping reads a block mapping whose keys are at column ind (0-based); the
// first key starts at offset first of the current line. It returns on the
// first content line that is not more indented than ind and is not one of
// its keys (or at a marker or the end).
func (p *fastParser) mapping(ind, first int) *node {
	p.enter()
	defer p.leave()
	m := p.newNode(mapNode, first)
	mark := len(p.tmp)
	off := first
	for {
		key, valOff := p.key(off)
		if key == nil {
			fail()
		}
		p.tmp = append(p.tmp, key)
		e := p.lineEnd(p.li)
		if valOff < e && p.src[valOff] != '#' {
			p.tmp = append(p.tmp, p.inline(valOff))
			p.li++
			p.skipBlank()
			if !p.eof() {
				if n, _ := p.indent(p.li); n > ind {
					fail() // a value continued on the next line
				}
			}
		} else {
			p.li++
			p.skipBlank()
			if p.eof() || p.marker(p.li) {
				fail()
			}
			n, _ := p.indent(p.li)
			s := p.lineStart(p.li) + n
			switch {
			case n > ind && p.dash(s):
				p.tmp = append(p.tmp, p.sequence(n))
			case n > ind:
				p.tmp = append(p.tmp, p.mapping(n, s))
			case n == ind && p.dash(s):
				p.tmp = append(p.tmp, p.sequence(n))
			default:
				fail() // an empty value
			}
		}
		if p.eof() || p.marker(p.li) {
			break
		}
		n, _ := p.indent(p.li)
		if n < ind {
			break
		}
		if n > ind {
			fail()
		}
		off = p.lineStart(p.li) + n
		if p.dash(off) {
			fail() // a sequence where a key should be
		}
	}
	p.children(m, mark)
	return m
}

// dash reports whether a sequence entry starts at offset s.
func (p *fastParser) dash(s int) bool {
	if s >= len(p.src) || p.src[s] != '-' {
		return false
	}
	return s+1 == p.lineEnd(p.li) || p.src[s+1] == ' '
}

// sequence reads a block sequence whose dashes are at column ind.
func (p *fastParser) sequence(ind int) *node {
	p.enter()
	defer p.leave()
	s := p.lineStart(p.li) + ind
	seq := p.newNode(seqNode, s)
	mark := len(p.tmp)
	for {
		e := p.lineEnd(p.li)
		o := s + 1
		for o < e && p.src[o] == ' ' {
			o++
		}
		if o >= e || p.src[o] == '#' || p.dash(o) {
			fail() // an empty entry, or a sequence in a sequence
		}
		if k, _ := p.key(o); k != nil {
			p.tmp = append(p.tmp, p.mapping(p.column(o)-1, o))
		} else {
			p.tmp = append(p.tmp, p.inline(o))
			p.li++
			p.skipBlank()
		}
		if p.eof() || p.marker(p.li) {
			break
		}
		n, _ := p.indent(p.li)
		if n > ind {
			fail()
		}
		s = p.lineStart(p.li) + n
		if n < ind || !p.dash(s) {
			break
		}
	}
	p.children(seq, mark)
	return seq
}

// key reads "key:" at offset o of the current line. It returns the key and
// the offset of the value (the end of the line when there is none), or nil
// when the line holds no key there.
func (p *fastParser) key(o int) (*node, int) {
	e := p.lineEnd(p.li)
	var k *node
	var end int
	switch c := p.src[o]; c {
	case '"', '\'':
		k, end = p.quoted(o, e)
		if k == nil {
			return nil, 0
		}
		for end < e && p.src[end] == ' ' {
			end++
		}
		if end >= e || p.src[end] != ':' || end+1 < e && p.src[end+1] != ' ' {
			return nil, 0
		}
	default:
		if !plainStart(p.src, o, e, false) {
			return nil, 0
		}
		end = -1
		for i := o; i < e; i++ {
			if p.src[i] == ':' && (i+1 == e || p.src[i+1] == ' ') {
				end = i
				break
			}
			if p.src[i] == '#' && p.src[i-1] == ' ' {
				return nil, 0
			}
		}
		if end < 0 {
			return nil, 0
		}
		v := strings.TrimRight(p.src[o:end], " ")
		k = p.newNode(scalarNode, o)
		k.value = v
	}
	if end-o > 1000 {
		fail() // yaml.v3 limits implicit keys to 1024 characters
	}
	v := end + 1
	for v < e && p.src[v] == ' ' {
		v++
	}
	return k, v
}

// quoted reads a one-line quoted scalar at o; nil when it does not close on
// the line. Escapes in double quotes are left to yaml.v3.
func (p *fastParser) quoted(o, e int) (*node, int) {
	q := p.src[o]
	escaped := false
	for i := o + 1; i < e; i++ {
		c := p.src[i]
		if q == '"' && c == '\\' {
			fail()
		}
		if c != q {
			continue
		}
		if q == '\'' && i+1 < e && p.src[i+1] == '\'' {
			escaped = true
			i++
			continue
		}
		n := p.newNode(scalarNode, o)
		n.value = p.src[o+1 : i]
		n.style = doubleStyle
		if q == '\'' {
			n.style = singleStyle
			if escaped {
				n.value = strings.ReplaceAll(n.value, "''", "'")
			}
		}
		return n, i + 1
	}
	return nil, 0
}

// plainStart reports whether a plain scalar may start at s.
func plainStart(src string, s, e int, inFlow bool) bool {
	if s >= e {
		return false
	}
	switch src[s] {
	case '?', ':':
		if inFlow {
			return false
		}
		fallthrough
	case '-':
		// Allowed when followed by a character that is not a space (or,
		// in flow, a flow indicator).
		if s+1 >= e || src[s+1] == ' ' {
			return false
		}
		return !inFlow || strings.IndexByte(",?[]{}", src[s+1]) < 0
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	}
	return true
}

// inline reads a value that ends on the current line: a scalar or a flow
// collection, then nothing but a comment.
func (p *fastParser) inline(o int) *node {
	e := p.lineEnd(p.li)
	var n *node
	var end int
	switch p.src[o] {
	case '"', '\'':
		n, end = p.quoted(o, e)
		if n == nil {
			fail()
		}
	case '[', '{':
		n, end = p.flow(o, e, false)
	default:
		if !plainStart(p.src, o, e, false) {
			fail()
		}
		end = e
		for i := o; i < e; i++ {
			c := p.src[i]
			if c == '#' && p.src[i-1] == ' ' {
				end = i
				break
			}
			if c == ':' && (i+1 == e || p.src[i+1] == ' ') {
				fail()
			}
		}
		v := strings.TrimRight(p.src[o:end], " ")
		n = p.newNode(scalarNode, o)
		n.value = v
		return n
	}
	p.rest(end, e)
	return n
}

// rest checks that only blanks and a comment follow offset i on the line.
func (p *fastParser) rest(i, e int) {
	j := i
	for j < e && p.src[j] == ' ' {
		j++
	}
	if j < e && (p.src[j] != '#' || j == i) {
		fail()
	}
}

// flow reads a flow collection or scalar at o that ends on the current
// line, and returns it with the offset after it.
func (p *fastParser) flow(o, e int, inFlow bool) (*node, int) {
	o = p.spaces(o, e)
	if o >= e {
		fail()
	}
	switch c := p.src[o]; c {
	case '[', '{':
		p.enter()
		defer p.leave()
		n := p.newNode(seqNode, o)
		closer := byte(']')
		if c == '{' {
			n.kind = mapNode
			closer = '}'
		}
		n.flow, n.inFlow = true, inFlow
		mark := len(p.tmp)
		i := p.spaces(o+1, e)
		if i < e && p.src[i] == closer {
			p.children(n, mark)
			return n, i + 1
		}
		for {
			item, j := p.flow(i, e, true)
			if item.kind != scalarNode && n.kind == mapNode {
				fail() // a collection as a key
			}
			p.tmp = append(p.tmp, item)
			j = p.spaces(j, e)
			if n.kind == mapNode {
				if j >= e || p.src[j] != ':' {
					fail()
				}
				if item.style == plainStyle && j+1 < e && p.src[j+1] != ' ' {
					fail()
				}
				j = p.spaces(j+1, e)
				if j >= e || p.src[j] == ',' || p.src[j] == '}' {
					fail() // an empty value
				}
				var v *node
				v, j = p.flow(j, e, true)
				p.tmp = append(p.tmp, v)
				j = p.spaces(j, e)
			} else if j < e && p.src[j] == ':' {
				fail() // a pair in a sequence
			}
			if j >= e {
				fail()
			}
			if p.src[j] == closer {
				p.children(n, mark)
				return n, j + 1
			}
			if p.src[j] != ',' {
				fail()
			}
			i = p.spaces(j+1, e)
			if i < e && (p.src[i] == closer || p.src[i] == ',') {
				fail() // a trailing or double comma
			}
		}
	case '"', '\'':
		n, end := p.quoted(o, e)
		if n == nil {
			fail()
		}
		n.inFlow = true
		return n, end
	}
	if !plainStart(p.src, o, e, true) {
		fail()
	}
	end := e
	for i := o; i < e; i++ {
		c := p.src[i]
		if strings.IndexByte(",?[]{}", c) >= 0 {
			end = i
			break
		}
		if c == ':' && (i+1 == e || strings.IndexByte(" ,[]{}", p.src[i+1]) >= 0) {
			end = i
			break
		}
		if c == '#' && p.src[i-1] == ' ' {
			fail()
		}
	}
	v := strings.TrimRight(p.src[o:end], " ")
	if v == "" {
		fail()
	}
	n := p.newNode(scalarNode, o)
	n.value = v
	n.inFlow = true
	return n, o + len(v)
}

func (p *fastParser) spaces(i, e int) int {
	for i < e && p.src[i] == ' ' {
		i++
	}
	return i
}
