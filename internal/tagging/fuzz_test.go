package tagging

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzRender checks that no template text makes Render panic or run away,
// and that what it returns keeps its promises.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"{{.ShortCommit}}", "{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.Branch}}-{{.ShortCommit}}",
		`{{default "dev" .Version}}`, `{{if .Tag}}release{{else}}snapshot{{end}}`, `{{with .Version}}v{{.}}{{end}}`,
		`{{env "HOME" | lower | replace "/" "-" | trunc 10}}`, `{{printf "%s-%d" .Date 7}}`, `{{trunc -3 .Commit}}`,
		`{{range 1000000000000}}{{end}}`, `{{define "a"}}{{template "a"}}{{template "a"}}{{end}}{{template "a"}}`,
		`{{replace "" "0123456789" (replace "" "0123456789" (replace "" "0123456789" .Commit))}}`,
		`{{printf "%0255d%0255d%0255d%0255d%0255d" 1 2 3 4 5}}`, `{{printf "%*d" 1000000 1}}`, `{{.}}`, `{{printf "%v" .}}`,
		`{{slice .Commit 0 1000}}`, `{{index .Commit 3}}`, `{{len .Tag}}`, `{{.Dirty}}`, `{{if eq .Tag ""}}x{{end}}`,
		"{{.Commit", "{{/* c */}}", "{{- .Version -}}", "", " ", "a/b", strings.Repeat("x", 200),
	} {
		f.Add(seed, false, true)
		f.Add(seed, true, true)
		f.Add(seed, false, false)
	}
	getenv := envMap("HOME", "/root", "DEPLOY_ENV", "staging")
	f.Fuzz(func(t *testing.T, text string, isDirty, inRepo bool) {
		facts := untagged
		if isDirty {
			facts = dirty
		}
		if !inRepo {
			facts = noRepo
		}
		tags, warnings, err := Render([]string{text, text}, facts, getenv)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) || te.Template != text {
				t.Fatalf("error %v is not a *TemplateError naming the template", err)
			}
			if tags != nil || warnings != nil {
				t.Fatalf("tags %q and warnings %q returned with an error", tags, warnings)
			}
			return
		}
		switch {
		case len(tags) == 1 && len(warnings) == 0:
			if err := checkTag(tags[0]); err != nil {
				t.Fatalf("tag %q: %v", tags[0], err)
			}
		case len(tags) == 0 && len(warnings) == 2:
		default:
			t.Fatalf("the same template twice gave tags %q and warnings %q", tags, warnings)
		}
		again, againWarnings, err := Render([]string{text}, facts, getenv)
		if err != nil || !reflect.DeepEqual(again, tags) || len(againWarnings) != len(warnings)/2 {
			t.Fatalf("not deterministic: %q %q, then %q %q %v", tags, warnings, again, againWarnings, err)
		}
	})
}

// FuzzSafeTag checks that SafeTag always returns a valid tag or "".
func FuzzSafeTag(f *testing.F) {
	for _, seed := range []string{"feature/x", "..a", "日本", "", strings.Repeat("/a", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeTag(s)
		if got != "" && checkTag(got) != nil {
			t.Fatalf("SafeTag(%q) = %q: %v", s, got, checkTag(got))
		}
		if SafeTag(got) != got {
			t.Fatalf("SafeTag is not idempotent on %q", got)
		}
	})
}
