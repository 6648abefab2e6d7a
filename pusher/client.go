package pusher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// repoClient speaks the distribution API to one repository, through an
// authenticated go-containerregistry transport. Each method is one step of
// the protocol; retrying is the caller's business.
type repoClient struct {
	repo   name.Repository
	client *http.Client
}

var manifestAccept = strings.Join([]string{
	string(types.OCIImageIndex),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestList),
	string(types.DockerManifestSchema2),
}, ",")

func (c *repoClient) url(path string) string {
	u := url.URL{Scheme: c.repo.Scheme(), Host: c.repo.RegistryStr(), Path: "/v2/" + c.repo.RepositoryStr() + path}
	return u.String()
}

func (c *repoClient) do(ctx context.Context, req *http.Request) (*http.Response, error) {
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, redactError(err)
	}
	return resp, nil
}

// redactError keeps upload-session state and presigned-URL signatures out
// of error text.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = redactURL(u)
		}
	}
	return err
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// blobExists asks whether the repository already holds the blob.
func (c *repoClient) blobExists(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequest(http.MethodHead, c.url("/blobs/"+d.String()), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.do(ctx, req)
	if err != nil {
		return false, err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// startUpload opens an upload session. With from set it first asks the
// registry to mount the blob from that repository of the same registry;
// mounted reports that it did, and no upload is needed.
func (c *repoClient) startUpload(ctx context.Context, d v1.Hash, from string) (loc string, mounted bool, err error) {
	u := c.url("/blobs/uploads/")
	if from != "" {
		u += "?" + url.Values{"mount": {d.String()}, "from": {from}}.Encode()
	}
	req, err := http.NewRequest(http.MethodPost, u, nil)
	if err != nil {
		return "", false, err
	}
	resp, err := c.do(ctx, req)
	if err != nil {
		return "", false, err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, http.StatusCreated, http.StatusAccepted); err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusCreated {
		if from == "" {
			return "", false, fmt.Errorf("POST %s: registry answered 201 to a plain upload request", redactURL(resp.Request.URL))
		}
		return "", true, nil
	}
	loc, err = nextLocation(resp, "")
	return loc, false, err
}

// upload streams the blob into the session at loc and returns where to
// commit it. The body is read from the blob's source as it is sent, never
// held in memory.
func (c *repoClient) upload(ctx context.Context, loc string, b *blob, count func(int64)) (string, error) {
	rc, err := b.open()
	if err != nil {
		return "", fmt.Errorf("opening blob %s: %w", b.digest, err)
	}
	var body io.ReadCloser = rc
	if f, ok := rc.(*os.File); ok {
		// A file goes to net/http as it is, so that it can be sent with
		// sendfile(2); progress comes from its offset.
		if count != nil {
			stop := watchOffset(f, count)
			defer stop()
		}
	} else if count != nil {
		body = &countingReader{rc: rc, count: count}
	}
	req, err := http.NewRequest(http.MethodPatch, loc, body)
	if err != nil {
		rc.Close()
		return "", err
	}
	// No GetBody: a broken upload is restarted in a new session by the
	// retry loop, never replayed into this one.
	req.ContentLength = b.size
	if b.size == 0 {
		req.Body = http.NoBody
		rc.Close()
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(ctx, req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, http.StatusAccepted, http.StatusNoContent, http.StatusCreated); err != nil {
		return "", err
	}
	return nextLocation(resp, loc)
}

// commit closes the upload session at loc, naming the blob's digest.
func (c *repoClient) commit(ctx context.Context, loc string, d v1.Hash) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodPut, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer drain(resp)
	return transport.CheckError(resp, http.StatusCreated, http.StatusNoContent)
}

// manifestExists asks whether the repository holds the manifest digest.
func (c *repoClient) manifestExists(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequest(http.MethodHead, c.url("/manifests/"+d.String()), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := c.do(ctx, req)
	if err != nil {
		return false, err
	}
	defer drain(resp)
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK, nil
}

// putManifest stores m under ref, a digest or a tag.
func (c *repoClient) putManifest(ctx context.Context, ref string, m *manifest) error {
	req, err := http.NewRequest(http.MethodPut, c.url("/manifests/"+ref), bytes.NewReader(m.raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(m.mediaType))
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer drain(resp)
	return transport.CheckError(resp, http.StatusOK, http.StatusCreated, http.StatusAccepted)
}

// resolve returns the digest the tag points at, from the registry.
func (c *repoClient) resolve(ctx context.Context, tag string) (v1.Hash, error) {
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, err := http.NewRequest(method, c.url("/manifests/"+tag), nil)
		if err != nil {
			return v1.Hash{}, err
		}
		req.Header.Set("Accept", manifestAccept)
		resp, err := c.do(ctx, req)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			drain(resp)
			return v1.Hash{}, err
		}
		if method == http.MethodGet {
			// Some registries leave Docker-Content-Digest out: hash the bytes.
			h, _, err := v1.SHA256(io.LimitReader(resp.Body, 16<<20))
			resp.Body.Close()
			return h, err
		}
		dcd := resp.Header.Get("Docker-Content-Digest")
		drain(resp)
		if dcd != "" {
			return v1.NewHash(dcd)
		}
	}
	panic("unreachable")
}

// nextLocation reads the Location of the next upload step, relative to the
// request. A registry may point at another host (blob storage), but not at
// a private or loopback address of another host.
func nextLocation(resp *http.Response, fallback string) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		if fallback != "" {
			return fallback, nil
		}
		return "", fmt.Errorf("%s %s: no Location in the registry's answer", resp.Request.Method, redactURL(resp.Request.URL))
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("%s %s: bad Location: %w", resp.Request.Method, redactURL(resp.Request.URL), err)
	}
	r := resp.Request.URL.ResolveReference(u)
	if r.Host != resp.Request.URL.Host {
		if ip := net.ParseIP(r.Hostname()); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			return "", fmt.Errorf("%s %s: refusing to follow Location to %s", resp.Request.Method, redactURL(resp.Request.URL), r.Host)
		}
	}
	return r.String(), nil
}

type countingReader struct {
	rc    io.ReadCloser
	count func(int64)
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.count(int64(n))
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }
