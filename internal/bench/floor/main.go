// Command floor is the bump benchmark's floor: the least a program can do
// to give the same result as slipway bump, in plain Go. It reads every
// *.yaml file of a folder and sets the tag of every reference to one
// repository, then either prints every file (-mode read: what bump -o -
// and --check must at least do) or writes each file back through a
// temporary file and a rename, one file after another (-mode write: what
// an in-place bump must at least do).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	mode := flag.String("mode", "read", "read (print every file) or write (replace every file)")
	repo := flag.String("repo", "", "repository whose references get the new tag")
	tag := flag.String("tag", "", "the new tag")
	flag.Parse()
	if *repo == "" || *tag == "" || flag.NArg() != 1 || *mode != "read" && *mode != "write" {
		fmt.Fprintln(os.Stderr, "usage: floor -mode read|write -repo REPO -tag TAG DIR")
		os.Exit(2)
	}
	if err := run(*mode, flag.Arg(0), *repo+":", *tag); err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		os.Exit(1)
	}
}

func run(mode, dir, prefix, tag string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dst := setTag(src, prefix, tag)
		if mode == "read" {
			out.Write(dst)
			continue
		}
		f, err := os.CreateTemp(dir, "."+e.Name()+".floor-*")
		if err != nil {
			return err
		}
		if _, err := f.Write(dst); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), path); err != nil {
			return err
		}
	}
	return out.Flush()
}

// setTag replaces the tag after every prefix (REPO:) up to a quote, a
// blank or the end of the line.
func setTag(src []byte, prefix, tag string) []byte {
	var b bytes.Buffer
	b.Grow(len(src) + 64)
	for {
		i := bytes.Index(src, []byte(prefix))
		if i < 0 {
			b.Write(src)
			return b.Bytes()
		}
		i += len(prefix)
		b.Write(src[:i])
		b.WriteString(tag)
		src = src[i:]
		j := bytes.IndexAny(src, "\"' \r\n")
		if j < 0 {
			j = len(src)
		}
		src = src[j:]
	}
}
