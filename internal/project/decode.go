package project

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder turns a yaml.Node tree into Go values strictly: every unknown
// key, wrong type and duplicate key becomes a Problem with its position,
// and decoding goes on so that all problems are reported at once.
type decoder struct {
	file     string
	getenv   func(string) (string, bool)
	problems *Problems
	// failed holds the paths ("registry", "images[0].name") whose value
	// could not be decoded, so validation does not report them again.
	failed map[string]bool
}

var (
	registriesType = reflect.TypeOf(Registries(nil))
	stringListType = reflect.TypeOf(StringList(nil))
	positionType   = reflect.TypeOf(Position{})
)

func (d *decoder) addf(n *yaml.Node, format string, args ...any) {
	d.problems.add(d.file, n.Line, n.Column, fmt.Sprintf(format, args...))
}

// fail records a problem with the value at where.
func (d *decoder) fail(n *yaml.Node, where, format string, args ...any) {
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[where] = true
	d.addf(n, format, args...)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decode fills v (addressable) from n; where names the value in messages.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, where string) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	switch v.Type() {
	case registriesType:
		d.decodeRegistries(n, v, where)
		return
	case stringListType:
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			var s string
			if d.decodeString(n, &s, where) {
				v.Set(reflect.ValueOf(StringList{s}))
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), where)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, where)
	case reflect.Slice:
		d.decodeSlice(n, v, where)
	case reflect.Map:
		d.decodeMap(n, v, where)
	case reflect.String:
		var s string
		if d.decodeString(n, &s, where) {
			v.SetString(s)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.addf(n, "%s: want true or false, got %s", where, kindName(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.addf(n, "%s: want a whole number, got %s", where, kindName(n))
			return
		}
		i, err := strconv.Atoi(n.Value)
		if err != nil {
			d.addf(n, "%s: %q is not a whole number", where, n.Value)
			return
		}
		v.SetInt(int64(i))
	default:
		panic("project: no decoder for " + v.Type().String())
	}
}

// decodeString accepts any scalar (numbers and booleans keep their
// spelling) and expands ${VAR} in it.
func (d *decoder) decodeString(n *yaml.Node, out *string, where string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, where, "%s: want a string, got %s", where, kindName(n))
		return false
	}
	if isNull(n) {
		*out = ""
		return true
	}
	s, err := expand(n.Value, d.getenv)
	if err != nil {
		d.fail(n, where, "%s: %v", where, err)
		return false
	}
	*out = s
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, where string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s: want a mapping, got %s", where, kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == positionType {
			v.Field(i).Set(reflect.ValueOf(Position{Line: n.Line, Col: n.Column}))
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		known = append(known, tag)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, "%s: keys must be strings", where)
			continue
		}
		if k.Value == "<<" {
			d.addf(k, "%s: merge keys (<<) are not supported", where)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.addf(k, "%s: %q is given twice (first at line %d)", where, k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		idx, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("%s: unknown field %q", where, k.Value)
			if s := Suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.addf(k, "%s", msg)
			continue
		}
		d.decode(val, v.Field(idx), join(where, k.Value))
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, where string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, where, "%s: want a list, got %s", where, kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", where, i))
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, where string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, where, "%s: want a mapping, got %s", where, kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveAlias(n.Content[i])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.addf(k, "%s: keys must be strings", where)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.addf(k, "%s: %q is given twice (first at line %d)", where, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(n.Content[i+1], elem, join(where, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}

func (d *decoder) decodeRegistries(n *yaml.Node, v reflect.Value, where string) {
	one := func(item *yaml.Node, where string) (Registry, bool) {
		item = resolveAlias(item)
		var r Registry
		switch item.Kind {
		case yaml.ScalarNode:
			if !d.decodeString(item, &r.URL, where) {
				return r, false
			}
			r.Loc = Position{Line: item.Line, Col: item.Column}
		case yaml.MappingNode:
			d.decodeStruct(item, reflect.ValueOf(&r).Elem(), where)
		default:
			d.fail(item, where, "%s: want a registry (string or mapping), got %s", where, kindName(item))
			return r, false
		}
		return r, true
	}
	if isNull(n) {
		return
	}
	var regs Registries
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			if r, ok := one(item, fmt.Sprintf("%s[%d]", where, i)); ok {
				regs = append(regs, r)
			}
		}
	} else if r, ok := one(n, where); ok {
		regs = Registries{r}
	} else {
		d.failed[where] = true
	}
	v.Set(reflect.ValueOf(regs))
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

// Suggest returns the known name closest to s when it is a likely typo
// (at most two edits away), else "".
func Suggest(s string, known []string) string {
	best, bestDist := "", 3
	sort.Strings(known)
	for _, k := range known {
		if dist := levenshtein(strings.ToLower(s), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
