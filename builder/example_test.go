package builder_test

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/store"
)

// A build command: check the requests, reach BuildKit (a private buildkitd
// when BUILDKIT_HOST is empty), build everything into the store, print one
// line per image.
func Example() {
	ctx := context.Background()
	reqs := []builder.Request{{
		Name:            "web",
		Context:         "./web",
		Platforms:       []string{"linux/amd64", "linux/arm64"},
		Secrets:         []builder.Secret{{ID: "npmrc", Src: os.ExpandEnv("$HOME/.npmrc")}},
		SourceDateEpoch: 1700000000, // commit time
		Annotations:     map[string]string{"org.opencontainers.image.revision": "0123abc"},
	}}
	if err := builder.Preflight(reqs, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err) // every problem, one per line
		return
	}
	st, err := store.Open(".slipway/store")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	b, err := builder.Connect(ctx, builder.ConnectOptions{Address: os.Getenv("BUILDKIT_HOST"), Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "slipway: reaching BuildKit:", err)
		for _, h := range builder.Hints(err) {
			fmt.Fprintln(os.Stderr, "hint:", h)
		}
		return
	}
	defer b.Close()
	results, err := b.Build(ctx, reqs, st, builder.BuildOptions{Jobs: 4, Progress: os.Stderr, ProgressMode: "auto"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "slipway:", err)
		return
	}
	for _, r := range results {
		fmt.Println(r.Name, r.Digest)
	}
}
