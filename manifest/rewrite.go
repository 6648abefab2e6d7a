package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Options says how to rewrite a set of files. The zero value pins
// tag+digest, leaves imagePullPolicy alone and edits only the built-in
// Kubernetes and kustomization fields.
type Options struct {
	// Pin is PinTag, PinDigest or PinTagDigest; empty means PinTagDigest.
	Pin Pin
	// PullPolicy, when set (Always, IfNotPresent or Never), becomes the
	// imagePullPolicy of every container whose image changed; the field is
	// added when absent. Empty leaves imagePullPolicy alone.
	PullPolicy string
	// Rules name further image fields by path, for Helm values files and
	// custom resources. They apply to every document of the file, whether
	// or not it is a Kubernetes object, in addition to the built-in fields.
	Rules []Rule
}

// Edit is one changed value.
type Edit struct {
	File string
	// Line and Column are where the value starts in the original file
	// (for an added field: where its line goes, after the line before it).
	// Lines count from 1, and columns from 1 in characters, not bytes, as
	// YAML counts them.
	Line, Column int
	Document     int // 1-based index of the YAML document in the file
	// Object is "Kind/name" of the Kubernetes object, or "Kind" when it has
	// no name, or "" for a document that is not an object (values files).
	Object    string
	Container string // container name, when the value belongs to one
	Field     string // path of the field, e.g. spec.template.spec.containers[0].image
	// Old and New are the values before and after. Old is "" for an added
	// field; New is "" for a removed one (kustomization newTag or digest
	// that the pin no longer wants).
	Old, New string
}

// FileError is an error about one file; Line is 0 when it is not about a
// place in the file.
type FileError struct {
	File   string
	Line   int
	Column int // in characters from 1; 0 when not known
	Err    error
}

func (e *FileError) Error() string {
	if e.Line > 0 && e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Rewrite returns src with every reference to one of images rewritten, and
// the edits made. Bytes outside the changed values stay as they were.
// path tells kustomization files (by name) and JSON files (.json) apart and
// names the file in edits and errors. When nothing changes, the returned
// slice is src itself. Invalid images or options are plain errors; an error
// about the file is a *FileError.
func Rewrite(path string, src []byte, images []Image, opts Options) ([]byte, []Edit, error) {
	c, err := compile(images, opts)
	if err != nil {
		return nil, nil, err
	}
	return c.rewrite(path, src)
}

func (c *compiled) rewrite(path string, src []byte) ([]byte, []Edit, error) {
	out, edits, _, err := c.rewriteMatched(path, src)
	return out, edits, err
}

// rewriteMatched is rewrite that also returns the keys of the images the
// file references, changed or not.
func (c *compiled) rewriteMatched(path string, src []byte) ([]byte, []Edit, map[string]bool, error) {
	r := &rewriter{
		c:       c,
		path:    path,
		src:     src,
		json:    strings.EqualFold(filepath.Ext(path), ".json"),
		kfile:   isKustomizationName(filepath.Base(path)),
		done:    map[*node]doneSet{},
		matched: map[string]bool{},
		added:   map[*node]bool{},
	}
	out, err := r.run()
	if err != nil {
		fe := &FileError{File: path, Err: err}
		var le *lineError
		if errors.As(err, &le) {
			fe.Line, fe.Column, fe.Err = le.line, le.col, le.err
		}
		return nil, nil, nil, fe
	}
	return out, r.edits, r.matched, nil
}

func (r *rewriter) lookupRef(s string) (*target, bool) {
	t, ok := r.c.lookupRef(s)
	if ok {
		r.matched[t.key] = true
	}
	return t, ok
}

func (r *rewriter) lookupRepo(s string) (*target, bool) {
	t, ok := r.c.lookupRepo(s)
	if ok {
		r.matched[t.key] = true
	}
	return t, ok
}

func isKustomizationName(base string) bool {
	return base == "kustomization.yaml" || base == "kustomization.yml" || base == "Kustomization"
}

type rewriter struct {
	c     *compiled
	path  string
	src   []byte
	ls    *lines
	json  bool
	kfile bool
	fast  bool // the trees come from the fast parser: no aliases

	doc     int
	ops     []op
	edits   []Edit
	done    map[*node]doneSet // scalars already rewritten
	matched map[string]bool   // keys of the targets referenced
	added   map[*node]bool    // mappings that already got imagePullPolicy
}

func (r *rewriter) run() ([]byte, error) {
	if len(r.src) >= 2 && (r.src[0] == 0xFE && r.src[1] == 0xFF || r.src[0] == 0xFF && r.src[1] == 0xFE) {
		return nil, errors.New("UTF-16 files are not supported")
	}
	if len(r.c.byRepo) == 0 {
		return r.src, nil
	}
	mem := getTreeMem()
	defer putTreeMem(mem)
	r.ls = newLinesIn(r.src, mem.starts)
	defer func() { mem.starts = r.ls.starts[:0] }()
	docs, ok := fastParse(r.src, r.ls, mem)
	r.fast = ok
	if !ok {
		var err error
		if docs, err = parseYAML(r.src, r.ls, r.json); err != nil {
			return nil, err
		}
	}
	for i, d := range docs {
		r.doc = i + 1
		if err := r.document(d); err != nil {
			return nil, err
		}
	}
	if len(r.ops) == 0 {
		return r.src, nil
	}
	out, err := splice(r.src, r.ops)
	if err != nil {
		return nil, err
	}
	// Removing a last line that has no line break leaves the break of the
	// line before it last: take it off, so that the file still ends as it
	// did.
	if w := eolWidth(out, len(out)); w > 0 && eolWidth(r.src, len(r.src)) == 0 && r.editsEnd() {
		out = out[:len(out)-w]
	}
	return out, nil
}

// editsEnd reports whether an edit reaches the end of the file.
func (r *rewriter) editsEnd() bool {
	for _, o := range r.ops {
		if o.end == len(r.src) {
			return true
		}
	}
	return false
}

// doneSet is a scalar already rewritten: its new value and where the
// change is reported.
type doneSet struct {
	v   string
	off int
}

// where describes the place of a value for an Edit.
type where struct {
	object    string
	container string
	field     string
}

func (r *rewriter) document(d *node) error {
	if len(d.content) == 0 {
		return nil
	}
	root := resolve(d.content[0])
	if root == nil {
		return nil
	}
	if root.kind == mapNode {
		if r.kfile {
			if err := r.kustomization(root, objectName(root, "Kustomization")); err != nil {
				return err
			}
		} else if err := r.object(root, ""); err != nil {
			return err
		}
	}
	for _, rule := range r.c.rules {
		if err := r.applyRule(root, rule); err != nil {
			return err
		}
	}
	return nil
}

// scalarValue returns the string of a scalar (through aliases), or "".
func scalarValue(n *node) string {
	n = resolve(n)
	if n == nil || n.kind != scalarNode {
		return ""
	}
	return n.value
}

// mapGet finds key in mapping m, also through merge keys (<<). direct is
// false when the pair comes from a merged mapping.
func mapGet(m *node, key string) (k, v *node, direct bool) {
	return mapGetDepth(m, key, 0)
}

func mapGetDepth(m *node, key string, depth int) (k, v *node, direct bool) {
	m = resolve(m)
	if m == nil || m.kind != mapNode || depth > 10 {
		return nil, nil, false
	}
	for i := 0; i+1 < len(m.content); i += 2 {
		if kn := resolve(m.content[i]); kn != nil && kn.kind == scalarNode && kn.value == key && !(kn.style == plainStyle && key == "<<") {
			return m.content[i], m.content[i+1], true
		}
	}
	for i := 0; i+1 < len(m.content); i += 2 {
		kn := m.content[i]
		if kn.kind != scalarNode || kn.style != plainStyle || kn.value != "<<" {
			continue
		}
		merged := resolve(m.content[i+1])
		if merged == nil {
			continue
		}
		srcs := []*node{merged}
		if merged.kind == seqNode {
			srcs = merged.content
		}
		for _, s := range srcs {
			if k, v, _ := mapGetDepth(s, key, depth+1); v != nil {
				return k, v, false
			}
		}
	}
	return nil, nil, false
}

func objectName(m *node, kind string) string {
	if k := scalarValue(mapValue(m, "kind")); k != "" {
		kind = k
	}
	_, meta, _ := mapGet(m, "metadata")
	if n := scalarValue(mapValue(meta, "name")); n != "" {
		return kind + "/" + n
	}
	return kind
}

func mapValue(m *node, key string) *node {
	_, v, _ := mapGet(m, key)
	return resolve(v)
}

// object rewrites a Kubernetes object: a document or an item of a List.
func (r *rewriter) object(m *node, prefix string) error {
	apiVersion := scalarValue(mapValue(m, "apiVersion"))
	kind := scalarValue(mapValue(m, "kind"))
	if apiVersion == "" || kind == "" {
		return nil
	}
	if strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") && (kind == "Kustomization" || kind == "Component") {
		return r.kustomization(m, objectName(m, kind))
	}
	if strings.HasSuffix(kind, "List") {
		items := mapValue(m, "items")
		if items == nil || items.kind != seqNode {
			return nil
		}
		for i, it := range items.content {
			if it = resolve(it); it != nil && it.kind == mapNode {
				if err := r.object(it, prefix+"items["+strconv.Itoa(i)+"]."); err != nil {
					return err
				}
			}
		}
		return nil
	}
	w := newContainerWalk(objectName(m, kind), !r.fast, r.container)
	if prefix != "" {
		w.path = strings.Split(strings.TrimSuffix(strings.ReplaceAll(prefix, "[", ".["), "."), ".")
	}
	return w.walk(m)
}

// containerLists are the keys whose lists hold containers, in Kubernetes
// and in the custom resources that follow its shape (Tekton's steps and
// sidecars among them).
var containerLists = map[string]bool{
	"containers": true, "initContainers": true, "ephemeralContainers": true,
	"sidecars": true, "steps": true,
}

// containerWalk finds the containers of one object wherever it keeps
// them: a mapping with a string image and a string name (the name may lack
// in a pod template's containers) in a list under one of containerLists,
// or the mapping under a key named container with a string image (Argo
// Workflows' templates, which name none). A bare image key anywhere else
// is not a container.
type containerWalk struct {
	obj   string
	visit func(container *node, w where) error
	// seen holds the collections walked, so that aliases neither loop
	// nor find a container twice; nil for a tree without aliases (the
	// fast parser's), where every node is reached once.
	seen map[*node]bool
	path []string // keys and [N] from the object's root to the node
}

func newContainerWalk(obj string, aliases bool, visit func(*node, where) error) *containerWalk {
	w := &containerWalk{obj: obj, visit: visit}
	if aliases {
		w.seen = map[*node]bool{}
	}
	return w
}

// once reports whether n is reached for the first time.
func (w *containerWalk) once(n *node) bool {
	if w.seen == nil {
		return true
	}
	if w.seen[n] {
		return false
	}
	w.seen[n] = true
	return true
}

// field is the path of the current node, with a final dot when it is a
// container's, for Edit.Field.
func (w *containerWalk) field(container bool) string {
	var b strings.Builder
	for i, p := range w.path {
		if i > 0 && p[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	if container {
		b.WriteByte('.')
	}
	return b.String()
}

var indexSegs = func() (s [64]string) {
	for i := range s {
		s[i] = "[" + strconv.Itoa(i) + "]"
	}
	return s
}()

// indexSeg is "[i]", without allocating for the common small lists.
func indexSeg(i int) string {
	if i < len(indexSegs) {
		return indexSegs[i]
	}
	return "[" + strconv.Itoa(i) + "]"
}

func (w *containerWalk) push(s string) { w.path = append(w.path, s) }
func (w *containerWalk) pop()          { w.path = w.path[:len(w.path)-1] }

func (w *containerWalk) walk(n *node) error {
	n = resolve(n)
	if n == nil || (n.kind == seqNode || n.kind == mapNode) && !w.once(n) {
		return nil
	}
	switch n.kind {
	case seqNode:
		for i, item := range n.content {
			w.push(indexSeg(i))
			err := w.walk(item)
			w.pop()
			if err != nil {
				return err
			}
		}
	case mapNode:
		for i := 0; i+1 < len(n.content); i += 2 {
			k, v := n.content[i], resolve(n.content[i+1])
			if k.kind != scalarNode || v == nil {
				continue
			}
			if k.style == plainStyle && k.value == "<<" {
				// A merge: the merged pairs belong to this mapping.
				if err := w.walk(v); err != nil {
					return err
				}
				continue
			}
			var err error
			switch {
			case v.kind == seqNode && containerLists[k.value]:
				// In a pod template a container may go unnamed (Knative,
				// Cloud Run); elsewhere the name tells it from other lists.
				l := len(w.path)
				named := k.value == "sidecars" || k.value == "steps" || l < 2 || w.path[l-2] != "template" || w.path[l-1] != "spec"
				w.push(k.value)
				err = w.list(v, named)
			case k.value == "container" && isContainer(v, false):
				w.push(k.value)
				if w.once(v) {
					err = w.visit(v, where{object: w.obj, container: scalarValue(mapValue(v, "name")), field: w.field(true)})
				}
			default:
				w.push(k.value)
				err = w.walk(v)
			}
			w.pop()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// list handles a list under one of containerLists: its containers, and
// what the other items hold.
func (w *containerWalk) list(seq *node, named bool) error {
	if !w.once(seq) {
		return nil
	}
	for i, item := range seq.content {
		w.push(indexSeg(i))
		var err error
		if cm := resolve(item); !isContainer(cm, named) {
			err = w.walk(item)
		} else if w.once(cm) {
			err = w.visit(cm, where{object: w.obj, container: scalarValue(mapValue(cm, "name")), field: w.field(true)})
		}
		w.pop()
		if err != nil {
			return err
		}
	}
	return nil
}

// isContainer reports whether m is shaped like a container: a mapping with
// a string image (and, when named is set, a string name).
func isContainer(m *node, named bool) bool {
	if m == nil || m.kind != mapNode || !isString(mapValue(m, "image")) {
		return false
	}
	return !named || isString(mapValue(m, "name"))
}

// isString reports whether n is a scalar that YAML reads as a string: not
// null, and not a number or boolean written plain.
func isString(n *node) bool {
	if n == nil || n.kind != scalarNode || n.value == "" && n.style == plainStyle {
		return false
	}
	if n.style != plainStyle {
		return true
	}
	switch n.value {
	case "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE":
		return false
	}
	_, err := strconv.ParseFloat(n.value, 64)
	return err != nil
}

func (r *rewriter) container(cm *node, w where) error {
	key, val, direct := mapGet(cm, "image")
	img := resolve(val)
	if img == nil || img.kind != scalarNode {
		return nil
	}
	t, ok := r.lookupRef(img.value)
	if !ok {
		return nil
	}
	iw := w
	iw.field += "image"
	ref, err := r.c.newRef(t, img.value)
	if err != nil {
		return &lineError{line: img.line, err: err}
	}
	changed, err := r.set(img, key, ref, iw)
	if err != nil || !changed || r.c.opts.PullPolicy == "" {
		return err
	}
	return r.pullPolicy(cm, key, val, direct, w)
}

// pullPolicy sets imagePullPolicy in container mapping cm, whose image pair
// is key: val.
func (r *rewriter) pullPolicy(cm, key, val *node, direct bool, w where) error {
	w.field += "imagePullPolicy"
	pk, pv, pdirect := mapGet(cm, "imagePullPolicy")
	if pv != nil && pdirect {
		if p := resolve(pv); p != nil && p.kind == scalarNode {
			_, err := r.set(p, pk, r.c.opts.PullPolicy, w)
			return err
		}
		return &lineError{line: pv.line, err: errors.New("imagePullPolicy is not a string")}
	}
	if r.added[cm] {
		return nil
	}
	r.added[cm] = true
	if !direct {
		// The image comes from a merged mapping: add the policy after the
		// container's own name, or its first pair with a one-line value.
		key, val = nil, nil
		if k, v, d := mapGet(cm, "name"); d && resolve(v) != nil && resolve(v).kind == scalarNode {
			key, val = k, v
		}
		for i := 0; key == nil && i+1 < len(cm.content); i += 2 {
			if v := cm.content[i+1]; v.kind == aliasNode || v.kind == scalarNode && v.value != "" && v.style <= doubleStyle {
				key, val = cm.content[i], v
			}
		}
		if key == nil {
			return &lineError{line: cm.line, err: errors.New("no place to add imagePullPolicy")}
		}
	}
	return r.insert(cm, key, val, "imagePullPolicy", r.c.opts.PullPolicy, plainStyle, w)
}

// set rewrites scalar n (the value of key k, which may be nil) to v.
// It reports whether the value changes.
func (r *rewriter) set(n, k *node, v string, w where) (bool, error) {
	if prev, ok := r.done[n]; ok {
		if prev.v != v {
			return false, &lineError{line: n.line, err: fmt.Errorf("value is given two new values, %q and %q", prev.v, v)}
		}
		// Shared through an anchor, or found both by a rule and as a
		// container: one splice, and one edit per place it is used.
		line, col := r.ls.position(prev.off)
		for _, e := range r.edits {
			if e.Line == line && e.Column == col && e.Document == r.doc && e.Field == w.field {
				return true, nil
			}
		}
		r.record(prev.off, n.value, v, w)
		return true, nil
	}
	if n.value == v {
		return false, nil
	}
	var o op
	if n.value == "" && n.style == plainStyle && k != nil && !n.props {
		// An empty value (`tag:`): write the new one after the colon.
		_, ke, err := span(r.src, k)
		if err != nil {
			return false, err
		}
		p := ke
		for p < len(r.src) && isBlank(r.src[p]) {
			p++
		}
		if p >= len(r.src) || r.src[p] != ':' {
			return false, &lineError{line: k.line, err: errors.New("cannot find the colon after the key")}
		}
		o = op{start: p + 1, end: p + 1, text: " " + quote(v, plainStyle, n.inFlow, r.json)}
	} else {
		if n.style == literalStyle || n.style == foldedStyle {
			return false, &lineError{line: n.line, err: errors.New("cannot rewrite an image given as a block scalar")}
		}
		s, e, err := span(r.src, n)
		if err != nil {
			return false, err
		}
		o = op{start: s, end: e, text: quote(v, n.style, n.inFlow, r.json)}
	}
	o.seq = len(r.ops)
	r.ops = append(r.ops, o)
	r.done[n] = doneSet{v: v, off: o.start}
	r.record(o.start, n.value, v, w)
	return true, nil
}

// quoteStyle is the style of scalar n when quoted, else plain: new values
// next to it are quoted the same way.
func quoteStyle(n *node) style {
	if n = resolve(n); n != nil && n.kind == scalarNode && (n.style == singleStyle || n.style == doubleStyle) {
		return n.style
	}
	return plainStyle
}

func (r *rewriter) record(off int, old, v string, w where) {
	line, col := r.ls.position(off)
	// Values read by the fast parser are slices of the file's bytes: the
	// edit gets its own copies, since the caller owns those bytes.
	r.edits = append(r.edits, Edit{
		File: r.path, Line: line, Column: col, Document: r.doc,
		Object: strings.Clone(w.object), Container: strings.Clone(w.container), Field: strings.Clone(w.field), Old: strings.Clone(old), New: v,
	})
}

// insert adds the pair key: v to mapping m after the pair ak: av, whose value
// must be on one line. The key is quoted like ak, the value in style vst
// (plain when it reads back as a string). Pairs inserted after the same pair
// appear in the order of the calls.
func (r *rewriter) insert(m, ak, av *node, key, v string, vst style, w where) error {
	_, ae, err := span(r.src, av)
	if err != nil {
		return err
	}
	kst := plainStyle
	if ak.kind == scalarNode {
		kst = ak.style
	}
	pair := quote(key, kst, m.flow, r.json) + ": " + quote(v, vst, m.flow, r.json)
	var o op
	if m.flow {
		sep := ", "
		if eol := r.ls.eol(ak.off); eol != "" && firstOnLine(r.src, r.ls, ak.off) {
			// One pair per line, like the pair before.
			sep = "," + eol + lineIndent(r.src, r.ls, ak)
		}
		o = op{start: ae, end: ae, text: sep + pair}
	} else {
		at := r.ls.lineEnd(ae - 1)
		eol := r.ls.eol(ae - 1)
		text := lineIndent(r.src, r.ls, ak) + pair
		if eol == "" {
			text = fileEOL(r.src) + text
		} else {
			text += eol
		}
		o = op{start: at, end: at, text: text}
	}
	o.seq = len(r.ops)
	r.ops = append(r.ops, o)
	r.record(o.start, "", v, w)
	if !m.flow {
		// The new pair starts a line of its own.
		line, _ := r.ls.position(ae - 1)
		r.edits[len(r.edits)-1].Line, r.edits[len(r.edits)-1].Column = line+1, len([]rune(lineIndent(r.src, r.ls, ak)))+1
	}
	return nil
}

// remove deletes the pair k: v from mapping m.
func (r *rewriter) remove(m, k, v *node, w where) error {
	ks, _, err := span(r.src, k)
	if err != nil {
		return err
	}
	_, ve, err := span(r.src, v)
	if err != nil {
		return err
	}
	start, end := ks, ve
	if m.flow {
		// Take the comma before the pair, or else the one after it.
		p := ks
		for p > 0 && isBlank(r.src[p-1]) || p > 0 && (r.src[p-1] == '\n' || r.src[p-1] == '\r') {
			p--
		}
		if p > 0 && r.src[p-1] == ',' {
			start = p - 1
		} else {
			q := skipSpace(r.src, ve)
			if q < len(r.src) && r.src[q] == ',' {
				end = skipSpace(r.src, q+1)
				if end < len(r.src) && r.src[end] == '}' {
					end = q + 1
				}
			}
		}
	} else {
		line, _ := r.ls.position(ks)
		if firstOnLine(r.src, r.ls, ks) {
			start = r.ls.starts[line-1]
			end = r.ls.lineEnd(ve - 1)
		} else {
			// "- digest: x": pull the next key up onto this line.
			next := -1
			for i := 0; i+1 < len(m.content); i += 2 {
				if m.content[i] == k && i+2 < len(m.content) {
					next = m.content[i+2].off
				}
			}
			if next < 0 {
				return &lineError{line: k.line, err: errors.New("cannot remove the only pair of a mapping")}
			}
			end = next
		}
	}
	o := op{start: start, end: end, seq: len(r.ops)}
	r.ops = append(r.ops, o)
	line, col := r.ls.position(ks)
	r.edits = append(r.edits, Edit{File: r.path, Line: line, Column: col, Document: r.doc,
		Object: strings.Clone(w.object), Container: strings.Clone(w.container), Field: strings.Clone(w.field), Old: strings.Clone(scalarValue(v)), New: ""})
	return nil
}
