package manifest

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// The helpers here are the test oracle: they read files with yaml.v3 alone,
// independently of the package's finding logic.

// maskedKeys are keys whose values count as image values: they may change.
var maskedKeys = map[string]bool{
	"image": true, "repository": true, "tag": true, "digest": true,
	"newTag": true, "newName": true, "imagePullPolicy": true,
}

// droppableKeys are keys a bump may add or remove.
var droppableKeys = map[string]bool{
	"imagePullPolicy": true, "newTag": true, "newName": true, "digest": true, "tag": true,
}

func parseAll(src []byte, json bool) ([]*yaml.Node, error) {
	if json {
		src = bytes.ReplaceAll(src, []byte{'\t'}, []byte{' '})
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// change is a masked value that differs between input and output.
type change struct{ old, new string }

// compareMasked parses in and out and compares the trees with image values
// masked. It returns the masked values that changed, and whether pairs were
// added or removed.
func compareMasked(in, out []byte, json bool) ([]change, bool, error) {
	a, err := parseAll(in, json)
	if err != nil {
		return nil, false, fmt.Errorf("input: %w", err)
	}
	b, err := parseAll(out, json)
	if err != nil {
		return nil, false, fmt.Errorf("output does not parse: %w", err)
	}
	if len(a) != len(b) {
		return nil, false, fmt.Errorf("%d documents became %d", len(a), len(b))
	}
	// First without positions, to learn whether pairs were added or
	// removed; when none were, every node must keep its line and comments.
	cmp := &comparer{}
	for i := range a {
		ca, cb := comments(a[i]), comments(b[i])
		if strings.Join(ca, "\x00") != strings.Join(cb, "\x00") {
			return nil, false, fmt.Errorf("document %d: comments differ:\n%q\n%q", i+1, ca, cb)
		}
		if err := cmp.node(a[i], b[i], false, 0); err != nil {
			return nil, false, fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	if cmp.addedOrRemoved {
		return cmp.changes, true, nil
	}
	strict := &comparer{sameLines: true}
	for i := range a {
		if err := strict.node(a[i], b[i], false, 0); err != nil {
			return nil, false, fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return cmp.changes, false, nil
}

type comparer struct {
	sameLines      bool
	addedOrRemoved bool
	changes        []change
}

// comments lists the comments of a tree, except the line comments of
// droppable pairs, which go with a removed pair.
func comments(n *yaml.Node) []string {
	var out []string
	var walk func(n *yaml.Node, depth int, lineToo bool)
	walk = func(n *yaml.Node, depth int, lineToo bool) {
		if n == nil || depth > 200 {
			return
		}
		for _, c := range []string{n.HeadComment, n.FootComment} {
			if c != "" {
				out = append(out, c)
			}
		}
		if lineToo && n.LineComment != "" {
			out = append(out, n.LineComment)
		}
		if n.Kind == yaml.AliasNode {
			return
		}
		for i, c := range n.Content {
			keep := true
			if n.Kind == yaml.MappingNode {
				k := n.Content[i-i%2]
				keep = !(k.Kind == yaml.ScalarNode && droppableKeys[k.Value])
			}
			walk(c, depth+1, keep)
		}
	}
	walk(n, 0, true)
	sort.Strings(out)
	return out
}

// pairs returns the pairs of mapping n without the droppable keys.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && droppableKeys[k.Value] {
			continue
		}
		out = append(out, [2]*yaml.Node{k, n.Content[i+1]})
	}
	return out
}

// lineless returns copies of a and b without line comments: on the
// line of a changed value, yaml.v3 may hang the comment on the key or on the
// value, and the pair's comments are compared together.
func lineless(a, b *yaml.Node) (*yaml.Node, *yaml.Node) {
	ca, cb := *a, *b
	ca.LineComment, cb.LineComment = "", ""
	return &ca, &cb
}

// droppable returns the droppable pairs of mapping n by key.
func droppable(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && droppableKeys[k.Value] {
			if _, dup := out[k.Value]; !dup {
				out[k.Value] = n.Content[i+1]
			}
		}
	}
	return out
}

func (c *comparer) node(a, b *yaml.Node, masked bool, depth int) error {
	if depth > 200 {
		return nil
	}
	where := fmt.Sprintf("line %d", a.Line)
	if a.Kind != b.Kind {
		return fmt.Errorf("%s: kind %d became %d", where, a.Kind, b.Kind)
	}
	if a.Anchor != b.Anchor {
		return fmt.Errorf("%s: anchor %q became %q", where, a.Anchor, b.Anchor)
	}
	if c.sameLines {
		if a.Line != b.Line {
			return fmt.Errorf("%s: node moved to line %d", where, b.Line)
		}
		if a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment {
			return fmt.Errorf("%s: comments changed: %q %q %q -> %q %q %q", where,
				a.HeadComment, a.LineComment, a.FootComment, b.HeadComment, b.LineComment, b.FootComment)
		}
	}
	if a.Kind == yaml.ScalarNode && (masked || a.Anchor != "") {
		if a.Value != b.Value {
			c.changes = append(c.changes, change{a.Value, b.Value})
			// A quoted value stays quoted the same way; a plain one may
			// need double quotes.
			qa, qb := a.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle), b.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle)
			if qa != qb && !(qa == 0 && qb == yaml.DoubleQuotedStyle) {
				return fmt.Errorf("%s: style %v became %v", where, a.Style, b.Style)
			}
		} else if a.Style != b.Style || a.Tag != b.Tag {
			return fmt.Errorf("%s: unchanged value %q changed style or tag", where, a.Value)
		}
		return nil
	}
	if a.Value != b.Value || a.Style != b.Style || a.Tag != b.Tag {
		return fmt.Errorf("%s: %s %q (style %v) became %s %q (style %v)", where, a.Tag, a.Value, a.Style, b.Tag, b.Value, b.Style)
	}
	switch a.Kind {
	case yaml.AliasNode:
		return nil // the anchor itself is compared where it is defined
	case yaml.MappingNode:
		pa, pb := pairs(a), pairs(b)
		if len(pa) != len(pb) {
			return fmt.Errorf("%s: mapping of %d pairs became %d", where, len(pa), len(pb))
		}
		da, db := droppable(a), droppable(b)
		for k, va := range da {
			if vb, ok := db[k]; ok {
				va, vb := lineless(va, vb)
				if err := c.node(va, vb, true, depth+1); err != nil {
					return err
				}
			} else {
				c.addedOrRemoved = true
				if va.Kind == yaml.ScalarNode {
					c.changes = append(c.changes, change{va.Value, ""})
				}
			}
		}
		for k, vb := range db {
			if _, ok := da[k]; !ok {
				c.addedOrRemoved = true
				if vb.Kind == yaml.ScalarNode {
					c.changes = append(c.changes, change{"", vb.Value})
				}
			}
		}
		for i := range pa {
			ka, kb, va, vb := pa[i][0], pb[i][0], pa[i][1], pb[i][1]
			m := ka.Kind == yaml.ScalarNode && maskedKeys[ka.Value]
			if m {
				if ka.LineComment+va.LineComment != kb.LineComment+vb.LineComment {
					return fmt.Errorf("%s: line comment of %s changed", where, ka.Value)
				}
				ka, kb = lineless(ka, kb)
				va, vb = lineless(va, vb)
			}
			if err := c.node(ka, kb, false, depth+1); err != nil {
				return err
			}
			if err := c.node(va, vb, m, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: %d children became %d", where, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if err := c.node(a.Content[i], b.Content[i], false, depth+1); err != nil {
			return err
		}
	}
	return nil
}
