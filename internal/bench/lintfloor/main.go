// Command lintfloor runs BuildKit's Dockerfile linter in process on each
// Dockerfile named, n times, and prints the best wall time in ms: the floor
// that slipway lint's Dockerfile checks cannot beat, for the lint
// benchmark when the daemon's frontend.lint call is not available.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	digest "github.com/opencontainers/go-digest"
)

// emptyBase describes every base image as an empty linux/amd64 image.
type emptyBase struct{}

func (emptyBase) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	b, err := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}}})
	return ref, "", b, err
}

func main() {
	n := flag.Int("n", 5, "runs")
	flag.Parse()
	best := time.Duration(1 << 62)
	for i := 0; i < *n; i++ {
		start := time.Now()
		for _, f := range flag.Args() {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			sm := llb.NewSourceMap(nil, f, "Dockerfile", data)
			sm.Definition = &llb.Definition{}
			if _, err := dockerfile2llb.DockerfileLint(context.Background(), data, dockerfile2llb.ConvertOpt{SourceMap: sm, MetaResolver: emptyBase{}}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		best = min(best, time.Since(start))
	}
	fmt.Printf("%.1f\n", float64(best.Microseconds())/1000)
}
