//go:build tools

// Package tools pins the programs that slipway's tests and demo run:
// BuildKit (at the same version as the client library of the main module),
// the distribution registry, the cosign CLI and crane.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
	_ "github.com/google/go-containerregistry/cmd/crane"
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
	_ "github.com/sigstore/cosign/v2/cmd/cosign"
)
