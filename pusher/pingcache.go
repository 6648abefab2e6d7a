package pusher

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync"
)

// pingCache answers GET /v2/, the ping each new go-containerregistry
// transport sends (one per repository), from the first answer per
// scheme://host, so that a run touching many repositories of a registry
// pings it once. Answers are kept, and so is a TLS handshake refused by a
// plain-HTTP server; other errors (a registry restarting) are not.
type pingCache struct {
	next    http.RoundTripper
	mu      sync.Mutex
	entries map[string]*pingEntry
}

type pingEntry struct {
	mu     sync.Mutex
	done   bool
	status int
	header http.Header
	body   []byte
	err    error
}

func newPingCache(next http.RoundTripper) *pingCache {
	return &pingCache{next: next, entries: map[string]*pingEntry{}}
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	p.mu.Lock()
	e := p.entries[key]
	if e == nil {
		e = &pingEntry{}
		p.entries[key] = e
	}
	p.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.done {
		resp, err := p.next.RoundTrip(req)
		if err != nil {
			var rh tls.RecordHeaderError
			if !errors.As(err, &rh) {
				return nil, err
			}
			e.err = err
		} else {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if rerr != nil {
				return nil, rerr
			}
			e.status, e.header, e.body = resp.StatusCode, resp.Header.Clone(), body
		}
		e.done = true
	}
	if e.err != nil {
		return nil, e.err
	}
	return &http.Response{
		Status:     http.StatusText(e.status),
		StatusCode: e.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}, nil
}
