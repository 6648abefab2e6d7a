package imagepolicy

import (
	"slices"
	"testing"
)

const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in                       string
		expanded, registry, repo string
		tag, digest              string
		short                    bool
		pin                      Pinning
		defaultPolicy            string
	}{
		{"nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "", "", true, Untagged, Always},
		{"nginx:latest", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", "", true, Latest, Always},
		{"nginx:1.27", "docker.io/library/nginx:1.27", "docker.io", "library/nginx", "1.27", "", true, Tag, IfNotPresent},
		{"bitnami/redis:7", "docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", "", true, Tag, IfNotPresent},
		{"docker.io/nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "", "", false, Untagged, Always},
		{"index.docker.io/library/nginx:1", "docker.io/library/nginx:1", "docker.io", "library/nginx", "1", "", false, Tag, IfNotPresent},
		{"localhost/app:v1", "localhost/app:v1", "localhost", "app", "v1", "", false, Tag, IfNotPresent},
		{"localhost:5000/team/app", "localhost:5000/team/app:latest", "localhost:5000", "team/app", "", "", false, Untagged, Always},
		{"reg.example.com/app@" + dg, "reg.example.com/app@" + dg, "reg.example.com", "app", "", dg, false, Digest, IfNotPresent},
		{"reg.example.com:5000/a/b:v2@" + dg, "reg.example.com:5000/a/b:v2@" + dg, "reg.example.com:5000", "a/b", "v2", dg, false, TagDigest, IfNotPresent},
		{"nginx:latest@" + dg, "docker.io/library/nginx:latest@" + dg, "docker.io", "library/nginx", "latest", dg, true, TagDigest, Always},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Expanded(); got != tc.expanded {
				t.Errorf("Expanded = %q, want %q", got, tc.expanded)
			}
			if r.Registry != tc.registry || r.Repository != tc.repo || r.Tag != tc.tag || r.Digest != tc.digest || r.ShortName != tc.short {
				t.Errorf("got registry %q repo %q tag %q digest %q short %v", r.Registry, r.Repository, r.Tag, r.Digest, r.ShortName)
			}
			if r.Pinning != tc.pin {
				t.Errorf("Pinning = %v, want %v", r.Pinning, tc.pin)
			}
			if got := DefaultPullPolicy(r); got != tc.defaultPolicy {
				t.Errorf("DefaultPullPolicy = %q, want %q", got, tc.defaultPolicy)
			}
			if r.String() != tc.in {
				t.Errorf("String = %q", r.String())
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	for _, in := range []string{"", " nginx", "Nginx:1", "nginx:", "nginx@sha256:12", "https://reg.example.com/app", "{{ .Values.image }}", "a/b:c:d"} {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, r)
		}
	}
}

func TestEffectivePullPolicy(t *testing.T) {
	r, _ := Parse("nginx:1.27")
	if got := EffectivePullPolicy(r, Never); got != Never {
		t.Errorf("explicit: %q", got)
	}
	if got := EffectivePullPolicy(r, ""); got != IfNotPresent {
		t.Errorf("defaulted: %q", got)
	}
}

type want struct {
	rule string
	sev  Severity
	kind Kind
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		ref, policy string
		lint, verif []want
	}{
		{"nginx", "", []want{{"image-untagged", Error, KindUntagged}}, []want{{"pinned", Error, KindUntagged}}},
		{"nginx:latest", "", []want{{"image-latest", Error, KindLatest}}, []want{{"pinned", Error, KindLatest}}},
		{"nginx:latest", "Always", []want{{"image-latest", Error, KindLatest}}, []want{{"pinned", Error, KindLatest}}},
		{"nginx:latest", "IfNotPresent",
			[]want{{"image-latest", Error, KindLatest}, {"pull-policy", Warning, KindPullPolicy}},
			[]want{{"pinned", Error, KindLatest}, {"pull-policy", Warning, KindPullPolicy}}},
		{"nginx", "IfNotPresent",
			[]want{{"image-untagged", Error, KindUntagged}, {"pull-policy", Warning, KindPullPolicy}},
			[]want{{"pinned", Error, KindUntagged}, {"pull-policy", Warning, KindPullPolicy}}},
		// A tag alone pulled IfNotPresent: verify's pinned warning already says it.
		{"nginx:1.27", "",
			[]want{{"image-unpinned", Info, KindUnpinned}, {"pull-policy", Warning, KindPullPolicy}},
			[]want{{"pinned", Warning, KindUnpinned}}},
		{"nginx:1.27", "IfNotPresent",
			[]want{{"image-unpinned", Info, KindUnpinned}, {"pull-policy", Warning, KindPullPolicy}},
			[]want{{"pinned", Warning, KindUnpinned}}},
		{"nginx:1.27", "Always", []want{{"image-unpinned", Info, KindUnpinned}}, []want{{"pinned", Warning, KindUnpinned}}},
		{"nginx:1.27", "Never",
			[]want{{"image-unpinned", Info, KindUnpinned}, {"pull-policy", Warning, KindPullPolicy}},
			[]want{{"pinned", Warning, KindUnpinned}, {"pull-policy", Warning, KindPullPolicy}}},
		{"nginx@" + dg, "", nil, nil},
		{"nginx@" + dg, "Always", nil, nil},
		{"nginx:1@" + dg, "IfNotPresent", nil, nil},
		{"nginx:1@" + dg, "Never", []want{{"pull-policy", Warning, KindPullPolicy}}, []want{{"pull-policy", Warning, KindPullPolicy}}},
		{"nginx:1@" + dg, "always", []want{{"pull-policy", Error, KindPullPolicy}}, []want{{"pull-policy", Error, KindPullPolicy}}},
	} {
		t.Run(tc.ref+"/"+tc.policy, func(t *testing.T) {
			r, err := Parse(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			for _, rs := range []struct {
				name string
				rs   Ruleset
				want []want
			}{{"lint", Lint, tc.lint}, {"verify", Verify, tc.verif}} {
				var got []want
				for _, f := range rs.rs.Check(r, tc.policy) {
					if f.Message == "" {
						t.Errorf("%s: %s has no message", rs.name, f.Rule)
					}
					got = append(got, want{f.Rule, f.Severity, f.Kind})
				}
				if !slices.Equal(got, rs.want) {
					t.Errorf("%s: got %v, want %v", rs.name, got, rs.want)
				}
			}
		})
	}
}

func TestRulesetOverrides(t *testing.T) {
	r, _ := Parse("nginx:1.27")
	strict := Verify
	strict.Unpinned.Severity = Error
	fs := strict.Check(r, "")
	if len(fs) != 1 || fs[0].Rule != "pinned" || fs[0].Severity != Error {
		t.Errorf("require digest: %+v", fs)
	}
	off := Lint
	off.Unpinned = Rule{}
	off.PullPolicy = Rule{}
	if fs := off.Check(r, "Never"); len(fs) != 0 {
		t.Errorf("rules turned off still report: %+v", fs)
	}
	// With Unpinned off, the tag-without-digest pull-policy finding comes back.
	noPin := Verify
	noPin.Unpinned = Rule{}
	fs = noPin.Check(r, "")
	if len(fs) != 1 || fs[0].Kind != KindPullPolicy {
		t.Errorf("unpinned off: %+v", fs)
	}
}

func TestStrings(t *testing.T) {
	if Warning.String() != "warning" || Error.String() != "error" || Info.String() != "info" {
		t.Error("severity names")
	}
	if TagDigest.String() != "tag+digest" || !TagDigest.Pinned() || Tag.Pinned() {
		t.Error("pinning names")
	}
}
