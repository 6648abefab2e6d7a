package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// readFile reads a file and the facts Apply later checks it against.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	buf := make([]byte, fi.Size()+1) // +1 so that a file that grew shows
	n, err := io.ReadFull(f, buf)
	switch err {
	case io.ErrUnexpectedEOF, io.EOF:
		return buf[:n], fi, nil
	case nil:
		rest, err := io.ReadAll(f)
		return append(buf, rest...), fi, err
	}
	return nil, nil, err
}

// writeJob is one file that Apply replaces.
type writeJob struct {
	fc      *FileChange
	target  string      // the file itself: a symlink's target, so the link stays a link
	fi      fs.FileInfo // the target as it is now
	inPlace bool        // several hard links: written into the same inode
	tmp     string      // the temporary file holding the new bytes
	done    bool        // replaced
}

// rename is os.Rename; tests replace it to make a replacement fail.
var rename = os.Rename

// Apply writes every changed file, all or none.
//
// Every file is checked first: nothing is written when one changed since
// it was planned or may not be written by the running user (no write
// permission, such as mode 0444, or a read-only filesystem). Then each
// file's new bytes go to a temporary file in its folder (the target of a
// symlink, so that the link stays a link) with the old file's mode and,
// where allowed, owner, and only when all of them are written are they
// renamed over the originals. A file with several hard links is rewritten
// in place instead, so that every link keeps naming the same, edited file.
// When replacing one fails, the files already replaced get their old bytes
// back before the error is returned. No temporary file survives. The
// context is checked before the first replacement.
func (c *Changes) Apply(ctx context.Context) error {
	var jobs []*writeJob
	byFile := map[any]*writeJob{}
	for i := range c.Files {
		fc := &c.Files[i]
		if !fc.Changed() {
			continue
		}
		j, err := check(fc)
		if err != nil {
			return err
		}
		key := fileKey(j.target, j.fi)
		if prev, ok := byFile[key]; ok {
			if !bytes.Equal(prev.fc.New, fc.New) {
				return &FileError{File: fc.Path, Err: fmt.Errorf("same file as %s, with other changes", prev.fc.Path)}
			}
			continue
		}
		byFile[key] = j
		jobs = append(jobs, j)
	}
	cleanup := func() {
		for _, j := range jobs {
			if j.tmp != "" {
				os.Remove(j.tmp)
				j.tmp = ""
			}
		}
	}
	for _, j := range jobs {
		if j.inPlace {
			continue
		}
		tmp, err := writeTemp(j.target, j.fc.New, j.fi)
		if err != nil {
			cleanup()
			return &FileError{File: j.fc.Path, Err: err}
		}
		j.tmp = tmp
	}
	if err := ctx.Err(); err != nil {
		cleanup()
		return err
	}
	for _, j := range jobs {
		var err error
		if j.inPlace {
			err = overwrite(j.target, j.fc.New)
		} else if err = rename(j.tmp, j.target); err == nil {
			j.tmp = ""
		}
		if err != nil {
			if j.inPlace {
				j.done = true // perhaps written in part: put back too
			}
			cleanup()
			return replaceError(j, err, restore(jobs))
		}
		j.done = true
	}
	return nil
}

// check finds the file a change replaces and refuses it, before anything
// is written, when it changed since it was read or may not be written.
func check(fc *FileChange) (*writeJob, error) {
	fail := func(err error) (*writeJob, error) { return nil, &FileError{File: fc.Path, Err: err} }
	target := fc.Path
	li, err := os.Lstat(target)
	if err != nil {
		return fail(fmt.Errorf("reading: %w", unwrapPath(err)))
	}
	if li.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(fc.Path); err != nil {
			return fail(fmt.Errorf("resolving: %w", unwrapPath(err)))
		}
	}
	fi := li
	if target != fc.Path {
		if fi, err = os.Stat(target); err != nil {
			return fail(fmt.Errorf("reading: %w", unwrapPath(err)))
		}
	}
	// The same inode, size and modification time as when it was read
	// spares reading it again; otherwise its bytes must still be the same.
	if fc.read != nil && os.SameFile(fi, fc.read) && fi.Size() == fc.read.Size() && fi.ModTime().Equal(fc.read.ModTime()) {
		// unchanged
	} else if cur, err := os.ReadFile(target); err != nil {
		return fail(fmt.Errorf("reading: %w", unwrapPath(err)))
	} else if !bytes.Equal(cur, fc.Old) {
		return fail(errors.New("changed since it was read; run again"))
	}
	if fi.Mode().Perm()&0o222 == 0 {
		return fail(fmt.Errorf("not writable (mode %04o); make it writable to bump it", fi.Mode().Perm()))
	}
	if err := writable(target); err != nil {
		return fail(fmt.Errorf("not writable: %w", err))
	}
	return &writeJob{fc: fc, target: target, fi: fi, inPlace: links(fi) > 1}, nil
}

var tmpSeq atomic.Uint64

// writeTemp writes data to a new temporary file beside target, with the
// mode and, where allowed, the owner of fi, and returns its name.
func writeTemp(target string, data []byte, fi fs.FileInfo) (string, error) {
	dir, base := filepath.Split(target)
	want := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	var f *os.File
	var err error
	for range 100 {
		name := filepath.Join(dir, "."+base+".slipway-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tmpSeq.Add(1), 36))
		// Created with the mode it needs, so that in the common case
		// (the umask lets it through) no chmod follows.
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, want.Perm())
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("creating temporary file: %w", unwrapPath(err))
	}
	tmp := f.Name()
	fail := func(what string, err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("%s: %w", what, unwrapPath(err))
	}
	if _, err := f.Write(data); err != nil {
		return fail("writing temporary file", err)
	}
	got, err := f.Stat()
	if err != nil {
		return fail("writing temporary file", err)
	}
	if got.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != want {
		if err := f.Chmod(want); err != nil {
			return fail("setting mode", err)
		}
	}
	keepOwner(f, got, fi)
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("writing temporary file: %w", unwrapPath(err))
	}
	return tmp, nil
}

// overwrite writes data into the file itself, keeping its inode.
func overwrite(target string, data []byte) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// restore puts the old bytes back into every file already replaced, and
// returns the files it could not restore.
func restore(jobs []*writeJob) []string {
	var failed []string
	for _, j := range jobs {
		if !j.done {
			continue
		}
		var err error
		if j.inPlace {
			err = overwrite(j.target, j.fc.Old)
		} else {
			var tmp string
			if tmp, err = writeTemp(j.target, j.fc.Old, j.fi); err == nil {
				if err = os.Rename(tmp, j.target); err != nil {
					os.Remove(tmp)
				}
			}
		}
		if err != nil {
			failed = append(failed, j.fc.Path+" ("+unwrapPath(err).Error()+")")
		}
	}
	return failed
}

func replaceError(j *writeJob, err error, unrestored []string) error {
	err = unwrapPath(err)
	if len(unrestored) > 0 {
		err = fmt.Errorf("%w; could not put back the old bytes of %s", err, strings.Join(unrestored, ", "))
	} else {
		err = fmt.Errorf("%w; no file was changed", err)
	}
	return &FileError{File: j.fc.Path, Err: fmt.Errorf("replacing: %w", err)}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
