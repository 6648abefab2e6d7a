// Package logstream shapes what slipway writes to stderr: secrets masked
// as CI systems mask them, and, for --progress rawjson, every line one JSON
// object.
package logstream

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// MinSecretLen is the shortest value masked: masking every "a" or "1"
// would garble the output without protecting anything.
const MinSecretLen = 4

// Masker replaces every secret it was given with *** in what passes
// through it. It holds back only the tail of a write that could be the
// start of a secret, so prompts and progress still appear at once. Safe
// for concurrent use; call Flush at the end.
type Masker struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte // longest first
	pending []byte
}

// NewMasker masks what is written to w.
func NewMasker(w io.Writer) *Masker { return &Masker{w: w} }

// Add registers secret values: each one whole, each of its lines, and the
// forms they take inside JSON strings.
func (m *Masker) Add(values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range m.secrets {
		seen[string(s)] = true
	}
	add := func(s string) {
		if len(s) >= MinSecretLen && !seen[s] {
			seen[s] = true
			m.secrets = append(m.secrets, []byte(s))
		}
	}
	for _, v := range values {
		v = strings.TrimRight(v, "\r\n")
		forms := []string{v}
		for _, line := range strings.Split(v, "\n") {
			forms = append(forms, strings.TrimSpace(line))
		}
		for _, f := range forms {
			add(f)
			if q, err := json.Marshal(f); err == nil {
				add(string(q[1 : len(q)-1]))
			}
		}
	}
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
}

func (m *Masker) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 && len(m.pending) == 0 {
		return m.w.Write(p)
	}
	m.pending = append(m.pending, p...)
	out := m.pending
	for _, s := range m.secrets {
		out = bytes.ReplaceAll(out, s, []byte("***"))
	}
	keep := m.heldTail(out)
	if _, err := m.w.Write(out[:len(out)-keep]); err != nil {
		return 0, err
	}
	m.pending = append(m.pending[:0], out[len(out)-keep:]...)
	return len(p), nil
}

// heldTail is the length of the longest suffix of b that is a proper
// prefix of a secret: it may be completed by the next write.
func (m *Masker) heldTail(b []byte) int {
	best := 0
	for _, s := range m.secrets {
		for n := min(len(s)-1, len(b)); n > best; n-- {
			if bytes.HasSuffix(b, s[:n]) {
				best = n
				break
			}
		}
	}
	return best
}

// Mask returns b with every secret replaced, for data that is encoded
// before it is written (BuildKit's rawjson logs are base64).
func (m *Masker) Mask(b []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.secrets {
		b = bytes.ReplaceAll(b, s, []byte("***"))
	}
	return b
}

// Flush writes what is held back.
func (m *Masker) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return nil
	}
	_, err := m.w.Write(m.pending)
	m.pending = m.pending[:0]
	return err
}

// File is a Masker in front of a terminal. It is still a console to those
// that draw on one (BuildKit's tty display takes a console.File), and its
// writes are masked.
type File struct {
	*Masker
	f *os.File
}

// NewFile masks what is written to the terminal f through m.
func NewFile(m *Masker, f *os.File) *File { return &File{Masker: m, f: f} }

func (f *File) Read(p []byte) (int, error) { return f.f.Read(p) }

// Close flushes; the terminal itself is not this writer's to close.
func (f *File) Close() error { return f.Flush() }

// Fd is the terminal's descriptor, for size and mode queries.
func (f *File) Fd() uintptr { return f.f.Fd() }

// Name is the terminal's name.
func (f *File) Name() string { return f.f.Name() }
