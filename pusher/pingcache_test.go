package pusher

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestRemoteOptionsPingOncePerRegistry(t *testing.T) {
	var pings, other atomic.Int64
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			pings.Add(1)
		} else {
			other.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(64, 1)
	for _, repo := range []string{"a", "b", "c"} {
		if err := remote.Write(ref(t, host+"/"+repo+":1"), img); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := RemoteOptions(Options{Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	pings.Store(0)
	for _, repo := range []string{"a", "b", "c", "a"} {
		if _, err := remote.Head(ref(t, host+"/"+repo+":1"), ro...); err != nil {
			t.Fatal(err)
		}
	}
	if n := pings.Load(); n != 1 {
		t.Errorf("%d pings of one registry for 3 repositories, want 1", n)
	}
	if n := other.Load(); n < 4 {
		t.Errorf("only %d requests besides pings", n)
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
