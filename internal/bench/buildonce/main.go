// Command buildonce builds one Dockerfile with the builder package into a
// store and prints the image digest: the benchmark's stand-in for
// `slipway build` of one image.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/store"
)

func main() {
	addr := flag.String("addr", "", "BuildKit address (empty: start a private buildkitd)")
	root := flag.String("root", "", "private buildkitd root (default: the user cache dir)")
	ctxDir := flag.String("context", ".", "build context")
	dockerfile := flag.String("dockerfile", "Dockerfile", "Dockerfile, relative to the context")
	storeDir := flag.String("store", ".slipway/store", "store directory")
	name := flag.String("name", "app", "image name in the store")
	progress := flag.String("progress", "quiet", "auto|tty|plain|rawjson|quiet")
	epoch := flag.Int64("source-date-epoch", 0, "SOURCE_DATE_EPOCH (0: unset)")
	timing := flag.Bool("time", false, "print the build's wall time (seconds) after the digest")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *root, *ctxDir, *dockerfile, *storeDir, *name, *progress, *epoch, *timing); err != nil {
		fmt.Fprintln(os.Stderr, "buildonce:", err)
		for _, h := range builder.Hints(err) {
			fmt.Fprintln(os.Stderr, "hint:", h)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, root, ctxDir, dockerfile, storeDir, name, progress string, epoch int64, timing bool) error {
	st, err := store.Open(storeDir)
	if err != nil {
		return err
	}
	b, err := builder.Connect(ctx, builder.ConnectOptions{Address: addr, Root: root, Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	res, err := b.Build(ctx, []builder.Request{{
		Name: name, Context: ctxDir, Dockerfile: dockerfile, SourceDateEpoch: epoch,
	}}, st, builder.BuildOptions{Progress: os.Stderr, ProgressMode: progress})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if timing {
		fmt.Printf("%s %s %.6f\n", res[0].Name, res[0].Digest, elapsed.Seconds())
	} else {
		fmt.Printf("%s %s\n", res[0].Name, res[0].Digest)
	}
	return nil
}
