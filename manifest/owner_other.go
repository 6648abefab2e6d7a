//go:build !unix

package manifest

import (
	"io/fs"
	"os"
)

func keepOwner(*os.File, fs.FileInfo) {}
