// Command pushlayout pushes the first image or index of an OCI image layout
// with the pusher package, for the push benchmark:
//
//	pushlayout [-jobs N] [-progress] [-debug] LAYOUT REF...
//
// It prints REF@DIGEST per reference on stdout and the blob counts on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/slipway-build/slipway/pusher"
)

func main() {
	jobs := flag.Int("jobs", 0, "parallel blob uploads (default: the pusher's)")
	progress := flag.Bool("progress", false, "show progress on stderr")
	debug := flag.Bool("debug", false, "log requests on stderr")
	flag.Parse()
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: pushlayout [-jobs N] [-progress] [-debug] LAYOUT REF...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := pusher.Options{Jobs: *jobs}
	if *progress {
		opts.Progress = os.Stderr
	}
	if *debug {
		opts.Debug = os.Stderr
	}
	if err := run(ctx, flag.Arg(0), flag.Args()[1:], opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pushlayout:", err)
		if h := pusher.Hint(err); h != "" {
			fmt.Fprintln(os.Stderr, "hint:", h)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, args []string, opts pusher.Options, stdout, stderr io.Writer) error {
	var refs []name.Tag
	for _, a := range args {
		ref, err := name.NewTag(a)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(im.Manifests) == 0 {
		return errors.New("the layout holds no image")
	}
	d := im.Manifests[0]
	var artifact remote.Taggable
	if d.MediaType.IsIndex() {
		artifact, err = idx.ImageIndex(d.Digest)
	} else {
		artifact, err = idx.Image(d.Digest)
	}
	if err != nil {
		return err
	}
	pub, err := pusher.Push(ctx, artifact, refs, opts)
	if err != nil {
		return err
	}
	for _, r := range pub.Refs {
		fmt.Fprintln(stdout, r)
	}
	fmt.Fprintf(stderr, "blobs: %d uploaded (%d bytes), %d skipped, %d mounted\n", pub.BlobsUploaded, pub.BytesUploaded, pub.BlobsSkipped, pub.BlobsMounted)
	return nil
}
