package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/slipway-build/slipway/internal/seed"
)

func TestUnderRegistry(t *testing.T) {
	for _, c := range []struct {
		registry, ref, want, err string
	}{
		{"127.0.0.1:5000", "seed/busybox:latest", "127.0.0.1:5000/seed/busybox:latest", ""},
		{"127.0.0.1:5000/", "busybox", "127.0.0.1:5000/busybox", ""},
		{"127.0.0.1:5000/team", "seed/golang:1.26", "127.0.0.1:5000/team/seed/golang:1.26", ""},
		{"127.0.0.1:5000", "localhost:6000/x:y", "localhost:6000/x:y", ""},
		{"127.0.0.1:5000", "localhost/x", "localhost/x", ""},
		{"", "registry.example.com/seed/busybox", "registry.example.com/seed/busybox", ""},
		{"", "seed/busybox", "", "names no registry host"},
	} {
		t.Run(c.registry+" "+c.ref, func(t *testing.T) {
			got, err := underRegistry(c.registry, c.ref)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	bb, err := seed.FindBusybox()
	if err != nil {
		if os.Getenv("SLIPWAY_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	goroot := smallGOROOT(t, bb)
	digest := `@sha256:[0-9a-f]{64}\n`

	for _, c := range []struct {
		name string
		args []string
		want string // regexp for all of stdout
	}{
		{"busybox only", []string{"-registry", host, "-skip-go"},
			`^` + regexp.QuoteMeta(host+"/seed/busybox:latest") + digest + `$`},
		{"defaults", []string{"-registry", host, "-goroot", goroot},
			`^` + regexp.QuoteMeta(host+"/seed/busybox:latest") + digest +
				regexp.QuoteMeta(host+"/seed/golang:1.99") + digest + `$`},
		{"named", []string{"-registry", host, "-goroot", goroot, "-busybox", "base/bb:1", "-go", host + "/tc/go:x"},
			`^` + regexp.QuoteMeta(host+"/base/bb:1") + digest +
				regexp.QuoteMeta(host+"/tc/go:x") + digest + `$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), c.args, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
			}
			if !regexp.MustCompile(c.want).MatchString(stdout.String()) {
				t.Errorf("stdout:\n%s\nwant it to match %s", stdout.String(), c.want)
			}
		})
	}

	usage := []struct {
		name string
		args []string
	}{
		{"no registry", []string{"-skip-go"}},
		{"bad ref", []string{"-registry", host, "-busybox", "UPPER/Case::x"}},
		{"stray argument", []string{"-registry", host, "extra"}},
		{"unknown flag", []string{"-nope"}},
	}
	for _, c := range usage {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), c.args, &stdout, &stderr)
			var u usageError
			if !errors.As(err, &u) {
				t.Errorf("got %v, want a usage error", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// smallGOROOT is just enough of a Go installation for the toolchain image.
func smallGOROOT(t *testing.T, busybox string) string {
	t.Helper()
	dir := t.TempDir()
	elfBytes, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"VERSION":                      "go1.99.1\n",
		"go.env":                       "",
		"bin/go":                       string(elfBytes),
		"pkg/tool/linux_amd64/compile": "compile",
		"pkg/include/textflag.h":       "",
		"src/fmt/print.go":             "package fmt\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
