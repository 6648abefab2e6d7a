package integration

import (
	"fmt"
	"os"
	"testing"
)

// cacheHome is the XDG_CACHE_HOME every slipway run of this package uses,
// so that the private buildkitd's cache (the Go build cache of the
// examples above all) carries over from test to test.
var cacheHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-integration-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheHome = dir
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "removing the test cache:", err)
	}
	os.Exit(code)
}
