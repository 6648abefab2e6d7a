package verify

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/slipway-build/slipway/internal/access"
)

// TestRegistryCauses: each way the registry can refuse an image is named
// as the node would meet it.
func TestRegistryCauses(t *testing.T) {
	ctx := context.Background()
	tlsSrv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	tlsHost := strings.TrimPrefix(tlsSrv.URL, "https://")

	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	authSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "right" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer authSrv.Close()
	authHost := strings.TrimPrefix(authSrv.URL, "http://")

	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.json")
	if err := os.WriteFile(wrong, []byte(`{"auths":{"`+authHost+`":{"username":"u","password":"wrong"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	withSecret, err := access.New(nil, access.Options{PullSecrets: []string{wrong}, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ref string
		acc       *access.Access
		want      string
	}{
		{"unknown CA", tlsHost + "/a:1", newAccess(t), "TLS: the certificate of " + tlsHost + " is signed by an unknown authority"},
		{"no credentials", authHost + "/a:1", newAccess(t), "no credentials for " + authHost + ": the registry answered 401"},
		{"refused credentials", authHost + "/a:1", withSecret, "the credentials for " + authHost + " were refused (401)"},
		{"connection refused", closedHost + "/a:1", newAccess(t), "cannot connect to " + closedHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(ctx, []Use{{Image: tc.ref}}, Options{Access: tc.acc})
			if err != nil {
				t.Fatal(err)
			}
			f := res.Findings[0]
			if f.Rule != RuleExists || f.Severity != Error || !strings.Contains(f.Message, tc.want) || f.Hint == "" && tc.name != "refused credentials" {
				t.Errorf("got %s %s: %q (hint %q), want %q", f.Severity, f.Rule, f.Message, f.Hint, tc.want)
			}
			if strings.Contains(f.Message, "wrong") {
				t.Errorf("the message shows the password: %s", f.Message)
			}
		})
	}
}
