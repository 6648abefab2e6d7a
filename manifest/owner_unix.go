//go:build unix

package manifest

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives f the owner of the file it replaces, when allowed (as
// root, or when the owner is already ours). Failure is not an error: a
// user rewriting a file they may write but do not own gets it as theirs,
// as any editor would.
func keepOwner(f *os.File, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
}
