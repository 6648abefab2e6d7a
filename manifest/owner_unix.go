//go:build unix

package manifest

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives f (whose facts are got) the owner of the file it
// replaces (old), when they differ and it is allowed (as root, or when the
// owner is already ours). Failure is not an error: a user rewriting a file
// they may write but do not own gets it as theirs, as any editor would.
func keepOwner(f *os.File, got, old fs.FileInfo) {
	g, ok1 := got.Sys().(*syscall.Stat_t)
	o, ok2 := old.Sys().(*syscall.Stat_t)
	if ok1 && ok2 && (g.Uid != o.Uid || g.Gid != o.Gid) {
		_ = f.Chown(int(o.Uid), int(o.Gid))
	}
}

// links is the number of hard links of a file.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

type fileID struct{ dev, ino uint64 }

// fileKey tells files apart by device and inode, whatever path names them.
func fileKey(path string, fi fs.FileInfo) any {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), uint64(st.Ino)}
	}
	return path
}

// writable reports why the running user may not write path (a read-only
// filesystem, no permission), or nil.
func writable(path string) error {
	return syscall.Access(path, 2) // W_OK
}
