package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStartupInitIsSmall keeps start-up work out of slipway's own package
// initialisers (regexps are compiled on first use, nothing is set up that a
// command may not need). It reads the runtime's own account of each
// package's init, in bytes allocated, which does not depend on the machine.
func TestStartupInitIsSmall(t *testing.T) {
	r := slipway(t, t.TempDir(), []string{"GODEBUG=inittrace=1"}, "version")
	if r.code != 0 {
		t.Fatalf("version: exit %d: %s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`^init (\S+) @\S+ ms, \S+ ms clock, (\d+) bytes, \d+ allocs$`)
	const limit = 8 << 10
	seen := 0
	for _, l := range strings.Split(r.stderr, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		seen++
		pkg := m[1]
		if pkg != "main" && !strings.HasPrefix(pkg, "github.com/slipway-build/slipway/") {
			continue
		}
		if n, _ := strconv.Atoi(m[2]); n > limit {
			t.Errorf("package %s allocates %d bytes at init (limit %d): move the work to first use", pkg, n, limit)
		}
	}
	if seen == 0 {
		t.Fatalf("no init trace in stderr: %q", r.stderr)
	}
}
