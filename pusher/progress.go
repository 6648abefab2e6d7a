package pusher

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"
)

// progress reports per-blob bytes to a writer: bars redrawn in place on a
// terminal, plain lines elsewhere. A nil *progress, or one without a
// writer, is silent.
type progress struct {
	w   io.Writer
	bar bool

	mu      sync.Mutex
	active  []*task
	pending []string // finished lines not yet drawn (bar mode)
	drawn   int      // bar rows drawn last time

	stop chan struct{}
	done chan struct{}
}

type task struct {
	p       *progress
	label   string
	size    int64
	n       atomic.Int64
	started time.Time
	said    time.Time // last plain progress line
}

const plainEvery = 5 * time.Second

func newProgress(w io.Writer, mode ProgressMode) *progress {
	if w == nil {
		return &progress{}
	}
	bar := mode == ProgressBar
	if mode == ProgressAuto {
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			bar = true
		}
	}
	p := &progress{w: w, bar: bar, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	every := time.Second
	if p.bar {
		every = 150 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.tick()
		}
	}
}

func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar {
		p.redraw()
		return
	}
	now := time.Now()
	for _, t := range p.active {
		if now.Sub(t.said) >= plainEvery && t.n.Load() > 0 {
			t.said = now
			fmt.Fprintf(p.w, "%s: %s\n", t.label, t.ratio())
		}
	}
}

// redraw moves up over the bars drawn last time, prints the lines finished
// since, then the bars of the running tasks. Caller holds p.mu.
func (p *progress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	rows := 0
	for _, l := range p.pending {
		b.WriteString("\r\x1b[2K" + l + "\n")
		rows++
	}
	for _, t := range p.active {
		b.WriteString("\r\x1b[2K" + t.barLine() + "\n")
		rows++
	}
	if extra := p.drawn - rows; extra > 0 {
		b.WriteString(strings.Repeat("\x1b[2K\n", extra))
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	p.pending = nil
	p.drawn = len(p.active)
	if b.Len() > 0 {
		io.WriteString(p.w, b.String())
	}
}

func (p *progress) close() {
	if p == nil || p.w == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar {
		p.redraw()
	}
}

// linef reports one finished event.
func (p *progress) linef(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emit(fmt.Sprintf(format, args...))
}

// emit writes or queues a finished line. Caller holds p.mu.
func (p *progress) emit(line string) {
	if p.bar {
		p.pending = append(p.pending, line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// start registers a blob transfer to repo.
func (p *progress) start(repo string, d v1.Hash, size int64) *task {
	t := &task{p: p, label: repo + " " + shortDigest(d), size: size, started: time.Now()}
	if p == nil || p.w == nil {
		return t
	}
	t.said = t.started
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = append(p.active, t)
	return t
}

func (t *task) add(n int64) { t.n.Add(n) }
func (t *task) reset()      { t.n.Store(0) }

func (t *task) done(how string) {
	if how == "uploaded" {
		el := time.Since(t.started)
		how = fmt.Sprintf("uploaded %s in %s", humanBytes(t.size), el.Round(10*time.Millisecond))
	}
	t.finish(how)
}

func (t *task) fail() { t.finish("failed") }

func (t *task) finish(how string) {
	p := t.p
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, a := range p.active {
		if a == t {
			p.active = append(p.active[:i], p.active[i+1:]...)
			break
		}
	}
	p.emit(t.label + ": " + how)
}

func (t *task) ratio() string {
	n := t.n.Load()
	pct := 100
	if t.size > 0 {
		pct = int(n * 100 / t.size)
	}
	return fmt.Sprintf("%3d%% %s/%s", pct, humanBytes(n), humanBytes(t.size))
}

func (t *task) barLine() string {
	const width = 30
	n := t.n.Load()
	fill := width
	if t.size > 0 {
		fill = int(n * width / t.size)
	}
	fill = min(max(fill, 0), width)
	return fmt.Sprintf("%s [%s%s] %s", t.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), t.ratio())
}

func shortDigest(d v1.Hash) string {
	if len(d.Hex) > 12 {
		return d.Algorithm + ":" + d.Hex[:12]
	}
	return d.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
