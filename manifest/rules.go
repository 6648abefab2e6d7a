package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Rule names image fields by path, for files that are not Kubernetes
// workloads: Helm values, custom resources. A path is dotted keys with
// [N] (item N of a list), [*] (every item) and * (every value of a
// mapping), e.g. "image.repository", "spec.components[*].image",
// "images.*.tag". Paths start at the document's root.
//
// Set Image for a field holding a whole reference ("repo:tag@digest"), or
// Repository with Tag and/or Digest for a reference split over fields. The
// wildcards of Tag and Digest take the values that matched in Repository
// (so give them the same wildcards, in the same order). With only a Tag
// field, tag+digest is written there as "tag@digest" and a digest pin is an
// error; with only a Digest field, a tag pin is an error. With both, a tag
// pin empties the digest field and a digest pin leaves the tag field alone.
// A missing Tag or Digest field is added next to the repository field.
type Rule struct {
	Image      string `json:"image,omitempty" yaml:"image,omitempty"`
	Repository string `json:"repository,omitempty" yaml:"repository,omitempty"`
	Tag        string `json:"tag,omitempty" yaml:"tag,omitempty"`
	Digest     string `json:"digest,omitempty" yaml:"digest,omitempty"`
}

type segKind uint8

const (
	segKey segKind = iota
	segIndex
	segAnyKey
	segAnyIndex
)

type seg struct {
	kind  segKind
	key   string
	index int
}

type rule struct {
	Rule
	image, repo, tag, digest []seg
}

func compileRule(r Rule) (rule, error) {
	c := rule{Rule: r}
	if (r.Image == "") == (r.Repository == "") {
		return c, errors.New("give either image or repository")
	}
	if r.Image != "" && (r.Tag != "" || r.Digest != "") {
		return c, errors.New("tag and digest go with repository, not image")
	}
	if r.Repository != "" && r.Tag == "" && r.Digest == "" {
		return c, errors.New("repository needs a tag or digest field")
	}
	var err error
	for _, f := range []struct {
		path string
		segs *[]seg
	}{{r.Image, &c.image}, {r.Repository, &c.repo}, {r.Tag, &c.tag}, {r.Digest, &c.digest}} {
		if f.path == "" {
			continue
		}
		if *f.segs, err = parsePath(f.path); err != nil {
			return c, err
		}
	}
	for _, s := range [][]seg{c.tag, c.digest} {
		if s != nil && wildcards(s) != wildcards(c.repo) {
			return c, fmt.Errorf("tag and digest paths need the wildcards of repository %q", r.Repository)
		}
		if s != nil && s[len(s)-1].kind != segKey {
			return c, errors.New("tag and digest paths must end with a key")
		}
	}
	return c, nil
}

func parsePath(p string) ([]seg, error) {
	var segs []seg
	for part := range strings.SplitSeq(p, ".") {
		key := part
		rest := ""
		if i := strings.IndexByte(part, '['); i >= 0 {
			key, rest = part[:i], part[i:]
		}
		switch {
		case key == "*":
			segs = append(segs, seg{kind: segAnyKey})
		case key != "":
			segs = append(segs, seg{kind: segKey, key: key})
		case rest == "":
			return nil, fmt.Errorf("path %q: empty key", p)
		}
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("path %q: bad index in %q", p, part)
			}
			ix := rest[1:end]
			rest = rest[end+1:]
			if ix == "*" {
				segs = append(segs, seg{kind: segAnyIndex})
				continue
			}
			n, err := strconv.Atoi(ix)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index %q", p, ix)
			}
			segs = append(segs, seg{kind: segIndex, index: n})
		}
	}
	return segs, nil
}

func wildcards(segs []seg) int {
	n := 0
	for _, s := range segs {
		if s.kind == segAnyKey || s.kind == segAnyIndex {
			n++
		}
	}
	return n
}

// found is a place a path leads to: the value (nil when the last key is
// missing from an existing mapping), its key and mapping, the values the
// wildcards took, and the concrete path.
type found struct {
	val, key, parent *node
	bind             []seg
	path             string
}

func lookupPath(n *node, segs []seg, bind []seg, path string, out *[]found) {
	if len(segs) == 0 {
		*out = append(*out, found{val: n, bind: bind, path: path})
		return
	}
	n = resolve(n)
	if n == nil {
		return
	}
	s, rest := segs[0], segs[1:]
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch {
	case s.kind == segKey && n.kind == mapNode:
		k, v, _ := mapGet(n, s.key)
		if v == nil {
			if len(rest) == 0 {
				*out = append(*out, found{parent: n, bind: bind, path: join(s.key)})
			}
			return
		}
		before := len(*out)
		lookupPath(v, rest, bind, join(s.key), out)
		if len(rest) == 0 && len(*out) > before {
			(*out)[len(*out)-1].key, (*out)[len(*out)-1].parent = k, n
		}
	case s.kind == segAnyKey && n.kind == mapNode:
		for i := 0; i+1 < len(n.content); i += 2 {
			k := resolve(n.content[i])
			if k == nil || k.kind != scalarNode || k.value == "<<" {
				continue
			}
			b := append(append([]seg(nil), bind...), seg{kind: segKey, key: k.value})
			before := len(*out)
			lookupPath(n.content[i+1], rest, b, join(k.value), out)
			if len(rest) == 0 && len(*out) > before {
				(*out)[len(*out)-1].key, (*out)[len(*out)-1].parent = n.content[i], n
			}
		}
	case s.kind == segIndex && n.kind == seqNode:
		if s.index < len(n.content) {
			lookupPath(n.content[s.index], rest, bind, path+"["+strconv.Itoa(s.index)+"]", out)
		}
	case s.kind == segAnyIndex && n.kind == seqNode:
		for i, it := range n.content {
			b := append(append([]seg(nil), bind...), seg{kind: segIndex, index: i})
			lookupPath(it, rest, b, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// bindPath replaces the wildcards of segs with the values in bind.
func bindPath(segs, bind []seg) []seg {
	out := make([]seg, len(segs))
	j := 0
	for i, s := range segs {
		if (s.kind == segAnyKey || s.kind == segAnyIndex) && j < len(bind) {
			s = bind[j]
			j++
		}
		out[i] = s
	}
	return out
}

func (r *rewriter) applyRule(root *node, ru rule) error {
	obj := ""
	if root.kind == mapNode && scalarValue(mapValue(root, "kind")) != "" {
		obj = objectName(root, "")
	}
	if ru.image != nil {
		var hits []found
		lookupPath(root, ru.image, nil, "", &hits)
		for _, h := range hits {
			v := resolve(h.val)
			if v == nil || v.kind != scalarNode {
				continue
			}
			if t, ok := r.lookupRef(v.value); ok {
				ref, err := r.c.newRef(t, v.value)
				if err != nil {
					return &lineError{line: v.line, err: err}
				}
				if _, err := r.set(v, h.key, ref, where{object: obj, field: h.path}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	var hits []found
	lookupPath(root, ru.repo, nil, "", &hits)
	for _, h := range hits {
		v := resolve(h.val)
		if v == nil || v.kind != scalarNode {
			continue
		}
		t, ok := r.lookupRepo(v.value)
		if !ok {
			continue
		}
		if t.moved {
			if _, err := r.set(v, h.key, t.newRepo, where{object: obj, field: h.path}); err != nil {
				return err
			}
		}
		tag, digest, err := r.c.parts(t)
		if err != nil {
			return &lineError{line: v.line, err: err}
		}
		switch {
		case ru.tag != nil && ru.digest != nil:
			if tag != "" {
				if err := r.setField(root, h, ru.tag, tag, obj); err != nil {
					return err
				}
			}
			if err := r.setField(root, h, ru.digest, digest, obj); err != nil {
				return err
			}
		case ru.tag != nil:
			if tag == "" {
				return &lineError{line: v.line, err: fmt.Errorf("rule for %s has no digest field to pin %s@%s", ru.Repository, v.value, digest)}
			}
			if digest != "" {
				tag += "@" + digest
			}
			if err := r.setField(root, h, ru.tag, tag, obj); err != nil {
				return err
			}
		default:
			if digest == "" {
				return &lineError{line: v.line, err: fmt.Errorf("rule for %s has no tag field to pin %s:%s", ru.Repository, v.value, tag)}
			}
			if err := r.setField(root, h, ru.digest, digest, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// setField writes v to the field at segs (with repo's wildcard values).
// An empty v empties the field when it exists and is not empty.
func (r *rewriter) setField(root *node, repo found, segs []seg, v, obj string) error {
	var hits []found
	lookupPath(root, bindPath(segs, repo.bind), nil, "", &hits)
	if len(hits) != 1 {
		return nil
	}
	h := hits[0]
	w := where{object: obj, field: h.path}
	if h.val != nil {
		cur := resolve(h.val)
		if cur == nil || cur.kind != scalarNode {
			return &lineError{line: h.val.line, err: fmt.Errorf("%s is not a string", h.path)}
		}
		_, err := r.set(cur, h.key, v, w)
		return err
	}
	if v == "" {
		return nil
	}
	if h.parent != repo.parent || repo.key == nil {
		return &lineError{line: repo.val.line, err: fmt.Errorf("%s is missing", h.path)}
	}
	return r.insert(h.parent, repo.key, repo.val, segs[len(segs)-1].key, v, quoteStyle(repo.val), w)
}
