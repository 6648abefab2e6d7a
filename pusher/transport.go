package pusher

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// baseTransport is the bottom of every request's stack, under
// go-containerregistry's scheme and auth transports. It enforces the
// plain-HTTP rule, picks the TLS configuration per host, aborts stalled
// transfers, records Retry-After for the retry loop, and writes the debug log.
type baseTransport struct {
	insecure map[string]bool
	hosts    map[string]http.RoundTripper // by "host:port" or "host", for CAFiles
	fallback http.RoundTripper
	stall    time.Duration
	debug    *lineWriter
}

func newBaseTransport(o Options) (*baseTransport, error) {
	bt := &baseTransport{
		insecure: map[string]bool{},
		hosts:    map[string]http.RoundTripper{},
		stall:    o.StallTimeout,
		debug:    newLineWriter(o.Debug),
	}
	for _, h := range o.InsecureRegistries {
		bt.insecure[strings.ToLower(h)] = true
	}
	if o.Transport != nil {
		bt.fallback = o.Transport
		return bt, nil
	}
	def, err := newHTTPTransport(nil)
	if err != nil {
		return nil, err
	}
	bt.fallback = def
	for host, file := range o.CAFiles {
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading CA file for %s: %w", host, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading CA file for %s: %s holds no PEM certificate", host, file)
		}
		t, err := newHTTPTransport(pool)
		if err != nil {
			return nil, err
		}
		bt.hosts[strings.ToLower(host)] = t
	}
	return bt, nil
}

func newHTTPTransport(roots *x509.CertPool) (*http.Transport, error) {
	def, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("http.DefaultTransport is not an *http.Transport")
	}
	t := def.Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	// net/http's default 4 KiB buffers: a layer from a file goes out with
	// sendfile(2) and any other body in io.Copy's 32 KiB writes, which
	// bypass the buffer, so a larger one would only cost memory per
	// connection (and, for files, an extra copy of its first bytes).
	t.MaxIdleConnsPerHost = 16
	return t, nil
}

// ErrPlainHTTP is returned when a registry would be reached over plain HTTP
// without being allowed to.
var ErrPlainHTTP = errors.New("plain HTTP not allowed for this registry")

func (bt *baseTransport) allowPlain(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	return bt.insecure[strings.ToLower(u.Host)] || bt.insecure[host]
}

func (bt *baseTransport) route(u *url.URL) http.RoundTripper {
	if t, ok := bt.hosts[strings.ToLower(u.Host)]; ok {
		return t
	}
	if t, ok := bt.hosts[strings.ToLower(u.Hostname())]; ok {
		return t
	}
	return bt.fallback
}

func (bt *baseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !bt.allowPlain(req.URL) {
		closeBody(req)
		return nil, &hostError{host: req.URL.Host, kind: ErrPlainHTTP}
	}
	start := time.Now()
	resp, err := bt.stalling(req)
	if err != nil {
		bt.debug.printf("http: %s %s: %v", req.Method, redactURL(req.URL), err)
		return nil, err
	}
	bt.debug.printf("http: %s %s %d (%s)", req.Method, redactURL(req.URL), resp.StatusCode, time.Since(start).Round(time.Millisecond))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			if h, ok := req.Context().Value(hintKey{}).(*retryHint); ok {
				h.wait(d)
			}
		}
	}
	return resp, nil
}

// errStalled marks a request aborted because no byte moved for a while.
var errStalled = errors.New("transfer stalled")

type stallError struct{ idle time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("transfer stalled: no progress for %s", e.idle)
}
func (e *stallError) Unwrap() error { return errStalled }

// Temporary lets go-containerregistry's own retry (RemoteOptions) retry it.
func (e *stallError) Temporary() bool { return true }

// stalling sends req with a watchdog that cancels it when neither the request
// body nor the response body moves for bt.stall, waiting for the response
// included.
func (bt *baseTransport) stalling(req *http.Request) (*http.Response, error) {
	inner := bt.route(req.URL)
	if bt.stall <= 0 {
		return inner.RoundTrip(req)
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{idle: bt.stall}
	w.timer = time.AfterFunc(bt.stall, func() { cancel(errStalled) })
	r2 := req.WithContext(ctx)
	if f, ok := req.Body.(*os.File); ok {
		// Left unwrapped so that net/http can sendfile(2) it; its
		// progress shows in its offset instead.
		stop := watchOffset(f, func(int64) { w.touch() })
		defer stop()
	} else if req.Body != nil && req.Body != http.NoBody {
		r2.Body = &activityReader{rc: req.Body, w: w}
		if req.GetBody != nil {
			get := req.GetBody
			r2.GetBody = func() (io.ReadCloser, error) {
				rc, err := get()
				if err != nil {
					return nil, err
				}
				return &activityReader{rc: rc, w: w}, nil
			}
		}
	}
	resp, err := inner.RoundTrip(r2)
	if err != nil {
		w.timer.Stop()
		stalled := errors.Is(context.Cause(ctx), errStalled) && req.Context().Err() == nil
		cancel(nil)
		if stalled {
			return nil, &stallError{idle: bt.stall}
		}
		return nil, err
	}
	w.touch()
	resp.Body = &activityBody{rc: resp.Body, w: w, cancel: cancel, ctx: ctx, parent: req.Context(), idle: bt.stall}
	return resp, nil
}

// watchOffset calls moved with the growth of f's offset, polled every
// 100 ms, until stop is called. A file sent by sendfile(2) advances its
// offset as the kernel sends it, without a Read that could be counted.
func watchOffset(f *os.File, moved func(delta int64)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	last, _ := f.Seek(0, io.SeekCurrent)
	poll := func() {
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos != last {
			moved(pos - last)
			last = pos
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				poll()
				return
			case <-t.C:
				poll()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}

type watchdog struct {
	idle  time.Duration
	timer *time.Timer
}

func (w *watchdog) touch() { w.timer.Reset(w.idle) }

type activityReader struct {
	rc io.ReadCloser
	w  *watchdog
}

func (r *activityReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.w.touch()
	}
	return n, err
}

func (r *activityReader) Close() error { return r.rc.Close() }

type activityBody struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelCauseFunc
	ctx    context.Context
	parent context.Context
	idle   time.Duration
	once   sync.Once
}

func (b *activityBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.touch()
	}
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), errStalled) && b.parent.Err() == nil {
		err = &stallError{idle: b.idle}
	}
	return n, err
}

func (b *activityBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		b.w.timer.Stop()
		b.cancel(nil)
	})
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// retryHint carries the longest Retry-After seen by the requests of one
// attempt to the retry loop, through the request context.
type retryHint struct {
	mu    sync.Mutex
	after time.Duration
}

type hintKey struct{}

func (h *retryHint) wait(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d > h.after {
		h.after = d
	}
}

func (h *retryHint) get() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.after
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// queryAllowed lists query parameters that carry no secret; any other value
// (upload state, presigned-URL signatures) is redacted in logs and errors.
var queryAllowed = map[string]bool{"scope": true, "service": true, "mount": true, "from": true, "digest": true, "n": true, "last": true}

func redactURL(u *url.URL) string {
	r := *u
	r.User = nil
	if r.RawQuery != "" {
		q := r.Query()
		for k, vs := range q {
			if !queryAllowed[k] {
				for i := range vs {
					vs[i] = "REDACTED"
				}
			}
		}
		r.RawQuery = q.Encode()
	}
	return r.String()
}

// lineWriter serialises lines written by concurrent goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: w} }

func (l *lineWriter) printf(format string, args ...any) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
