package manifest

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDiscoverSkipsChartTemplates(t *testing.T) {
	dir := t.TempDir()
	p := func(s string) string { return filepath.Join(dir, s) }
	tmpl := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n"
	for f, body := range map[string]string{
		"deploy/web.yaml":                          deployWeb,
		"deploy/charts/x/Chart.yaml":               "apiVersion: v2\nname: x\nversion: 0.1.0\n",
		"deploy/charts/x/values.yaml":              "image:\n  repository: nginx\n  tag: \"1\"\n",
		"deploy/charts/x/templates/deploy.yaml":    tmpl,
		"deploy/charts/x/templates/sub/svc.yaml":   tmpl,
		"deploy/charts/x/charts/y/Chart.yaml":      "apiVersion: v2\nname: y\nversion: 0.1.0\n",
		"deploy/charts/x/charts/y/templates/a.yml": tmpl,
		// A templates folder that is not a chart's stays a manifest folder.
		"deploy/templates/job.yaml": deployWeb,
	} {
		write(t, p(f), body, 0o644)
	}
	got, err := Discover(Source{Paths: []string{p("deploy")}, Options: Options{Pin: PinTag}})
	if err != nil {
		t.Fatal(err)
	}
	want := Target{
		Files: []string{
			p("deploy/charts/x/Chart.yaml"), p("deploy/charts/x/charts/y/Chart.yaml"),
			p("deploy/charts/x/values.yaml"), p("deploy/templates/job.yaml"), p("deploy/web.yaml"),
		},
		Options: Options{Pin: PinTag},
		Skipped: []string{p("deploy/charts/x/charts/y/templates"), p("deploy/charts/x/templates")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%+v\nwant\n%+v", got, want)
	}
	// Files is the same walk.
	files, err := Files([]string{p("deploy")})
	if err != nil || !reflect.DeepEqual(files, want.Files) {
		t.Errorf("Files = %q, %v", files, err)
	}

	// Named, a template (or its folder, or a glob over it) is refused.
	for _, named := range []string{
		p("deploy/charts/x/templates/deploy.yaml"), p("deploy/charts/x/templates"),
		p("deploy/charts/x/templates/sub/svc.yaml"), p("deploy/charts/x/templates/*.yaml"),
	} {
		_, err := Discover(Source{Paths: []string{named}})
		var fe *FileError
		if !errors.Is(err, ErrChartTemplate) || !errors.As(err, &fe) || fe.Line != 0 {
			t.Errorf("Discover(%s): err = %v, want ErrChartTemplate naming the file", named, err)
		}
	}

	// A kustomization is taken alone.
	k, err := Discover(Source{Kustomization: p("deploy/./kustomization.yaml"), Paths: []string{p("deploy")}})
	if err != nil || !reflect.DeepEqual(k.Files, []string{p("deploy/kustomization.yaml")}) {
		t.Errorf("Discover(kustomization) = %+v, %v", k, err)
	}
}
