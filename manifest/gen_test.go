package manifest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"
)

// gen writes manifests the way people do, in many styles, steered by a
// stream of bytes (from the fuzzer, or a fixed generator).
type gen struct {
	data []byte
	b    strings.Builder
	n    int // anchors defined
}

func (g *gen) pick(n int) int {
	if len(g.data) == 0 || n <= 1 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return int(c) % n
}

func (g *gen) chance() bool { return g.pick(3) == 0 }

var genRefs = []string{
	"nginx", "nginx:1.25", "docker.io/library/nginx:1.25-alpine", "index.docker.io/library/nginx@" + digestOld,
	"nginx:1.25@" + digestOld, "registry.example.com:5000/team/web:2.3.1", "registry.example.com:5000/team/web",
	"ghcr.io/acme/worker:v0.8.0", "ghcr.io/acme/worker:v0.9.1", "registry.example.com:5000/team/migrate:1",
	"quay.io/prometheus/node-exporter:v1.7.0", "bitnami/nginx:1.25", "busybox:1.36", "${IMAGE}", "mynginx",
	"registry.example.com:5001/team/web:2.3.1", "bitnami/redis:7.2",
}

var genNames = []string{"web", "proxy", "café", "初期化", "😀-side", "migrate", "w"}

func (g *gen) scalar(v string, inFlow bool) string {
	switch g.pick(4) {
	case 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case 1:
		return `"` + v + `"`
	}
	if !plainSafe(v, inFlow) {
		return `"` + v + `"`
	}
	return v
}

func (g *gen) comment() string {
	switch g.pick(5) {
	case 0:
		return " # bumped by CI"
	case 1:
		return " # é ☕ nginx:1.25"
	}
	return ""
}

func (g *gen) line(indent int, s string) {
	g.b.WriteString(strings.Repeat(" ", indent) + s + "\n")
}

// container writes one container as an item of a sequence at indent.
func (g *gen) container(indent int) {
	ref := genRefs[g.pick(len(genRefs))]
	nm := genNames[g.pick(len(genNames))]
	image := g.scalar(ref, false)
	if g.chance() {
		g.n++
		image = fmt.Sprintf("&img%d %s", g.n, image)
	} else if g.n > 0 && g.chance() {
		image = fmt.Sprintf("*img%d", 1+g.pick(g.n))
	}
	switch g.pick(4) {
	case 0: // flow, one line
		if strings.HasPrefix(image, "&") || strings.HasPrefix(image, "*") {
			if image[0] == '&' {
				g.n--
			}
			image = g.scalar(ref, true)
		} else if image[0] != '\'' && image[0] != '"' && !plainSafe(ref, true) {
			image = `"` + ref + `"`
		}
		extra := ""
		if g.chance() {
			extra = ", imagePullPolicy: IfNotPresent"
		}
		g.line(indent, fmt.Sprintf("- {name: %s, image: %s%s}%s", g.scalar(nm, true), image, extra, g.comment()))
		return
	case 1: // image first
		g.line(indent, "- image: "+image+g.comment())
		g.line(indent+2, "name: "+g.scalar(nm, false))
	default:
		g.line(indent, "- name: "+g.scalar(nm, false)+g.comment())
		if g.chance() {
			g.line(indent+2, "# the image is set by the pipeline")
		}
		if g.chance() {
			g.line(indent+2, "image:")
			g.line(indent+4, image+g.comment())
		} else {
			g.line(indent+2, "image: "+image+g.comment())
		}
	}
	if g.chance() {
		g.line(indent+2, "imagePullPolicy: "+[]string{"Always", "IfNotPresent", "'Never'"}[g.pick(3)])
	}
	switch g.pick(4) {
	case 0:
		g.line(indent+2, `args: ["--image", "`+ref+`"]`)
	case 1:
		g.line(indent+2, "command:")
		g.line(indent+2, "- sh")
		g.line(indent+2, "- |")
		g.line(indent+4, "echo image: "+ref)
	case 2:
		g.line(indent+2, "resources: {limits: {memory: 64Mi}}")
	}
}

func (g *gen) podSpec(indent int) {
	for _, field := range []string{"initContainers", "containers"} {
		if field == "initContainers" && !g.chance() {
			continue
		}
		g.line(indent, field+":")
		seq := indent
		if g.chance() {
			seq = indent + 2
		}
		for range 1 + g.pick(3) {
			g.container(seq)
		}
	}
}

func (g *gen) document(path string) {
	switch {
	case strings.HasPrefix(path, "kustomization"):
		g.line(0, "resources: [../base]")
		g.line(0, "images:")
		for range 1 + g.pick(4) {
			flow := g.chance()
			repo := repoSpelling(genRefs[g.pick(len(genRefs))])
			fields := []string{"name: " + g.scalar(repo, flow)}
			if g.chance() {
				fields = append(fields, "newName: "+g.scalar(repoSpelling(genRefs[g.pick(len(genRefs))]), flow))
			}
			if !g.chance() {
				fields = append(fields, "newTag: "+g.scalar([]string{"1.25", "v1", "2.3.1"}[g.pick(3)], flow))
			}
			if g.chance() {
				fields = append(fields, "digest: "+g.scalar(digestOld, flow))
			}
			if g.chance() {
				fields[0], fields[len(fields)-1] = fields[len(fields)-1], fields[0]
			}
			if flow {
				g.line(2, "- {"+strings.Join(fields, ", ")+"}"+g.comment())
				continue
			}
			for i, f := range fields {
				prefix := "  "
				if i == 0 {
					prefix = "- "
				}
				g.line(2, prefix+f+g.comment())
			}
		}
	case strings.HasPrefix(path, "values"):
		g.line(0, "replicaCount: 2")
		g.line(0, "image:")
		g.line(2, "repository: "+g.scalar(repoSpelling(genRefs[g.pick(len(genRefs))]), false)+g.comment())
		switch g.pick(3) {
		case 0:
			g.line(2, "tag: "+g.scalar("1.25", false)+g.comment())
		case 1:
			g.line(2, "tag:"+g.comment())
		}
		if g.chance() {
			g.line(2, "digest: \"\"")
		}
		g.line(0, "spec:")
		g.line(2, "components:")
		for range g.pick(3) {
			g.line(2, "- image: "+g.scalar(genRefs[g.pick(len(genRefs))], false))
		}
	default:
		kind := []string{"Deployment", "CronJob", "Pod", "List", "StatefulSet"}[g.pick(5)]
		g.line(0, "apiVersion: apps/v1")
		g.line(0, "kind: "+kind)
		g.line(0, "metadata:")
		g.line(2, "name: "+genNames[g.pick(len(genNames))])
		switch kind {
		case "Pod":
			g.line(0, "spec:")
			g.podSpec(2)
		case "CronJob":
			g.line(0, "spec:")
			g.line(2, "jobTemplate:")
			g.line(4, "spec:")
			g.line(6, "template:")
			g.line(8, "spec:")
			g.podSpec(10)
		case "List":
			g.line(0, "items:")
			g.line(0, "- apiVersion: v1")
			g.line(2, "kind: Pod")
			g.line(2, "spec:")
			g.podSpec(4)
		default:
			g.line(0, "spec:")
			g.line(2, "template:")
			g.line(4, "spec:")
			g.podSpec(6)
		}
	}
}

func (g *gen) file(path string) []byte {
	g.b.Reset()
	g.n = 0
	if g.chance() {
		g.line(0, "# generated test manifest")
	}
	for i := range 1 + g.pick(3) {
		if i > 0 || g.chance() {
			g.line(0, "---")
		}
		g.n = 0
		g.document(path)
	}
	out := []byte(g.b.String())
	if g.pick(5) == 0 {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	if g.pick(8) == 0 {
		out = append([]byte(bom), out...)
	}
	return out
}

// expectCurrent checks, with yaml.v3 alone, that every container image of
// the generated Kubernetes documents that names one of fuzzImages was
// bumped.
func expectCurrent(t *testing.T, out []byte, pin Pin) {
	t.Helper()
	docs, err := parseAll(out, false)
	if err != nil {
		t.Fatal(err)
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				v := n.Content[i+1]
				for v.Kind == yaml.AliasNode {
					v = v.Alias
				}
				return v
			}
		}
		return nil
	}
	var specs []*yaml.Node
	for _, d := range docs {
		root := d.Content[0]
		switch get(root, "kind").Value {
		case "Pod":
			specs = append(specs, get(root, "spec"))
		case "CronJob":
			specs = append(specs, get(get(get(get(get(root, "spec"), "jobTemplate"), "spec"), "template"), "spec"))
		case "List":
			specs = append(specs, get(get(root, "items").Content[0], "spec"))
		case "Deployment", "StatefulSet":
			specs = append(specs, get(get(get(root, "spec"), "template"), "spec"))
		}
	}
	for _, spec := range specs {
		for _, field := range []string{"initContainers", "containers"} {
			list := get(spec, field)
			if list == nil {
				continue
			}
			for _, c := range list.Content {
				img := get(c, "image")
				r, err := name.ParseReference(img.Value, name.WeakValidation)
				if err != nil {
					continue
				}
				for _, want := range fuzzImages {
					match := want.Match
					if match == "" {
						match = want.Repository
					}
					m, _ := name.NewRepository(match, name.WeakValidation)
					if r.Context().Name() != m.Name() {
						continue
					}
					tag, dig := want.Tag, want.Digest
					switch {
					case pin == PinTag && tag != "":
						dig = ""
					case pin == PinDigest:
						tag = ""
					}
					suffix := ""
					if tag != "" {
						suffix += ":" + tag
					}
					if dig != "" {
						suffix += "@" + dig
					}
					if want.Match != "" && want.Match != want.Repository || !strings.HasSuffix(img.Value, suffix) {
						t.Fatalf("line %d: image %q not bumped to %s%s\n%s", img.Line, img.Value, want.Repository, suffix, out)
					}
				}
			}
		}
	}
}

func genCase(t *testing.T, data []byte, mode uint8) {
	path, opts := fuzzSetup(mode)
	path = strings.Replace(path, "deploy.json", "deploy.yaml", 1)
	g := &gen{data: data}
	in := g.file(path)
	out := checkRewrite(t, path, in, opts)
	if out == nil {
		_, _, err := Rewrite(path, in, fuzzImages, opts)
		if err == nil {
			t.Fatalf("generated input does not parse:\n%s", in)
		}
		// A digest pin of an image that has no digest is refused; so is a
		// block scalar image, which the generator does not write.
		if !strings.Contains(err.Error(), "no digest known") && !strings.Contains(err.Error(), "no tag field") && !strings.Contains(err.Error(), "no digest field") {
			t.Fatalf("Rewrite refused a generated file: %v\n%s", err, in)
		}
		return
	}
	if path == "deploy.yaml" {
		expectCurrent(t, out, opts.Pin)
	}
}

// TestRewriteGenerated runs the fuzz oracle over manifests written in many
// styles, and checks that every image that should be bumped was.
func TestRewriteGenerated(t *testing.T) {
	seed := uint32(7)
	data := make([]byte, 400)
	for i := range 3000 {
		for j := range data {
			seed = seed*1664525 + 1013904223
			data[j] = byte(seed >> 24)
		}
		mode := uint8(i)
		t.Run(fmt.Sprint(i), func(t *testing.T) { genCase(t, data, mode) })
		if t.Failed() {
			return
		}
	}
}

// FuzzRewriteGenerated lets the fuzzer steer the manifest generator.
func FuzzRewriteGenerated(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, uint8(0))
	f.Add([]byte("generated manifests in many styles"), uint8(16))
	f.Fuzz(genCase)
}
