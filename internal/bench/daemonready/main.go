// Command daemonready measures how long builder.Connect takes to start a
// private buildkitd and see it answer, then stop it: N rounds, the best
// and median spawn-to-ready times printed in milliseconds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/slipway-build/slipway/builder"
)

func main() {
	n := flag.Int("n", 5, "rounds")
	root := flag.String("root", "", "buildkitd root (default: the user cache dir)")
	buildkitd := flag.String("buildkitd", "", "buildkitd program (default: looked up)")
	flag.Parse()

	var ready, stop []time.Duration
	for i := 0; i < *n; i++ {
		start := time.Now()
		b, err := builder.Connect(context.Background(), builder.ConnectOptions{Root: *root, Buildkitd: *buildkitd})
		if err != nil {
			fmt.Fprintln(os.Stderr, "daemonready:", err)
			for _, h := range builder.Hints(err) {
				fmt.Fprintln(os.Stderr, "hint:", h)
			}
			os.Exit(1)
		}
		ready = append(ready, time.Since(start))
		start = time.Now()
		if err := b.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "daemonready:", err)
			os.Exit(1)
		}
		stop = append(stop, time.Since(start))
	}
	fmt.Printf("ready_best_ms=%.1f ready_median_ms=%.1f stop_best_ms=%.1f\n", ms(best(ready)), ms(median(ready)), ms(best(stop)))
}

func best(ds []time.Duration) time.Duration { return slices.Min(ds) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
