package builder

import (
	"context"
	"time"
)

// Programs are where the programs a private buildkitd needs were found.
type Programs struct {
	Buildkitd, Runc string
	// Rootlesskit is empty when running as root.
	Rootlesskit string
}

// FindPrograms looks for buildkitd, runc and, when euid is not 0,
// rootlesskit with newuidmap/newgidmap, where Connect looks for them
// (buildkitd "" means PATH, next to the executable, ./bin). Its errors
// carry the same hints as Connect's.
func FindPrograms(buildkitd string, euid int) (Programs, error) {
	p, err := findPrograms(buildkitd, euid)
	if err != nil {
		return Programs{}, err
	}
	return Programs{Buildkitd: p.buildkitd, Runc: p.runc, Rootlesskit: p.rootlesskit}, nil
}

// Probe connects to the BuildKit daemon at address (never starting one),
// asks for its version and workers, and disconnects.
func Probe(ctx context.Context, address string, tls *TLSFiles, timeout time.Duration) (version string, err error) {
	b, err := Connect(ctx, ConnectOptions{Address: address, TLS: tls, StartTimeout: timeout})
	if err != nil {
		return "", err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := b.c.Info(ctx)
	if err != nil {
		return "", nil // an older daemon without Info still builds
	}
	return info.BuildkitVersion.Version, nil
}
