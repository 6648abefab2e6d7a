//go:build !unix

package manifest

import (
	"io/fs"
	"os"
)

func keepOwner(*os.File, fs.FileInfo, fs.FileInfo) {}

func links(fs.FileInfo) uint64 { return 1 }

func fileKey(path string, _ fs.FileInfo) any { return path }

func writable(string) error { return nil }
