package tagging

import "testing"

func TestTemplateNeeds(t *testing.T) {
	tests := []struct {
		templates []string
		want      Needs
	}{
		{nil, Needs{}},
		{[]string{"bench", "{{.BuildNumber}}", `{{env "X"}}`, "{{.Branch}}"}, Needs{}},
		{DefaultTemplates, Needs{Dirty: true}},
		{[]string{"{{.Major}}.{{.Minor}}"}, Needs{Dirty: true}},
		{[]string{"{{if .Dirty}}wip{{end}}"}, Needs{Dirty: true}},
		{[]string{"{{.Describe}}"}, Needs{Describe: true, Dirty: true}},
		{[]string{`{{default "dev" .Describe | lower}}`}, Needs{Describe: true, Dirty: true}},
		{[]string{"{{$.Describe}}"}, Needs{Describe: true, Dirty: true}},
		{[]string{"{{$d := .}}{{$d.Timestamp}}"}, Needs{Dirty: true}},
		{[]string{"{{if .Branch}}{{.Branch}}{{else}}{{with .Tag}}{{.}}{{end}}{{end}}"}, Needs{Dirty: true}},
		{[]string{"{{.Branch}}", "{{.Date}}"}, Needs{Dirty: true}},
		{[]string{"{{ .Broken"}, Needs{Describe: true, Dirty: true}},
	}
	for _, tt := range tests {
		if got := TemplateNeeds(tt.templates); got != tt.want {
			t.Errorf("TemplateNeeds(%q) = %+v, want %+v", tt.templates, got, tt.want)
		}
	}
}
