//go:build tools

// Package trivy pins the Trivy scanner that slipway's scan tests and
// benchmarks run. It lives in its own module so that Trivy's dependency
// tree cannot move the versions of BuildKit, cosign or the registry that
// tools/go.mod builds.
package trivy

import (
	_ "github.com/aquasecurity/trivy/cmd/trivy"
)
