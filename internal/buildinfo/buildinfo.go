// Package buildinfo says which slipway this is: its version, the commit and
// time it was built from, and the versions of the BuildKit client and cosign
// compiled into it. `slipway version` and every report use the same string.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what a binary knows about its own build.
type Info struct {
	// Version is the release (v1.2.3) when installed with go install
	// ...@v1.2.3, else what the build stamped (git describe through the
	// Makefile, or Go's pseudo-version), else "dev".
	Version string `json:"version"`
	// Commit is the full git commit, "" when unknown.
	Commit string `json:"commit,omitempty"`
	// Date is the commit time (RFC 3339), "" when unknown.
	Date string `json:"date,omitempty"`
	// Dirty is true when the tree had uncommitted changes at build time.
	Dirty bool `json:"dirty,omitempty"`
	// Go is the Go toolchain that built the binary, GOOS/GOARCH its target.
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// Buildkit and Cosign are the module versions of the BuildKit client
	// and cosign linked in; they name the buildkitd and cosign CLI that
	// match this slipway.
	Buildkit string `json:"buildkit,omitempty"`
	Cosign   string `json:"cosign,omitempty"`
}

// Stamp holds what the linker set (-X main.version=... -X main.commit=...);
// empty or "dev" means not set.
type Stamp struct {
	Version, Commit string
}

// Modules whose versions Info reports.
const (
	buildkitModule = "github.com/moby/buildkit"
	cosignModule   = "github.com/sigstore/cosign/v2"
)

// Read describes the running binary.
func Read(s Stamp) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, s)
}

// From describes a binary from its build information (nil when the binary
// has none) and linker stamp.
func From(bi *debug.BuildInfo, s Stamp) Info {
	in := Info{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var modVersion string
	if bi != nil {
		if bi.GoVersion != "" {
			in.Go = bi.GoVersion
		}
		modVersion = bi.Main.Version
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				in.Commit = st.Value
			case "vcs.time":
				in.Date = st.Value
			case "vcs.modified":
				in.Dirty = st.Value == "true"
			}
		}
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil && d.Replace.Version != "" {
				v = d.Replace.Version
			}
			switch d.Path {
			case buildkitModule:
				in.Buildkit = v
			case cosignModule:
				in.Cosign = v
			}
		}
	}
	if s.Commit != "" {
		in.Commit = s.Commit
	}
	in.Version = pickVersion(modVersion, s.Version)
	return in
}

// pickVersion prefers a released module version (go install ...@v1.2.3
// cannot be stamped by a Makefile), then the linker's stamp, then Go's
// own VCS stamping of the main module.
func pickVersion(mod, stamped string) string {
	known := mod != "" && mod != "(devel)"
	if known && isRelease(mod) {
		return mod
	}
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	if known {
		return mod
	}
	return "dev"
}

// isRelease reports whether v is vX.Y.Z[-pre] and not a pseudo-version
// (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef) or a +dirty build.
func isRelease(v string) bool {
	if !strings.HasPrefix(v, "v") || strings.Contains(v, "+") {
		return false
	}
	parts := strings.Split(v, "-")
	if len(parts) >= 3 {
		ts := parts[len(parts)-2]
		if i := strings.LastIndex(ts, "."); i >= 0 {
			ts = ts[i+1:]
		}
		if len(ts) == 14 && allDigits(ts) && len(parts[len(parts)-1]) == 12 {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
