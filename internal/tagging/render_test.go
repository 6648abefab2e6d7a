package tagging

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Facts for Render tests, each a variation of released.
var (
	released = Facts{
		Commit: "0123456789abcdef0123456789abcdef01234567", ShortCommit: "0123456",
		Branch: "feature-x", Tag: "v1.2.3", Version: "1.2.3", Major: "1", Minor: "2", Patch: "3",
		Describe: "v1.2.3", Date: "20240102", Timestamp: "1704164645", BuildNumber: "42", InRepo: true,
	}
	prerelease = with(released, func(f *Facts) {
		f.Tag, f.Version, f.Major, f.Minor, f.Patch, f.Prerelease, f.Describe = "v2.0.0-rc.1", "2.0.0-rc.1", "2", "0", "0", "rc.1", "v2.0.0-rc.1"
	})
	untagged = with(released, func(f *Facts) {
		f.Tag, f.Version, f.Major, f.Minor, f.Patch, f.Describe = "", "", "", "", "", "v1.2.3-4-g0123456"
	})
	nonSemver = with(untagged, func(f *Facts) { f.Tag = "nightly" })
	dirty     = with(released, func(f *Facts) { f.Dirty = true })
	detached  = with(released, func(f *Facts) { f.Branch, f.BuildNumber = "", "" })
	upper     = with(released, func(f *Facts) { f.Branch = "Feature-X" })
	noRepo    = Facts{BuildNumber: "42"}
	noCommit  = Facts{InRepo: true}
)

func with(f Facts, change func(*Facts)) Facts {
	change(&f)
	return f
}

func TestRender(t *testing.T) {
	env := envMap("DEPLOY_ENV", "staging", "SECRET", "hunter2 s3cret", "SLASHED", "a/b")
	tests := []struct {
		name      string
		facts     Facts
		templates []string
		want      []string
		warnings  []string
	}{
		{
			name:  "every fact",
			facts: released,
			templates: []string{"{{.Commit}}", "{{.ShortCommit}}", "{{.Branch}}", "{{.Tag}}", "{{.Version}}",
				"m{{.Major}}", "n{{.Minor}}", "p{{.Patch}}", "x{{.Prerelease}}", "d-{{.Describe}}",
				"{{.Date}}", "{{.Timestamp}}", "b{{.BuildNumber}}", "{{.Dirty}}"},
			want: []string{"0123456789abcdef0123456789abcdef01234567", "0123456", "feature-x", "v1.2.3", "1.2.3",
				"m1", "n2", "p3", "x", "d-v1.2.3", "20240102", "1704164645", "b42", "false"},
		},
		{
			name:      "prerelease",
			facts:     prerelease,
			templates: []string{"{{.Version}}", "{{.Prerelease}}", "{{.Major}}.{{.Minor}}.{{.Patch}}"},
			want:      []string{"2.0.0-rc.1", "rc.1", "2.0.0"},
		},
		{
			name:      "design example on a release",
			facts:     released,
			templates: []string{"{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.ShortCommit}}"},
			want:      []string{"1.2.3", "1.2", "0123456"},
		},
		{
			name:      "design example on an untagged commit drops the version tags",
			facts:     untagged,
			templates: []string{"{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.ShortCommit}}", "{{.Version}}-alpine", "v{{.Major}}", "{{.Tag}}"},
			want:      []string{"0123456"},
			warnings: []string{
				`tag template "{{.Version}}" skipped: HEAD has no semantic version tag`,
				`tag template "{{.Major}}.{{.Minor}}" skipped: HEAD has no semantic version tag`,
				`tag template "{{.Version}}-alpine" skipped: HEAD has no semantic version tag`,
				`tag template "v{{.Major}}" skipped: HEAD has no semantic version tag`,
				`tag template "{{.Tag}}" skipped: HEAD has no git tag`,
			},
		},
		{
			name:      "a tag that is not semver has no version",
			facts:     nonSemver,
			templates: []string{"{{.Tag}}", "{{.Version}}", "x{{.Prerelease}}"},
			want:      []string{"nightly"},
			warnings: []string{
				`tag template "{{.Version}}" skipped: HEAD has no semantic version tag`,
				`tag template "x{{.Prerelease}}" skipped: HEAD has no semantic version tag`,
			},
		},
		{
			name:  "unset facts in conditions and defaults",
			facts: untagged,
			templates: []string{`{{default "dev" .Version}}`, `{{.Version | default "edge"}}`,
				`{{if .Tag}}release{{else}}snapshot{{end}}`, `{{with .Version}}v{{.}}{{else}}none{{end}}`,
				`{{default .ShortCommit .Tag}}`},
			want: []string{"dev", "edge", "snapshot", "none", "0123456"},
		},
		{
			name:      "with on a set fact",
			facts:     released,
			templates: []string{`{{with .Version}}v{{.}}{{end}}`, `{{default "dev" .Version}}`},
			want:      []string{"v1.2.3", "1.2.3"},
		},
		{
			name:      "detached HEAD without CI variables",
			facts:     detached,
			templates: []string{"{{.Branch}}-{{.ShortCommit}}", "build-{{.BuildNumber}}", `{{default "main" .Branch}}`},
			want:      []string{"main"},
			warnings: []string{
				`tag template "{{.Branch}}-{{.ShortCommit}}" skipped: HEAD is detached and no CI branch variable is set`,
				`tag template "build-{{.BuildNumber}}" skipped: no CI build number (GITHUB_RUN_NUMBER, CI_PIPELINE_IID, BUILD_NUMBER) is set`,
			},
		},
		{
			name:  "functions",
			facts: upper,
			templates: []string{`{{env "DEPLOY_ENV"}}`, `{{lower .Branch}}`, `{{replace "." "-" .Version}}`,
				`{{trunc 4 .Commit}}`, `{{trunc -4 .Commit}}`, `{{.Commit | trunc 10}}`, `{{trunc 99 .ShortCommit}}x`,
				`{{printf "%s-%s" .Version .ShortCommit}}`, `{{.Branch | lower | replace "-" "_"}}`,
				`{{default "none" (env "UNSET")}}`, `{{env "DEPLOY_ENV" | lower | trunc 4}}`,
				`{{if eq .Major "1"}}one{{end}}`, `{{len .Commit}}`, `{{slice .Commit 0 3}}`},
			want: []string{"staging", "feature-x", "1-2-3", "0123", "4567", "0123456789", "0123456x",
				"1.2.3-0123456", "feature_x", "none", "stag", "one", "40", "012"},
		},
		{
			name:      "unset values pass through functions",
			facts:     untagged,
			templates: []string{`{{lower .Version}}`, `{{replace "." "-" .Version}}-x`, `{{trunc 3 .Tag}}`, `{{printf "v%s" .Version}}`, `{{env "UNSET"}}`},
			warnings: []string{
				`tag template "{{lower .Version}}" skipped: HEAD has no semantic version tag`,
				`tag template "{{replace \".\" \"-\" .Version}}-x" skipped: HEAD has no semantic version tag`,
				`tag template "{{trunc 3 .Tag}}" skipped: HEAD has no git tag`,
				`tag template "{{printf \"v%s\" .Version}}" skipped: HEAD has no semantic version tag`,
				`tag template "{{env \"UNSET\"}}" skipped: $UNSET is not set`,
			},
		},
		{
			name:      "empty output is dropped with a warning",
			facts:     released,
			templates: []string{"{{if false}}x{{end}}", "  ", "", "{{trunc 0 .Commit}}", "latest"},
			want:      []string{"latest"},
			warnings: []string{
				`tag template "{{if false}}x{{end}}" skipped: it rendered empty`,
				`tag template "  " skipped: it rendered empty`,
				`tag template "" skipped: it rendered empty`,
				`tag template "{{trunc 0 .Commit}}" skipped: it rendered empty`,
			},
		},
		{
			name:      "surrounding space is trimmed",
			facts:     released,
			templates: []string{" {{.Version}}\n"},
			want:      []string{"1.2.3"},
		},
		{
			name:      "duplicates removed, order kept",
			facts:     released,
			templates: []string{"b", "{{.ShortCommit}}", "a", "{{trunc 7 .Commit}}", "b", "{{.Major}}"},
			want:      []string{"b", "0123456", "a", "1"},
		},
		{
			name:  "dirty tree marks commit-derived tags",
			facts: dirty,
			templates: []string{"{{.ShortCommit}}", "{{.Commit}}", "{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.Describe}}",
				"{{.Tag}}", "{{.Date}}", "{{.Timestamp}}", "{{.Branch}}", "{{.BuildNumber}}", "latest", `{{env "DEPLOY_ENV"}}`,
				"{{if .Tag}}release{{else}}dev{{end}}", "{{.ShortCommit}}{{if .Dirty}}-wip{{end}}", "{{.Branch}}-{{.ShortCommit}}"},
			want: []string{"0123456-dirty", "0123456789abcdef0123456789abcdef01234567-dirty", "1.2.3-dirty", "1.2-dirty",
				"v1.2.3-dirty", "20240102-dirty", "1704164645-dirty", "feature-x", "42", "latest", "staging",
				"release-dirty", "0123456-wip", "feature-x-0123456-dirty"},
		},
		{
			name:      "no git needed outside a repository",
			facts:     noRepo,
			templates: []string{"latest", "{{.BuildNumber}}", `{{env "DEPLOY_ENV"}}`},
			want:      []string{"latest", "42", "staging"},
		},
		{
			name:      "nil input",
			facts:     released,
			templates: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := Render(tt.templates, tt.facts, env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tags:\n got %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", warnings, tt.warnings)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	env := envMap("SECRET", "hunter2 s3cret")
	long := strings.Repeat("{{.Commit}}", 4)
	tests := []struct {
		name     string
		facts    Facts
		template string
		want     string // the whole message
		not      string // must not appear
		is       error
	}{
		{name: "slash", facts: released, template: "{{.Version}}/x",
			want: `tag template "{{.Version}}/x": rendered "1.2.3/x", which is not a valid tag: character '/' at position 6 is not allowed in a tag (only A-Z a-z 0-9 _ . -)`},
		{name: "leading dot", facts: released, template: ".{{.Major}}",
			want: `tag template ".{{.Major}}": rendered ".1", which is not a valid tag: a tag must start with a letter, digit or _, not '.'`},
		{name: "too long", facts: released, template: long,
			want: `tag template "` + long + `": rendered "` + strings.Repeat(released.Commit, 4) + `", which is not a valid tag: a tag has at most 128 characters, this one has 160`},
		{name: "dirty suffix past 128", facts: dirty, template: "{{.Commit}}{{.Commit}}{{.Commit}}xyz",
			want: `tag template "{{.Commit}}{{.Commit}}{{.Commit}}xyz": rendered "` + strings.Repeat(released.Commit, 3) + `xyz-dirty", which is not a valid tag: a tag has at most 128 characters, this one has 129`},
		{name: "env value is never shown", facts: released, template: `v-{{env "SECRET"}}`, not: "hunter2",
			want: `tag template "v-{{env \"SECRET\"}}": rendered value is not a valid tag: character ' ' at position 10 is not allowed in a tag (only A-Z a-z 0-9 _ . -)`},
		{name: "parse error", facts: released, template: "{{.Commit",
			want: `tag template "{{.Commit": line 1: unclosed action`},
		{name: "unknown fact", facts: released, template: "{{.Nope}}",
			want: `tag template "{{.Nope}}": line 1:2: executing "tag" at <.Nope>: can't evaluate field Nope in type tagging.view`},
		{name: "unknown function", facts: released, template: "{{upper .Branch}}",
			want: `tag template "{{upper .Branch}}": line 1: function "upper" not defined`},
		{name: "refused builtin", facts: released, template: "{{html .Branch}}",
			want: `tag template "{{html .Branch}}": function "html" is not available in tag templates`},
		{name: "range", facts: released, template: "{{range 1000000000000}}{{end}}",
			want: `tag template "{{range 1000000000000}}{{end}}": range is not supported in tag templates`},
		{name: "define", facts: released, template: `{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`,
			want: `tag template "{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}": define and block are not supported in tag templates`},
		{name: "output too long", facts: released, template: strings.Repeat(`{{printf "%200s" "x"}}`, 6),
			want: `tag template "` + strings.Repeat(`{{printf \"%200s\" \"x\"}}`, 6) + `": renders more than 1024 bytes`},
		{name: "printf width", facts: released, template: `{{printf "%999999d" 1}}`,
			want: `tag template "{{printf \"%999999d\" 1}}": line 1:2: executing "tag" at <printf "%999999d" 1>: error calling printf: printf: width and precision must be below 256`},
		{name: "printf star", facts: released, template: `{{printf "%*d" 100000 1}}`,
			want: `tag template "{{printf \"%*d\" 100000 1}}": line 1:2: executing "tag" at <printf "%*d" 100000 1>: error calling printf: printf: '*' and explicit argument indexes are not supported`},
		{name: "replace blow-up", facts: released, template: `{{replace "" "0123456789" (replace "" "0123456789" .Commit)}}`,
			want: `tag template "{{replace \"\" \"0123456789\" (replace \"\" \"0123456789\" .Commit)}}": renders more than 1024 bytes`},
		{name: "the dot", facts: released, template: "v{{.}}",
			want: `tag template "v{{.}}": {{.}} is the set of facts, not a value; print one fact, such as {{.ShortCommit}}`},
		{name: "the dot in printf", facts: released, template: `{{printf "%v" .}}`,
			want: `tag template "{{printf \"%v\" .}}": {{.}} is the set of facts, not a value; print one fact, such as {{.ShortCommit}}`},
		{name: "git fact outside a repository", facts: noRepo, template: "{{.ShortCommit}}", is: ErrNotRepository,
			want: `tag template "{{.ShortCommit}}": .ShortCommit needs git facts: not inside a git work tree`},
		{name: "git fact in a condition outside a repository", facts: noRepo, template: "{{if .Dirty}}x{{end}}y", is: ErrNotRepository,
			want: `tag template "{{if .Dirty}}x{{end}}y": .Dirty needs git facts: not inside a git work tree`},
		{name: "branch outside a repository", facts: noRepo, template: `{{default "main" .Branch}}`, is: ErrNotRepository,
			want: `tag template "{{default \"main\" .Branch}}": .Branch needs git facts: not inside a git work tree`},
		{name: "repository without commits", facts: noCommit, template: "{{.Version}}",
			want: `tag template "{{.Version}}": .Version needs git facts, but the repository has no commits yet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tags, warnings, err := Render([]string{"ok", tt.template}, tt.facts, env)
			if err == nil {
				t.Fatalf("no error; tags %q, warnings %q", tags, warnings)
			}
			if tags != nil || warnings != nil {
				t.Errorf("got tags %q and warnings %q with an error", tags, warnings)
			}
			var te *TemplateError
			if !errors.As(err, &te) || te.Index != 1 || te.Template != tt.template {
				t.Errorf("got %#v, want a *TemplateError for template 1", err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("message:\n got %s\nwant %s", err, tt.want)
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("message %q shows %q", err, tt.not)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestRenderReportsEveryBadTemplate(t *testing.T) {
	_, _, err := Render([]string{"{{.Nope}}", "fine", "a/b", "{{.Version}}"}, untagged, envMap())
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("got %v, want joined errors", err)
	}
	var got []int
	for _, e := range joined.Unwrap() {
		var te *TemplateError
		if !errors.As(e, &te) {
			t.Fatalf("%v is not a *TemplateError", e)
		}
		got = append(got, te.Index)
	}
	if !reflect.DeepEqual(got, []int{0, 2}) {
		t.Errorf("failing templates %v, want [0 2]", got)
	}
}

func TestRenderNilGetenvUsesTheEnvironment(t *testing.T) {
	t.Setenv("SLIPWAY_TAGGING_TEST", "from-env")
	tags, _, err := Render([]string{`{{env "SLIPWAY_TAGGING_TEST"}}`}, Facts{}, nil)
	if err != nil || !reflect.DeepEqual(tags, []string{"from-env"}) {
		t.Fatalf("got %q, %v", tags, err)
	}
}

func TestDefaultTemplates(t *testing.T) {
	tags, warnings, err := Render(DefaultTemplates, released, envMap())
	if err != nil || len(warnings) != 0 || !reflect.DeepEqual(tags, []string{"0123456"}) {
		t.Fatalf("got %q, %q, %v; want the short commit", tags, warnings, err)
	}
}

func TestSafeTag(t *testing.T) {
	tests := []struct{ in, want string }{
		{"main", "main"},
		{"feature/x", "feature-x"},
		{"Feature/X_1.2", "Feature-X_1.2"},
		{"user/name/fix#12", "user-name-fix-12"},
		{"dependabot/npm_and_yarn/lodash-4.17.21", "dependabot-npm_and_yarn-lodash-4.17.21"},
		{"a b\tc", "a-b-c"},
		{"café", "caf-"},
		{"/leading", "leading"},
		{"..hidden", "hidden"},
		{"-x", "x"},
		{"_x", "_x"},
		{"日本/x", "x"},
		{"--", ""},
		{"", ""},
		{"a\x00b\xffc", "a-b-c"},
		{strings.Repeat("a", 200), strings.Repeat("a", 128)},
		{"/" + strings.Repeat("b", 130), strings.Repeat("b", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := SafeTag(tt.in)
			if got != tt.want {
				t.Errorf("SafeTag(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got != "" && checkTag(got) != nil {
				t.Errorf("SafeTag(%q) = %q is not a valid tag: %v", tt.in, got, checkTag(got))
			}
		})
	}
}

func TestSemver(t *testing.T) {
	parse := []struct {
		tag                               string
		ok                                bool
		version, major, minor, patch, pre string
	}{
		{"v1.2.3", true, "1.2.3", "1", "2", "3", ""},
		{"1.2.3", true, "1.2.3", "1", "2", "3", ""},
		{"v2.0.0-rc.1", true, "2.0.0-rc.1", "2", "0", "0", "rc.1"},
		{"v1.0.0-alpha+build.5", true, "1.0.0-alpha+build.5", "1", "0", "0", "alpha"},
		{"v10.20.30", true, "10.20.30", "10", "20", "30", ""},
		{"v1.2", false, "", "", "", "", ""},
		{"v01.2.3", false, "", "", "", "", ""},
		{"V1.2.3", false, "", "", "", "", ""},
		{"vv1.2.3", false, "", "", "", "", ""},
		{"1.2.3-", false, "", "", "", "", ""},
		{"1.2.3-01", false, "", "", "", "", ""},
		{"nightly", false, "", "", "", "", ""},
	}
	for _, tt := range parse {
		v, ok := parseSemver(tt.tag)
		if ok != tt.ok || v.version != tt.version || v.major != tt.major || v.minor != tt.minor || v.patch != tt.patch || v.pre != tt.pre {
			t.Errorf("parseSemver(%q) = %+v, %v", tt.tag, v, ok)
		}
	}
	// Ascending order, from semver.org's precedence example and beyond.
	ordered := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0-rc.1", "2.0.0", "100000000000000000000.0.0"}
	for i, a := range ordered {
		for j, b := range ordered {
			va, _ := parseSemver(a)
			vb, _ := parseSemver(b)
			if got, want := compareSemver(va, vb), compareInt(i, j); got != want {
				t.Errorf("compareSemver(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	picks := []struct {
		tags []string
		want string
	}{
		{nil, ""},
		{[]string{"nightly"}, "nightly"},
		{[]string{"a", "b"}, "a"},
		{[]string{"nightly", "v1.9.0", "v2.0.0-rc.1"}, "v2.0.0-rc.1"},
		{[]string{"v2.0.0", "v2.0.0-rc.1"}, "v2.0.0"},
		{[]string{"latest", "v1.2.3"}, "v1.2.3"},
	}
	for _, tt := range picks {
		if got, _, _ := pickTag(tt.tags); got != tt.want {
			t.Errorf("pickTag(%q) = %q, want %q", tt.tags, got, tt.want)
		}
	}
}
