package project

// These tests keep schema/slipway.schema.json, the JSON Schema editors use
// for slipway.yaml, in step with the Config structs and with what Load
// accepts. They check the schema with a small validator written for the
// keywords it uses; a keyword it does not know fails the tests, so the
// schema cannot grow a rule that goes unchecked.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var schemaFile = filepath.Join("..", "..", "schema", "slipway.schema.json")

// Keywords the validator below understands. Annotations carry no rule.
var (
	schemaAnnotations = map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "default": true, "definitions": true}
	schemaAssertions  = map[string]bool{
		"$ref": true, "type": true, "properties": true, "additionalProperties": true, "required": true,
		"enum": true, "items": true, "minItems": true, "oneOf": true, "anyOf": true, "not": true, "pattern": true,
	}
)

// jsonSchema is the parsed schema document and the validator over it.
type jsonSchema struct {
	root map[string]any
	res  map[string]*regexp.Regexp
}

func loadSchema(t *testing.T) *jsonSchema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return &jsonSchema{root: root, res: map[string]*regexp.Regexp{}}
}

// resolve follows a local reference such as #/definitions/image.
func (s *jsonSchema) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q: only local references are supported", ref)
	}
	var cur any = s.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, part)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a schema", ref)
	}
	return m, nil
}

// deref follows $ref until it reaches a schema without one.
func (s *jsonSchema) deref(t *testing.T, sch map[string]any) map[string]any {
	t.Helper()
	for i := 0; i < 10; i++ {
		ref, ok := sch["$ref"].(string)
		if !ok {
			return sch
		}
		next, err := s.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		sch = next
	}
	t.Fatal("$ref chain too long")
	return nil
}

func (s *jsonSchema) regexp(p string) (*regexp.Regexp, error) {
	if re, ok := s.res[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	s.res[p] = re
	return re, nil
}

// schemaError is one rule a document breaks; Path is a JSON pointer into
// the document.
type schemaError struct {
	Path, Msg string
}

func (e schemaError) String() string { return e.Path + ": " + e.Msg }

// yamlNumber is a YAML number, kept as written.
type yamlNumber struct {
	text    string
	integer bool
}

func (n yamlNumber) float() (float64, bool) {
	f, err := strconv.ParseFloat(n.text, 64)
	return f, err == nil
}

// yamlValue turns a YAML node into the JSON data model an editor's schema
// check sees: mappings, lists, strings, numbers, booleans and null,
// resolved by the YAML 1.2 core schema. Duplicate keys are a YAML error,
// as editors report them.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key that is not a string", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			return strconv.ParseBool(strings.ToLower(n.Value))
		case "!!int":
			return yamlNumber{text: n.Value, integer: true}, nil
		case "!!float":
			return yamlNumber{text: n.Value}, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func parseYAMLValue(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return yamlValue(&doc)
}

func jsonType(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case yamlNumber:
		if x.integer {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", x)
}

// schemaTypes lists the types a schema's type keyword allows.
func schemaTypes(sch map[string]any) []string {
	switch t := sch["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func typeAllowed(types []string, x any) bool {
	got := jsonType(x)
	for _, t := range types {
		if t == got || t == "number" && got == "integer" {
			return true
		}
	}
	return false
}

func enumHas(enum []any, x any) bool {
	for _, e := range enum {
		switch e := e.(type) {
		case string:
			if s, ok := x.(string); ok && s == e {
				return true
			}
		case float64:
			if n, ok := x.(yamlNumber); ok {
				if f, ok := n.float(); ok && f == e {
					return true
				}
			}
		case bool:
			if b, ok := x.(bool); ok && b == e {
				return true
			}
		}
	}
	return false
}

func pointer(path, key string) string {
	return path + "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// validate checks x against sch and returns every rule it breaks. Schema
// faults (a bad $ref or pattern, an unknown keyword) come back as errors
// too, with a path starting "schema:".
func (s *jsonSchema) validate(sch map[string]any, x any, path string) []schemaError {
	var errs []schemaError
	fail := func(p, format string, args ...any) {
		errs = append(errs, schemaError{Path: p, Msg: fmt.Sprintf(format, args...)})
	}
	for k := range sch {
		if !schemaAnnotations[k] && !schemaAssertions[k] {
			fail("schema:"+path, "unsupported keyword %q", k)
		}
	}
	if ref, ok := sch["$ref"].(string); ok {
		target, err := s.resolve(ref)
		if err != nil {
			fail("schema:"+path, "%v", err)
		} else {
			errs = append(errs, s.validate(target, x, path)...)
		}
	}
	if types := schemaTypes(sch); types != nil && !typeAllowed(types, x) {
		fail(path, "want %s, got %s", strings.Join(types, " or "), jsonType(x))
		return errs
	}
	if enum, ok := sch["enum"].([]any); ok && !enumHas(enum, x) {
		fail(path, "%v is not one of %v", x, enum)
	}
	if p, ok := sch["pattern"].(string); ok {
		if str, isStr := x.(string); isStr {
			re, err := s.regexp(p)
			if err != nil {
				fail("schema:"+path, "pattern: %v", err)
			} else if !re.MatchString(str) {
				fail(path, "%q does not match %s", str, p)
			}
		}
	}
	if obj, ok := x.(map[string]any); ok {
		for _, r := range asList(sch["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				fail(path, "%q is required", r)
			}
		}
		props, _ := sch["properties"].(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, s.validate(ps, obj[k], pointer(path, k))...)
				continue
			}
			switch ap := sch["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail(pointer(path, k), "unknown property %q", k)
				}
			case map[string]any:
				errs = append(errs, s.validate(ap, obj[k], pointer(path, k))...)
			}
		}
	}
	if arr, ok := x.([]any); ok {
		if m, ok := sch["minItems"].(float64); ok && float64(len(arr)) < m {
			fail(path, "want at least %v items, got %d", m, len(arr))
		}
		if items, ok := sch["items"].(map[string]any); ok {
			for i, v := range arr {
				errs = append(errs, s.validate(items, v, path+"/"+strconv.Itoa(i))...)
			}
		}
	}
	passes := func(key string) (n int, schemaFaults []schemaError) {
		for _, sub := range asList(sch[key]) {
			subErrs := s.validate(sub.(map[string]any), x, path)
			for _, e := range subErrs {
				if strings.HasPrefix(e.Path, "schema:") {
					schemaFaults = append(schemaFaults, e)
				}
			}
			if len(subErrs) == 0 {
				n++
			}
		}
		return n, schemaFaults
	}
	if one, ok := sch["oneOf"].([]any); ok {
		n, faults := passes("oneOf")
		errs = append(errs, faults...)
		if n != 1 {
			fail(path, "matches %d of the %d oneOf schemas, want exactly 1", n, len(one))
		}
	}
	if _, ok := sch["anyOf"]; ok {
		n, faults := passes("anyOf")
		errs = append(errs, faults...)
		if n == 0 {
			fail(path, "matches none of the anyOf schemas")
		}
	}
	if not, ok := sch["not"].(map[string]any); ok {
		subErrs := s.validate(not, x, path)
		if len(subErrs) == 0 {
			fail(path, "matches a schema under not")
		}
	}
	return errs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// check validates a YAML document against the whole schema.
func (s *jsonSchema) check(data []byte) ([]schemaError, error) {
	x, err := parseYAMLValue(data)
	if err != nil {
		return nil, err
	}
	return s.validate(s.root, x, ""), nil
}

func errorPaths(errs []schemaError) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		if !seen[e.Path] {
			seen[e.Path] = true
			out = append(out, e.Path)
		}
	}
	sort.Strings(out)
	return out
}

// TestSchemaKeywords walks the whole schema: every keyword is one the
// validator knows, every $ref resolves, every pattern compiles, and every
// definition is used.
func TestSchemaKeywords(t *testing.T) {
	s := loadSchema(t)
	used := map[string]bool{}
	var walk func(sch map[string]any, where string)
	walk = func(sch map[string]any, where string) {
		for k, v := range sch {
			switch {
			case k == "definitions" && where != "#":
				t.Errorf("%s: definitions belong at the top", where)
			case !schemaAnnotations[k] && !schemaAssertions[k]:
				t.Errorf("%s: keyword %q is not checked by this test's validator", where, k)
			}
			switch k {
			case "$ref":
				ref, _ := v.(string)
				if _, err := s.resolve(ref); err != nil {
					t.Errorf("%s: %v", where, err)
				}
				used[ref] = true
			case "pattern":
				if _, err := s.regexp(v.(string)); err != nil {
					t.Errorf("%s: pattern: %v", where, err)
				}
			case "properties", "definitions":
				for name, sub := range v.(map[string]any) {
					walk(sub.(map[string]any), where+"/"+k+"/"+name)
				}
			case "items", "not":
				walk(v.(map[string]any), where+"/"+k)
			case "additionalProperties":
				if sub, ok := v.(map[string]any); ok {
					walk(sub, where+"/"+k)
				} else if v != false {
					t.Errorf("%s: additionalProperties is %v; want false or a schema", where, v)
				}
			case "oneOf", "anyOf":
				for i, sub := range v.([]any) {
					walk(sub.(map[string]any), fmt.Sprintf("%s/%s/%d", where, k, i))
				}
			}
		}
	}
	walk(s.root, "#")
	for name := range s.root["definitions"].(map[string]any) {
		if !used["#/definitions/"+name] {
			t.Errorf("definition %q is never used", name)
		}
	}
}

// TestSchemaMatchesConfig walks Config with reflect: every field with a
// yaml name is a described property at the matching place in the schema,
// with a matching type, and every schema property is a field.
func TestSchemaMatchesConfig(t *testing.T) {
	s := loadSchema(t)
	if s.root["$schema"] != "http://json-schema.org/draft-07/schema#" {
		t.Errorf("$schema = %v, want draft-07", s.root["$schema"])
	}
	w := &schemaWalker{t: t, s: s}
	w.object(s.root, reflect.TypeOf(Config{}), "Config")
}

type schemaWalker struct {
	t *testing.T
	s *jsonSchema
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// object checks a struct against an object schema.
func (w *schemaWalker) object(sch map[string]any, typ reflect.Type, where string) {
	t := w.t
	sch = w.s.deref(t, sch)
	if got := schemaTypes(sch); !reflect.DeepEqual(got, []string{"object"}) {
		t.Errorf("%s: schema type %v, want object", where, got)
	}
	if sch["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties must be false, so that editors flag unknown keys as Load does", where)
	}
	props, _ := sch["properties"].(map[string]any)
	fields := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		fields[name] = true
		fwhere := where + "." + name
		prop, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s (%s.%s): not in the schema", fwhere, typ.Name(), f.Name)
			continue
		}
		if d, _ := prop["description"].(string); strings.TrimSpace(d) == "" {
			t.Errorf("%s: no description in the schema", fwhere)
		}
		w.value(prop, f.Type, fwhere)
	}
	for name := range props {
		if !fields[name] {
			t.Errorf("%s.%s: in the schema but not a field of %s", where, name, typ.Name())
		}
	}
	for _, r := range asList(sch["required"]) {
		if !fields[r.(string)] {
			t.Errorf("%s: required %q is not a field", where, r)
		}
	}
}

// value checks the schema of one field against its Go type.
func (w *schemaWalker) value(sch map[string]any, typ reflect.Type, where string) {
	t := w.t
	sch = w.s.deref(t, sch)
	switch typ {
	case registriesType:
		// A registry, a mapping, or a list of either.
		forms := w.forms(sch, where, "string", "object", "array")
		w.value(forms["string"], reflect.TypeOf(""), where+"(string)")
		w.object(forms["object"], reflect.TypeOf(Registry{}), where+"(mapping)")
		items, _ := forms["array"]["items"].(map[string]any)
		item := w.forms(w.s.deref(t, items), where+"[]", "string", "object")
		w.value(item["string"], reflect.TypeOf(""), where+"[](string)")
		w.object(item["object"], reflect.TypeOf(Registry{}), where+"[](mapping)")
		return
	case stringListType:
		forms := w.forms(sch, where, "string", "array")
		w.value(forms["string"], reflect.TypeOf(""), where+"(string)")
		items, _ := forms["array"]["items"].(map[string]any)
		w.value(items, reflect.TypeOf(""), where+"[]")
		return
	}
	types := schemaTypes(sch)
	want := func(ts ...string) {
		if !reflect.DeepEqual(types, ts) {
			t.Errorf("%s: schema type %v, want %v for Go %s", where, types, ts, typ)
		}
	}
	switch typ.Kind() {
	case reflect.String:
		// Load takes any scalar for a string and keeps its spelling, so a
		// schema may allow numbers and booleans too, but must allow strings.
		ok := len(types) > 0
		hasString := false
		for _, ty := range types {
			hasString = hasString || ty == "string"
			ok = ok && (ty == "string" || ty == "number" || ty == "boolean")
		}
		if !ok || !hasString {
			t.Errorf("%s: schema type %v, want string (or string with number/boolean)", where, types)
		}
	case reflect.Bool:
		want("boolean")
	case reflect.Int:
		want("integer")
	case reflect.Pointer:
		w.value(sch, typ.Elem(), where)
	case reflect.Struct:
		w.object(sch, typ, where)
	case reflect.Slice:
		want("array")
		items, ok := sch["items"].(map[string]any)
		if !ok {
			t.Errorf("%s: array without items", where)
			return
		}
		w.value(items, typ.Elem(), where+"[]")
	case reflect.Map:
		want("object")
		if _, ok := sch["properties"]; ok {
			t.Errorf("%s: a map has no fixed properties", where)
		}
		elem, ok := sch["additionalProperties"].(map[string]any)
		if !ok {
			t.Errorf("%s: a map needs additionalProperties with the value schema", where)
			return
		}
		w.value(elem, typ.Elem(), where+"{}")
	default:
		t.Errorf("%s: no schema check for Go %s", where, typ)
	}
}

// forms splits a oneOf schema into its branches by type; each wanted type
// must be there exactly once.
func (w *schemaWalker) forms(sch map[string]any, where string, want ...string) map[string]map[string]any {
	t := w.t
	out := map[string]map[string]any{}
	for _, b := range asList(sch["oneOf"]) {
		b := w.s.deref(t, b.(map[string]any))
		types := schemaTypes(b)
		if len(types) != 1 {
			t.Errorf("%s: oneOf branch with type %v, want one type", where, types)
			continue
		}
		if _, dup := out[types[0]]; dup {
			t.Errorf("%s: two oneOf branches of type %s", where, types[0])
		}
		out[types[0]] = b
	}
	if len(out) != len(want) {
		t.Errorf("%s: oneOf branches of types %v, want %v", where, keys(out), want)
	}
	for _, ty := range want {
		if out[ty] == nil {
			t.Errorf("%s: no oneOf branch of type %s", where, ty)
			out[ty] = map[string]any{}
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSchemaGoodFixtures: every file Load accepts in testdata/good is valid
// for the schema.
func TestSchemaGoodFixtures(t *testing.T) {
	s := loadSchema(t)
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := s.check(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Errorf("schema rejects a good file: %s", e)
			}
		})
	}
}

// TestSchemaBadFixtures: each file in testdata/bad with a problem the
// schema can see (unknown field, wrong type, bad name, missing field) is
// rejected by the schema at the places Load reports. Every fixture must be
// listed, so that a new one makes its author decide.
func TestSchemaBadFixtures(t *testing.T) {
	tests := map[string]struct {
		paths []string // where the schema reports, JSON pointers
		yaml  bool     // a YAML error, reported by the editor's parser
		why   string   // when paths is empty and yaml false: why the schema cannot see it
	}{
		"duplicate-key.yaml": {yaml: true},
		"empty-images.yaml":  {paths: []string{"/images"}},
		"empty.yaml":         {paths: []string{""}},
		"env.yaml":           {why: "environment variables are read when slipway runs"},
		"lint.yaml":          {paths: []string{"/lint/on-release", "/lint/severity/root-user", "/lint/skip/0"}, why: "a negative max-layers is checked by Load"},
		"names.yaml":         {paths: []string{"/images/0/name", "/images/1/name", "/images/4", "/images/5/name"}},
		"no-images.yaml":     {paths: []string{""}},
		"nodes.yaml":         {paths: []string{"/buildkit/nodes/0/platforms/1", "/buildkit/nodes/1", "/buildkit/nodes/2/platforms"}},
		"no-registry.yaml":   {why: "a registry may come from the top or from each image"},
		"scan.yaml":          {paths: []string{"/attest/provenance", "/attest/sbom-format", "/scan/fail-on", "/scan/scanner"}},
		"syntax.yaml":        {yaml: true},
		"unknown-field.yaml": {paths: []string{"/images/0/contxt", "/images/0/dockerfil"}},
		"values.yaml": {paths: []string{
			"/images/0/cache/from", "/images/0/platforms/0", "/images/0/secrets/0", "/images/0/secrets/1",
			"/manifests/0", "/manifests/0/pin", "/manifests/1/pullPolicy", "/manifests/1/rules/0", "/registry",
		}},
		"verify.yaml":      {paths: []string{"/verify/nodes", "/verify/platforms/1"}, why: "a registry with a scheme is checked by Load"},
		"wrong-types.yaml": {paths: []string{"/images/0/args", "/images/0/platforms", "/sign/tlog", "/tags"}},
	}
	s := loadSchema(t)
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tt, ok := tests[name]
			if !ok {
				t.Fatalf("fixture not classified here: add it to the table of %s", t.Name())
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := s.check(data)
			if tt.yaml {
				if err == nil {
					t.Fatalf("want a YAML error, got schema result %v", errs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := errorPaths(errs); !reflect.DeepEqual(got, tt.paths) {
				t.Errorf("schema reports at %q, want %q%s\n%s", got, tt.paths, ifWhy(tt.why), joinErrors(errs))
			}
		})
	}
}

func ifWhy(why string) string {
	if why == "" {
		return ""
	}
	return " (" + why + ")"
}

func joinErrors(errs []schemaError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// loads reports whether Load accepts a document.
func loads(t *testing.T, doc string, env map[string]string) (bool, error) {
	t.Helper()
	_, err := Parse("slipway.yaml", "/project", []byte(doc), testEnv(env))
	var ps *Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("Parse: want *Problems, got %v", err)
	}
	return err == nil, err
}

// TestSchemaAgreesWithLoad: documents Load accepts are valid for the
// schema, and documents Load refuses for a reason the schema can see are
// refused by the schema at the given place.
func TestSchemaAgreesWithLoad(t *testing.T) {
	const img = "registry: localhost:5000\nimages:\n  - name: web\n"
	tests := []struct {
		name string
		doc  string
		env  map[string]string
		bad  string // JSON pointer where the schema must report; "" means valid
	}{
		{name: "numbers and booleans in string maps", doc: "registry: localhost:5000\nimages:\n  - name: web\n    args: {V: 1.20, ON: true, N: 3}\n    labels: {build: 42}\nsign:\n  key: k\n  annotations: {n: 1}\n"},
		{name: "numbers as tags", doc: "registry: localhost:5000\ntags: [latest, 2, 1.5]\nimages:\n  - name: web\n"},
		{name: "numeric image name and secret id", doc: "registry: localhost:5000\nimages:\n  - name: 2048\n    secrets: [{id: 1, env: TOKEN}]\n"},
		{name: "nested name with separators", doc: "registry: localhost:5000\nimages:\n  - name: team/tools__x/a-b.c--d_e\n"},
		{name: "registry with path", doc: "registry: registry.example.com:5000/team/sub\nimages:\n  - name: web\n"},
		{name: "registry mapping", doc: "registry: {url: registry.example.com, ca_file: ca.pem, insecure: true}\nimages:\n  - name: web\n"},
		{name: "registry list", doc: "registry:\n  - localhost:5000\n  - url: mirror.example.com/team\n    ca_file: ~/ca.pem\nimages:\n  - name: web\n"},
		{name: "image registry only", doc: "images:\n  - name: web\n    registry: [localhost:5000, {url: 127.0.0.1:5001}]\n    tags: [latest]\n"},
		{name: "insecure registries", doc: "insecure_registries: [cache.internal:5000, cache.internal]\n" + img},
		{name: "version 1", doc: "version: 1\n" + img},
		{name: "buildkit", doc: "buildkit: {host: tcp://bk:1234, ca: ca.pem, cert: c.pem, key: k.pem}\n" + img},
		{name: "buildkit nodes", doc: "buildkit:\n  nodes:\n    - {host: tcp://amd:1234, platforms: [linux/amd64], ca: ca.pem, cert: c.pem, key: k.pem}\n    - {host: \"kube-pod://bk-arm\", platforms: [linux/arm64]}\n" + img + "    platforms: [linux/amd64, linux/arm64]\n"},
		{name: "variables", doc: "registry: ${REG:-localhost:5000}/team\nimages:\n  - name: ${NAME}\n    platforms: [\"${PLATFORM}\"]\n    cache: {from: \"${CACHE}\"}\n",
			env: map[string]string{"NAME": "web", "PLATFORM": "linux/amd64", "CACHE": "type=inline"}},
		{name: "platforms", doc: img + "    platforms: [linux/amd64, linux/arm/v7, windows/amd64:10.0.17763]\n"},
		{name: "cache one spec and lists", doc: img + "    cache:\n      from: type=registry,ref=localhost:5000/web:cache\n      to:\n        - type=local,dest=.cache,mode=max\n        - type=inline\n"},
		{name: "ssh", doc: img + "    ssh: [default, github, \"deploy=keys/a,keys/b\"]\n"},
		{name: "secrets", doc: img + "    secrets:\n      - {id: npmrc, src: ~/.npmrc}\n      - {id: token, env: API_TOKEN}\n"},
		{name: "manifests", doc: img + "manifests:\n  - paths: [deploy/, charts/values.yaml]\n    pin: digest\n    pullPolicy: Always\n    rules:\n      - {image: spec.image}\n      - {repository: image.repository, digest: image.digest}\n  - kustomization: k/kustomization.yaml\n"},
		{name: "sign with KMS and tlog", doc: img + "sign: {key: \"awskms:///alias/release\", repository: localhost:5000/sigs, tlog: true, rekor_url: https://rekor.example.com}\n"},

		{name: "unknown top-level key", doc: "registy: localhost:5000\nimages:\n  - name: web\n    registry: localhost:5000\n", bad: "/registy"},
		{name: "images as a mapping", doc: "registry: localhost:5000\nimages: {name: web}\n", bad: "/images"},
		{name: "version 2", doc: "version: 2\n" + img, bad: "/version"},
		{name: "version as a string", doc: "version: \"1\"\n" + img, bad: "/version"},
		{name: "uppercase name", doc: "registry: localhost:5000\nimages:\n  - name: Web\n", bad: "/images/0/name"},
		{name: "registry with a scheme", doc: "registry: [localhost:5000, \"https://r.example.com\"]\nimages:\n  - name: web\n", bad: "/registry"},
		{name: "registry with uppercase path", doc: "registry: r.example.com/Team\nimages:\n  - name: web\n", bad: "/registry"},
		{name: "registry with trailing slash", doc: "registry: r.example.com/\nimages:\n  - name: web\n", bad: "/registry"},
		{name: "registry mapping without url", doc: "registry: {ca_file: ca.pem}\nimages:\n  - name: web\n", bad: "/registry"},
		{name: "insecure not a boolean", doc: "registry: {url: r.example.com, insecure: \"yes\"}\nimages:\n  - name: web\n", bad: "/registry"},
		{name: "insecure registry with a path", doc: "insecure_registries: [r.example.com/team]\n" + img, bad: "/insecure_registries/0"},
		{name: "platform without arch", doc: img + "    platforms: [linux]\n", bad: "/images/0/platforms/0"},
		{name: "secret without src or env", doc: img + "    secrets: [{id: a}]\n", bad: "/images/0/secrets/0"},
		{name: "ssh without id", doc: img + "    ssh: [\"=keys/a\"]\n", bad: "/images/0/ssh/0"},
		{name: "unknown cache type", doc: img + "    cache: {to: type=bogus}\n", bad: "/images/0/cache/to"},
		{name: "cache spec split by a flow list", doc: img + "    cache: {from: [type=registry,ref=x]}\n", bad: "/images/0/cache/from"},
		{name: "sign without key", doc: img + "sign: {tlog: true}\n", bad: "/sign"},
		{name: "buildkit node without platforms", doc: "buildkit:\n  nodes: [{host: tcp://amd:1234}]\n" + img, bad: "/buildkit/nodes/0"},
		{name: "buildkit node without host", doc: "buildkit:\n  nodes: [{platforms: [linux/arm64]}]\n" + img, bad: "/buildkit/nodes/0"},
		{name: "rule with image and tag", doc: img + "manifests:\n  - paths: [d]\n    rules: [{image: a, tag: b}]\n", bad: "/manifests/0/rules/0"},
		{name: "rules with a kustomization", doc: img + "manifests:\n  - kustomization: k.yaml\n    rules: [{image: a}]\n", bad: "/manifests/0"},
		{name: "manifest with neither paths nor kustomization", doc: img + "manifests:\n  - pin: tag\n", bad: "/manifests/0"},
	}
	s := loadSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, loadErr := loads(t, tt.doc, tt.env)
			if ok != (tt.bad == "") {
				t.Fatalf("Load accepts: %v, want %v (%v)", ok, tt.bad == "", loadErr)
			}
			errs, err := s.check([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			got := errorPaths(errs)
			if tt.bad == "" {
				if len(errs) > 0 {
					t.Errorf("schema rejects what Load accepts:\n%s", joinErrors(errs))
				}
				return
			}
			if !reflect.DeepEqual(got, []string{tt.bad}) {
				t.Errorf("schema reports at %q, want %q\n%s", got, tt.bad, joinErrors(errs))
			}
		})
	}
}

// TestSchemaEnumsLoad: every value the schema offers for an enum or a
// cache type is one Load accepts, and one the schema itself accepts.
func TestSchemaEnumsLoad(t *testing.T) {
	s := loadSchema(t)
	defs := s.root["definitions"].(map[string]any)
	manifest := defs["manifest"].(map[string]any)["properties"].(map[string]any)
	var docs []string
	for _, field := range []string{"pin", "pullPolicy"} {
		enum := asList(manifest[field].(map[string]any)["enum"])
		if len(enum) == 0 {
			t.Fatalf("manifest.%s has no enum", field)
		}
		for _, v := range enum {
			docs = append(docs, fmt.Sprintf("registry: localhost:5000\nimages: [{name: web}]\nmanifests:\n  - paths: [d]\n    %s: %q\n", field, v))
		}
	}
	for _, v := range asList(s.root["properties"].(map[string]any)["version"].(map[string]any)["enum"]) {
		docs = append(docs, fmt.Sprintf("version: %v\nregistry: localhost:5000\nimages: [{name: web}]\n", v))
	}
	pattern := defs["cacheSpec"].(map[string]any)["pattern"].(string)
	m := regexp.MustCompile(`type=\(\?:([a-z0-9|]+)\)`).FindStringSubmatch(pattern)
	if m == nil {
		t.Fatalf("no cache type list in the cacheSpec pattern %s", pattern)
	}
	for _, typ := range strings.Split(m[1], "|") {
		docs = append(docs, fmt.Sprintf("registry: localhost:5000\nimages:\n  - name: web\n    cache: {to: \"mode=max,type=%s\"}\n", typ))
	}
	for _, doc := range docs {
		if ok, err := loads(t, doc, nil); !ok {
			t.Errorf("Load refuses a value the schema offers:\n%s%v", doc, err)
		}
		errs, err := s.check([]byte(doc))
		if err != nil || len(errs) > 0 {
			t.Errorf("schema refuses its own value:\n%s%v%s", doc, err, joinErrors(errs))
		}
	}
}
