// Command slipway builds, tags, pushes and signs container images and bumps
// the Kubernetes manifests that use them, without a Docker daemon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &streams{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.LookupEnv)
	stop()
	os.Exit(code)
}
