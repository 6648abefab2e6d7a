package scan

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoScanner is returned (wrapped in *MissingError) when trivy is neither
// on PATH nor beside slipway.
var ErrNoScanner = errors.New("trivy not found on PATH or beside slipway")

// MissingError is a scan asked for without the scanner installed.
type MissingError struct{}

func (*MissingError) Error() string { return ErrNoScanner.Error() }
func (*MissingError) Unwrap() error { return ErrNoScanner }

// Hints say how to install it.
func (*MissingError) Hints() []string {
	return []string{
		"install Trivy (https://trivy.dev) on PATH, or put the trivy program beside slipway",
		"from source: GOEXPERIMENT=jsonv2 go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0",
		"or set scan.skip: true in slipway.yaml to release without scanning",
	}
}

// Find returns the trivy program: beside the running slipway first (the
// one a release ships with), else on PATH.
func Find() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "trivy")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("trivy"); err == nil {
		return p, nil
	}
	return "", &MissingError{}
}

// ExitCode is 2: a configuration that cannot run here.
func (*MissingError) ExitCode() int { return 2 }
