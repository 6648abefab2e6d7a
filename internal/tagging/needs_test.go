package tagging

import "testing"

func TestTemplateNeeds(t *testing.T) {
	tests := []struct {
		templates []string
		want      Needs
	}{
		{nil, Needs{}},
		{[]string{"bench", "{{.BuildNumber}}", `{{env "X"}}`}, Needs{}},
		{[]string{"{{.Branch}}"}, Needs{Git: true}},
		{DefaultTemplates, Needs{Git: true, Dirty: true}},
		{[]string{"{{.Major}}.{{.Minor}}"}, Needs{Git: true, Dirty: true}},
		{[]string{"{{if .Dirty}}wip{{end}}"}, Needs{Git: true, Dirty: true}},
		{[]string{"{{.Describe}}"}, Needs{Git: true, Describe: true, Dirty: true}},
		{[]string{`{{default "dev" .Describe | lower}}`}, Needs{Git: true, Describe: true, Dirty: true}},
		{[]string{"{{$.Describe}}"}, Needs{Git: true, Describe: true, Dirty: true}},
		{[]string{"{{$d := .}}{{$d.Timestamp}}"}, Needs{Git: true, Dirty: true}},
		{[]string{"{{if .Branch}}{{.Branch}}{{else}}{{with .Tag}}{{.}}{{end}}{{end}}"}, Needs{Git: true, Dirty: true}},
		{[]string{"{{.Branch}}", "{{.Date}}"}, Needs{Git: true, Dirty: true}},
		{[]string{"{{ .Broken"}, Needs{Git: true, Describe: true, Dirty: true}},
	}
	for _, tt := range tests {
		if got := TemplateNeeds(tt.templates); got != tt.want {
			t.Errorf("TemplateNeeds(%q) = %+v, want %+v", tt.templates, got, tt.want)
		}
	}
}
