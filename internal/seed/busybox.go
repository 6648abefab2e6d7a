package seed

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Applets are the busybox applets that get a symlink in /bin. The list is
// fixed rather than read from the binary so that the layer does not depend
// on how busybox was configured beyond its own bytes.
var Applets = []string{
	"[", "[[", "ash", "awk", "base64", "basename", "cat", "chgrp", "chmod", "chown",
	"cmp", "cp", "cut", "date", "dd", "df", "diff", "dirname", "du", "echo",
	"egrep", "env", "expr", "false", "fgrep", "find", "grep", "gunzip", "gzip", "head",
	"hostname", "id", "install", "kill", "less", "ln", "ls", "md5sum", "mkdir", "mktemp",
	"more", "mv", "nc", "nproc", "od", "printf", "ps", "pwd", "readlink", "realpath",
	"rm", "rmdir", "sed", "seq", "sh", "sha256sum", "sleep", "sort", "stat", "tail",
	"tar", "tee", "test", "timeout", "touch", "tr", "true", "uname", "uniq", "unzip",
	"vi", "wc", "wget", "which", "whoami", "xargs", "yes", "zcat",
}

const (
	etcPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/false\n"
	etcGroup = "root:x:0:\n" +
		"nogroup:x:65534:\n" +
		"nonroot:x:65532:\n"
	// Go's resolver reads this to decide between /etc/hosts and DNS.
	etcNsswitch = "hosts: files dns\n"

	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// BusyboxImage returns the busybox base image: one layer, linux/amd64,
// PATH set, Cmd ["sh"].
func (s Source) BusyboxImage(ctx context.Context) (v1.Image, error) {
	layer, err := s.busyboxLayer(ctx)
	if err != nil {
		return nil, err
	}
	return newImage(v1.Config{
		Env: []string{"PATH=" + defaultPath},
		Cmd: []string{"sh"},
	}, mutate.Addendum{Layer: layer, History: history("busybox-static, /etc/passwd, /tmp")})
}

func (s Source) busyboxLayer(ctx context.Context) (v1.Layer, error) {
	bin, err := s.busybox()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return buildLayer(func(w *layerWriter) error {
		for _, d := range []struct {
			name string
			mode int64
		}{
			{"bin", 0o755},
			{"etc", 0o755},
			{"home", 0o755},
			{"root", 0o700},
			{"sbin", 0o755},
			{"tmp", 0o1777},
			{"usr/bin", 0o755},
			{"usr/local/bin", 0o755},
			{"usr/sbin", 0o755},
			{"var/tmp", 0o1777},
		} {
			if err := w.dir(d.name, d.mode); err != nil {
				return err
			}
		}
		if err := w.dirOwned("home/nonroot", 0o700, 65532); err != nil {
			return err
		}
		if err := w.hostFile(bin, "bin/busybox"); err != nil {
			return err
		}
		for _, a := range Applets {
			if err := w.symlink("bin/"+a, "busybox"); err != nil {
				return err
			}
		}
		// Scripts say #!/usr/bin/env.
		if err := w.symlink("usr/bin/env", "/bin/busybox"); err != nil {
			return err
		}
		for _, f := range []struct{ name, data string }{
			{"etc/group", etcGroup},
			{"etc/nsswitch.conf", etcNsswitch},
			{"etc/passwd", etcPasswd},
		} {
			if err := w.file(f.name, 0o644, []byte(f.data)); err != nil {
				return err
			}
		}
		return nil
	})
}
