package manifest

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
)

// Reference is one image reference a manifest names, with where it is.
type Reference struct {
	File         string
	Line, Column int
	Document     int
	// Object is "Kind/name", as in Edit; "" for a values file.
	Object string
	// Container is the container's name, when the reference is one's image.
	Container string
	Field     string
	// Image is the reference as written; for a kustomization entry or a
	// reference split over fields (rules), the fields joined as
	// repo[:tag][@digest].
	Image string
	// PullPolicy is the container's imagePullPolicy as written, "" when it
	// sets none. Only containers have one.
	PullPolicy string
}

// References lists every image reference of a file, whoever's image it is:
// the images of containers wherever objects keep them (as Rewrite finds
// them), the images: entries of a
// kustomization that set newTag or digest, and the fields rules name.
// path tells kustomization and JSON files apart, as for Rewrite. An error
// about the file is a *FileError.
func References(path string, src []byte, rules []Rule) ([]Reference, error) {
	c := &compiled{}
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, errors.New("rule " + strconv.Itoa(i+1) + ": " + err.Error())
		}
		c.rules = append(c.rules, cr)
	}
	f := &finder{rewriter: rewriter{c: c, path: path, src: src,
		json:  strings.EqualFold(filepath.Ext(path), ".json"),
		kfile: isKustomizationName(filepath.Base(path))}}
	if err := f.run(); err != nil {
		fe := &FileError{File: path, Err: err}
		var le *lineError
		if errors.As(err, &le) {
			fe.Line, fe.Column, fe.Err = le.line, le.col, le.err
		}
		return nil, fe
	}
	return f.refs, nil
}

// finder walks a file the way the rewriter does, recording instead of
// changing.
type finder struct {
	rewriter
	refs []Reference
}

func (f *finder) run() error {
	if len(f.src) >= 2 && (f.src[0] == 0xFE && f.src[1] == 0xFF || f.src[0] == 0xFF && f.src[1] == 0xFE) {
		return errors.New("UTF-16 files are not supported")
	}
	mem := getTreeMem()
	defer putTreeMem(mem)
	f.ls = newLinesIn(f.src, mem.starts)
	defer func() { mem.starts = f.ls.starts[:0] }()
	docs, ok := fastParse(f.src, f.ls, mem)
	f.fast = ok
	if !ok {
		var err error
		if docs, err = parseYAML(f.src, f.ls, f.json); err != nil {
			return err
		}
	}
	for i, d := range docs {
		f.doc = i + 1
		if len(d.content) == 0 {
			continue
		}
		root := resolve(d.content[0])
		if root == nil {
			continue
		}
		if root.kind == mapNode {
			if f.kfile {
				f.kustomization(root, objectName(root, "Kustomization"))
			} else {
				f.object(root, "")
			}
		}
		for _, ru := range f.c.rules {
			f.rule(root, ru)
		}
	}
	return nil
}

func (f *finder) add(n *node, w where, image, policy string) {
	// Values read by the fast parser are slices of the file's bytes, which
	// the caller owns: the reference gets copies.
	f.refs = append(f.refs, Reference{File: f.path, Line: n.line, Column: n.col, Document: f.doc,
		Object: strings.Clone(w.object), Container: strings.Clone(w.container), Field: strings.Clone(w.field),
		Image: strings.Clone(image), PullPolicy: strings.Clone(policy)})
}

func (f *finder) object(m *node, prefix string) {
	apiVersion := scalarValue(mapValue(m, "apiVersion"))
	kind := scalarValue(mapValue(m, "kind"))
	if apiVersion == "" || kind == "" {
		return
	}
	if strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") && (kind == "Kustomization" || kind == "Component") {
		f.kustomization(m, objectName(m, kind))
		return
	}
	if strings.HasSuffix(kind, "List") {
		if items := mapValue(m, "items"); items != nil && items.kind == seqNode {
			for i, it := range items.content {
				if it = resolve(it); it != nil && it.kind == mapNode {
					f.object(it, prefix+"items["+strconv.Itoa(i)+"].")
				}
			}
		}
		return
	}
	w := newContainerWalk(objectName(m, kind), !f.fast, func(cm *node, w where) error {
		img := mapValue(cm, "image")
		w.field += "image"
		f.add(img, w, img.value, scalarValue(mapValue(cm, "imagePullPolicy")))
		return nil
	})
	if prefix != "" {
		w.path = strings.Split(strings.TrimSuffix(strings.ReplaceAll(prefix, "[", ".["), "."), ".")
	}
	w.walk(m)
}

func (f *finder) kustomization(m *node, obj string) {
	imgs := mapValue(m, "images")
	if imgs == nil || imgs.kind != seqNode {
		return
	}
	for i, en := range imgs.content {
		e := resolve(en)
		if e == nil || e.kind != mapNode {
			continue
		}
		nameV := mapValue(e, "name")
		ref := scalarValue(nameV)
		if ref == "" {
			continue
		}
		if nn := scalarValue(mapValue(e, "newName")); nn != "" {
			ref = nn
		}
		tag, digest := scalarValue(mapValue(e, "newTag")), scalarValue(mapValue(e, "digest"))
		if tag == "" && digest == "" {
			// The tag is the one the resources give; only they know it.
			continue
		}
		if tag != "" {
			ref += ":" + tag
		}
		if digest != "" {
			ref += "@" + digest
		}
		f.add(nameV, where{object: obj, field: "images[" + strconv.Itoa(i) + "]"}, ref, "")
	}
}

func (f *finder) rule(root *node, ru rule) {
	obj := ""
	if root.kind == mapNode && scalarValue(mapValue(root, "kind")) != "" {
		obj = objectName(root, "")
	}
	if ru.image != nil {
		var hits []found
		lookupPath(root, ru.image, nil, "", &hits)
		for _, h := range hits {
			if v := resolve(h.val); v != nil && v.kind == scalarNode && v.value != "" {
				f.add(v, where{object: obj, field: h.path}, v.value, "")
			}
		}
		return
	}
	var hits []found
	lookupPath(root, ru.repo, nil, "", &hits)
	for _, h := range hits {
		v := resolve(h.val)
		if v == nil || v.kind != scalarNode || v.value == "" {
			continue
		}
		field := func(segs []seg) string {
			if segs == nil {
				return ""
			}
			var hs []found
			lookupPath(root, bindPath(segs, h.bind), nil, "", &hs)
			if len(hs) != 1 {
				return ""
			}
			return scalarValue(hs[0].val)
		}
		ref := v.value
		if t := field(ru.tag); t != "" {
			ref += ":" + t
		}
		if d := field(ru.digest); d != "" {
			ref += "@" + d
		}
		f.add(v, where{object: obj, field: h.path}, ref, "")
	}
}
