package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	deps := []*debug.Module{
		{Path: "github.com/moby/buildkit", Version: "v0.34.2"},
		{Path: "github.com/sigstore/cosign/v2", Version: "v2.6.5"},
		{Path: "github.com/spf13/pflag", Version: "v1.1.0"},
	}
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name        string
		bi          *debug.BuildInfo
		stamp       Stamp
		wantVersion string
		wantCommit  string
	}{
		{"go install @tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Deps: deps}, Stamp{}, "v1.4.0", ""},
		{"release wins over stamp", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Deps: deps}, Stamp{Version: "v1.3.0-2-gabc"}, "v1.4.0", ""},
		{"make build: git describe", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Deps: deps, Settings: vcs}, Stamp{Version: "v1.3.0-2-gabcdef1-dirty", Commit: "abcdef1"}, "v1.3.0-2-gabcdef1-dirty", "abcdef1"},
		{"stamp beats pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.1-0.20261201100000-0123456789ab"}, Deps: deps}, Stamp{Version: "v1.3.0-5-g0123456"}, "v1.3.0-5-g0123456", ""},
		{"go build: pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201100000-0123456789ab+dirty"}, Deps: deps, Settings: vcs}, Stamp{Version: "dev"}, "v0.0.0-20261201100000-0123456789ab+dirty", "0123456789abcdef0123456789abcdef01234567"},
		{"nothing known", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, Stamp{Version: "dev"}, "dev", ""},
		{"no build info", nil, Stamp{}, "dev", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := From(tt.bi, tt.stamp)
			if in.Version != tt.wantVersion {
				t.Errorf("Version = %q, want %q", in.Version, tt.wantVersion)
			}
			if in.Commit != tt.wantCommit {
				t.Errorf("Commit = %q, want %q", in.Commit, tt.wantCommit)
			}
			if in.Go == "" || in.Platform == "" {
				t.Errorf("Go/Platform empty: %+v", in)
			}
			if tt.bi != nil && tt.bi.Deps != nil && (in.Buildkit != "v0.34.2" || in.Cosign != "v2.6.5") {
				t.Errorf("Buildkit, Cosign = %q, %q", in.Buildkit, in.Cosign)
			}
		})
	}
	in := From(&debug.BuildInfo{Settings: vcs}, Stamp{})
	if in.Date != "2026-12-01T10:00:00Z" || !in.Dirty {
		t.Errorf("date/dirty not read from vcs settings: %+v", in)
	}
	rep := From(&debug.BuildInfo{Deps: []*debug.Module{{Path: "github.com/moby/buildkit", Version: "v0.1.0", Replace: &debug.Module{Version: "v0.34.3"}}}}, Stamp{})
	if rep.Buildkit != "v0.34.3" {
		t.Errorf("replaced module: Buildkit = %q, want the replacement's version", rep.Buildkit)
	}
}

func TestIsRelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3":                                    true,
		"v1.2.3-rc.1":                               true,
		"v0.0.0-20261201100000-0123456789ab":        false,
		"v1.2.4-0.20261201100000-0123456789ab":      false,
		"v1.2.4-rc.1.0.20261201100000-0123456789ab": false,
		"v1.2.3+dirty":                              false,
		"1.2.3":                                     false,
	} {
		if got := isRelease(v); got != want {
			t.Errorf("isRelease(%q) = %v, want %v", v, got, want)
		}
	}
}
