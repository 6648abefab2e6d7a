package tagging

import (
	"regexp"
	"strings"
	"sync"
)

// semverRE is the expression semver.org recommends, with an optional "v",
// compiled on first use rather than at start-up.
var semverRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
})

type semver struct {
	major, minor, patch, pre string
	version                  string // without the "v"
}

func parseSemver(tag string) (semver, bool) {
	m := semverRE().FindStringSubmatch(tag)
	if m == nil {
		return semver{}, false
	}
	return semver{major: m[1], minor: m[2], patch: m[3], pre: m[4], version: strings.TrimPrefix(tag, "v")}, true
}

// compareSemver orders by semver precedence: -1, 0 or +1.
func compareSemver(a, b semver) int {
	for _, p := range [][2]string{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if c := compareNumeric(p[0], p[1]); c != 0 {
			return c
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1 // a release outranks its prereleases
	case b.pre == "":
		return -1
	}
	as, bs := strings.Split(a.pre, "."), strings.Split(b.pre, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		an, bn := isNumeric(as[i]), isNumeric(bs[i])
		var c int
		switch {
		case an && bn:
			c = compareNumeric(as[i], bs[i])
		case an:
			c = -1 // numeric identifiers rank below alphanumeric ones
		case bn:
			c = 1
		default:
			c = strings.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return compareInt(len(as), len(bs))
}

// compareNumeric compares decimal strings without leading zeros, of any length.
func compareNumeric(a, b string) int {
	if c := compareInt(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func compareInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isNumeric(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
