package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryOptions choose how the test registry is served.
type RegistryOptions struct {
	// TLS serves HTTPS with a certificate from a CA made for the test.
	TLS bool
	// Users turns on htpasswd auth with these user → password pairs.
	Users map[string]string
}

// Registry is a running distribution registry on loopback.
type Registry struct {
	// Host is 127.0.0.1:PORT, what image references use.
	Host string
	// Dir holds its storage and config.
	Dir string
	// CAFile is the PEM CA that signed its certificate (TLS only).
	CAFile string
	// CertPool trusts CAFile (TLS only).
	CertPool *x509.CertPool
	// Log is the registry's output file.
	Log string
	cmd *exec.Cmd
}

// StartRegistry runs bin/registry for the length of the test.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	bin := Bin(t, "registry")
	dir := t.TempDir()
	port := FreePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Log: filepath.Join(dir, "registry.log")}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n")
	fmt.Fprintf(&cfg, "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", filepath.Join(dir, "data"))
	fmt.Fprintf(&cfg, "http:\n  addr: %s\n", r.Host)
	if opts.TLS {
		certFile, keyFile := r.makeTLS(t)
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %s\n    key: %s\n", certFile, keyFile)
	}
	if len(opts.Users) > 0 {
		var lines []string
		for u, p := range opts.Users {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, u+":"+string(h))
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "auth:\n  htpasswd:\n    realm: slipway-test\n    path: %s\n", htpasswd)
	}
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", cfgFile)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		logf.Close()
	})
	r.waitReady(t)
	return r
}

// Scheme is http or https.
func (r *Registry) Scheme() string {
	if r.CertPool != nil {
		return "https"
	}
	return "http"
}

// Transport trusts the registry's CA.
func (r *Registry) Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.CertPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: r.CertPool, MinVersion: tls.VersionTLS12}
	}
	return tr
}

// Stop kills the registry now (to test a registry that went away).
func (r *Registry) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// Restart starts a stopped registry again on the same address and storage
// (a registry coming back under a client that retries).
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	cmd := exec.Command(r.cmd.Path, r.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = r.cmd.Stdout, r.cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd = cmd
	r.waitReady(t)
}

func (r *Registry) waitReady(t testing.TB) {
	t.Helper()
	client := &http.Client{Transport: r.Transport(), Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := client.Get(r.Scheme() + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if r.cmd.ProcessState != nil {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	log, _ := os.ReadFile(r.Log)
	t.Fatalf("registry on %s did not become ready:\n%s", r.Host, log)
}

// makeTLS writes a CA and a server certificate for 127.0.0.1/localhost.
func (r *Registry) makeTLS(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slipway test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	r.CAFile = filepath.Join(r.Dir, "ca.pem")
	certFile = filepath.Join(r.Dir, "server.pem")
	keyFile = filepath.Join(r.Dir, "server-key.pem")
	writePEM(t, r.CAFile, "CERTIFICATE", caDER)
	writePEM(t, certFile, "CERTIFICATE", srvDER)
	writePEM(t, keyFile, "EC PRIVATE KEY", srvKeyDER)
	r.CertPool = x509.NewCertPool()
	r.CertPool.AddCert(caCert)
	return certFile, keyFile
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
