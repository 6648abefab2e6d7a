package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReferences(t *testing.T) {
	src := `# a comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox
      containers:
      - name: app
        image: "reg.example.com/team/web:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        imagePullPolicy: Always
      - name: side
        image: nginx:1.27
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: "reg.example.com/job:2", imagePullPolicy: Never}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
  spec:
    containers:
    - {name: c, image: redis}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data:
  image: not-an-image:1
`
	refs, err := References("deploy.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, fmt.Sprintf("%d:%d doc%d %s %s %s %s", r.Line, r.Column, r.Document, r.Object, r.Container, r.Image, r.PullPolicy))
	}
	want := []string{
		"11:16 doc1 Deployment/web init busybox ",
		"14:16 doc1 Deployment/web app reg.example.com/team/web:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef Always",
		"17:16 doc1 Deployment/web side nginx:1.27 ",
		"27:43 doc2 CronJob/nightly job reg.example.com/job:2 Never",
		"37:24 doc3 Pod/p c redis ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if refs[0].Field != "spec.template.spec.initContainers[0].image" || refs[0].File != "deploy.yaml" {
		t.Errorf("field %q file %q", refs[0].Field, refs[0].File)
	}
}

func TestReferencesKustomizationAndRules(t *testing.T) {
	k := `images:
- name: web
  newName: reg.example.com/web
  newTag: "3"
- name: only-name
  newName: reg.example.com/x
- name: api
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`
	refs, err := References("kustomization.yaml", []byte(k), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Image != "reg.example.com/web:3" || refs[0].Line != 2 ||
		refs[1].Image != "api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("kustomization: %+v", refs)
	}
	values := `image:
  repository: reg.example.com/web
  tag: "1.0"
sidecar:
  image: nginx:1.27
`
	refs, err = References("values.yaml", []byte(values), []Rule{{Repository: "image.repository", Tag: "image.tag"}, {Image: "sidecar.image"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Image != "reg.example.com/web:1.0" || refs[0].Line != 2 || refs[1].Image != "nginx:1.27" || refs[1].Line != 5 {
		t.Errorf("values: %+v", refs)
	}
	if _, err := References("bad.yaml", []byte("a: [\n"), nil); err == nil {
		t.Error("broken YAML: want an error")
	} else if fe, ok := err.(*FileError); !ok || fe.File != "bad.yaml" {
		t.Errorf("want a *FileError, got %T %v", err, err)
	}
}

// TestReferencesFindWhatRewriteEdits: References and Rewrite find the same
// containers, in every kind.
func TestReferencesFindWhatRewriteEdits(t *testing.T) {
	for _, name := range []string{"crd-containers.yaml", "workloads.yaml", "crd-negative.yaml"} {
		src, err := os.ReadFile(filepath.Join("testdata/in", name))
		if err != nil {
			t.Fatal(err)
		}
		_, edits, err := Rewrite(name, src, goldenImages, Options{})
		if err != nil {
			t.Fatal(err)
		}
		refs, err := References(name, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, r := range refs {
			got = append(got, fmt.Sprintf("%d:%d %s %s", r.Line, r.Column, r.Object, r.Field))
		}
		for _, e := range edits {
			want = append(want, fmt.Sprintf("%d:%d %s %s", e.Line, e.Column, e.Object, e.Field))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: References found\n%s\nRewrite edited\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
