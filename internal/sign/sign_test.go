package sign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature/kms/fake"

	"github.com/slipway-build/slipway/internal/testenv"
)

const (
	testPassword  = "s3cr3t-PASSW0RD-for-tests"
	wrongPassword = "wr0ng-PASSW0RD-for-tests"
)

func TestGenerateKeyPairFormat(t *testing.T) {
	var asked []bool
	priv, pub, err := GenerateKeyPair(func(confirm bool) ([]byte, error) {
		asked = append(asked, confirm)
		return []byte(testPassword), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []bool{true}) {
		t.Errorf("password asked with confirm=%v, want [true]", asked)
	}
	for _, c := range []struct {
		pem      []byte
		wantType string
	}{
		{priv, "ENCRYPTED SIGSTORE PRIVATE KEY"},
		{pub, "PUBLIC KEY"},
	} {
		b, rest := pem.Decode(c.pem)
		if b == nil || b.Type != c.wantType || len(bytes.TrimSpace(rest)) != 0 {
			t.Errorf("PEM = %q, want one %q block", c.pem, c.wantType)
		}
	}
	if bytes.Contains(priv, []byte(testPassword)) {
		t.Error("private key contains the password in clear")
	}
	_, _, err = GenerateKeyPair(func(bool) ([]byte, error) { return nil, ErrNoPassword })
	if !errors.Is(err, ErrNoPassword) {
		t.Errorf("GenerateKeyPair with failing password = %v, want ErrNoPassword", err)
	}
}

func TestWriteKeyPair(t *testing.T) {
	priv, pub, err := GenerateKeyPair(fixedPass(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("writes", func(t *testing.T) {
		dir := t.TempDir()
		keyPath, pubPath, err := WriteKeyPair(filepath.Join(dir, "release"), priv, pub)
		if err != nil {
			t.Fatal(err)
		}
		if keyPath != filepath.Join(dir, "release.key") || pubPath != filepath.Join(dir, "release.pub") {
			t.Errorf("paths = %s, %s", keyPath, pubPath)
		}
		for _, c := range []struct {
			path string
			data []byte
			mode fs.FileMode
		}{{keyPath, priv, 0o600}, {pubPath, pub, 0o644}} {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			// umask may only remove bits; the key must never be readable by others.
			if fi.Mode().Perm()&^c.mode != 0 {
				t.Errorf("%s mode %v, want at most %v", c.path, fi.Mode().Perm(), c.mode)
			}
			if !bytes.Equal(mustRead(t, c.path), c.data) {
				t.Errorf("%s content differs", c.path)
			}
		}
	})
	for _, existing := range []string{"cosign.key", "cosign.pub"} {
		t.Run("refuses existing "+existing, func(t *testing.T) {
			dir := t.TempDir()
			old := []byte("keep me")
			if err := os.WriteFile(filepath.Join(dir, existing), old, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := WriteKeyPair(filepath.Join(dir, "cosign"), priv, pub)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("err = %v, want fs.ErrExist", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || !bytes.Equal(mustRead(t, filepath.Join(dir, existing)), old) {
				t.Errorf("directory changed: %v", entries)
			}
		})
	}
}

func TestPasswordFromEnvOrTerminal(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	tests := []struct {
		name    string
		env     map[string]string
		stdin   *os.File
		want    string
		wantErr error
	}{
		{"env", map[string]string{PasswordEnv: "from-env"}, r, "from-env", nil},
		{"empty env is a password", map[string]string{PasswordEnv: ""}, nil, "", nil},
		{"no env, no stdin", nil, nil, "", ErrNoPassword},
		{"no env, stdin a pipe", nil, r, "", ErrNoPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			for _, confirm := range []bool{false, true} {
				got, err := PasswordFromEnvOrTerminal(env(tt.env), tt.stdin, &stderr)(confirm)
				if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
					t.Errorf("confirm=%v: got %q, %v; want %q, %v", confirm, got, err, tt.want, tt.wantErr)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("prompted without a terminal: %q", stderr.String())
			}
		})
	}
}

func TestPasswordPromptOnTerminal(t *testing.T) {
	tests := []struct {
		name    string
		confirm bool
		typed   string
		want    string
		prompts int
		wantErr bool
	}{
		{"once", false, "typed-pw\n", "typed-pw", 1, false},
		{"confirmed", true, "typed-pw\ntyped-pw\n", "typed-pw", 2, false},
		{"mismatch", true, "typed-pw\nother-pw\n", "", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, tty := testenv.PTY(t)
			if _, err := master.Write([]byte(tt.typed)); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, master) // drain the terminal's output
			var stderr bytes.Buffer
			got, err := PasswordFromEnvOrTerminal(func(string) (string, bool) { return "", false }, tty, &stderr)(tt.confirm)
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "typed-pw") {
				t.Errorf("error reveals the password: %v", err)
			}
			if n := strings.Count(stderr.String(), "Enter password"); n != tt.prompts {
				t.Errorf("%d prompts, want %d: %q", n, tt.prompts, stderr.String())
			}
			if strings.Contains(stderr.String(), "typed-pw") {
				t.Errorf("prompt output shows the password: %q", stderr.String())
			}
		})
	}
}

func TestLoadSignerErrors(t *testing.T) {
	dir := t.TempDir()
	keyPath, pubPath := newKeyFiles(t, dir, testPassword)
	keyPEM := mustRead(t, keyPath)
	notPEM := filepath.Join(dir, "notpem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ecPEM := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(ecPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		keyRef  string
		pass    PassFunc
		is      error
		contain string
	}{
		{"wrong password", keyPath, fixedPass(wrongPassword), ErrWrongPassword, keyPath},
		{"no password source", keyPath, func(bool) ([]byte, error) { return nil, ErrNoPassword }, ErrNoPassword, "COSIGN_PASSWORD"},
		{"empty password for encrypted key", keyPath, nil, ErrWrongPassword, ""},
		{"missing file", filepath.Join(dir, "nope.key"), fixedPass(testPassword), fs.ErrNotExist, "nope.key"},
		{"public key", pubPath, fixedPass(testPassword), nil, "public key"},
		{"not PEM", notPEM, fixedPass(testPassword), nil, "not a PEM file"},
		{"plain EC key", ecPEM, fixedPass(testPassword), nil, "import-key-pair"},
		{"unknown scheme", "k8s://ns/secret", fixedPass(testPassword), nil, "unsupported key URI scheme"},
		{"empty ref", "", fixedPass(testPassword), nil, "no key given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSigner(context.Background(), tt.keyRef, tt.pass)
			if err == nil {
				t.Fatal("LoadSigner succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contain) {
				t.Errorf("err = %q, want it to mention %q", err, tt.contain)
			}
			assertNoSecret(t, err.Error(), keyPEM)
		})
	}
}

// assertNoSecret fails if msg contains a password or any line of a PEM body.
func assertNoSecret(t *testing.T, msg string, pems ...[]byte) {
	t.Helper()
	for _, pw := range []string{testPassword, wrongPassword} {
		if strings.Contains(msg, pw) {
			t.Errorf("message reveals a password: %q", msg)
		}
	}
	for _, p := range pems {
		for _, line := range strings.Split(string(p), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line) {
				t.Errorf("message reveals key bytes: %q", msg)
			}
		}
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	dir := t.TempDir()
	keyPath, pubPath := newKeyFiles(t, dir, testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	otherDir := t.TempDir()
	_, otherPub := newKeyFiles(t, otherDir, testPassword)
	opts := testOpts()

	signed := pushImage(t, host, "app", "v1")
	unsigned := pushImage(t, host, "app", "v2")
	missing := signed.Context().Digest("sha256:" + strings.Repeat("ab", 32))

	sig, err := signer.Sign(ctx, signed, opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	wantTag := host + "/app:" + strings.Replace(signed.DigestStr(), ":", "-", 1) + ".sig"
	if sig.Tag().String() != wantTag || sig.Existed || sig.Image != signed {
		t.Errorf("Sign = %+v (tag %s), want new signature at %s", sig, sig.Tag(), wantTag)
	}
	if !bytes.Equal(signer.PublicKeyPEM(), mustRead(t, pubPath)) {
		t.Error("PublicKeyPEM differs from the .pub file")
	}

	tests := []struct {
		name    string
		ref     string
		pub     string
		wantErr error
		digest  name.Digest
	}{
		{"by digest", signed.String(), pubPath, nil, signed},
		{"by tag", host + "/app:v1", pubPath, nil, signed},
		{"foreign key", signed.String(), otherPub, ErrKeyMismatch, signed},
		{"unsigned", unsigned.String(), pubPath, ErrUnsigned, unsigned},
		{"unsigned by tag", host + "/app:v2", pubPath, ErrUnsigned, unsigned},
		{"missing digest", missing.String(), pubPath, ErrNotFound, name.Digest{}},
		{"missing tag", host + "/app:nope", pubPath, ErrNotFound, name.Digest{}},
		{"missing repository", host + "/nothing:v1", pubPath, ErrNotFound, name.Digest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, err := name.ParseReference(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(ctx, ref, tt.pub, opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.ref) {
					t.Errorf("error %q does not name %s", err, tt.ref)
				}
				// Exactly one of the kinds, so a caller's message is right.
				n := 0
				for _, k := range []error{ErrNotFound, ErrUnsigned, ErrKeyMismatch, ErrAnnotationMismatch} {
					if errors.Is(err, k) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("error %q matches %d kinds", err, n)
				}
				return
			}
			if res.Digest != tt.digest || len(res.Signatures) != 1 {
				t.Errorf("Verify = %+v, want digest %s with one signature", res, tt.digest)
			}
		})
	}

	t.Run("sign missing image", func(t *testing.T) {
		_, err := signer.Sign(ctx, missing, opts)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Sign = %v, want ErrNotFound", err)
		}
		if n := sigLayers(t, missing, ""); n != -1 {
			t.Errorf("signature stored for a missing image (%d layers)", n)
		}
	})

	t.Run("signer's own verifier", func(t *testing.T) {
		if _, err := signer.Verifier().Verify(ctx, signed, opts); err != nil {
			t.Fatal(err)
		}
		v, err := NewVerifier(signer.PublicKeyPEM(), "inline")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, signed, opts); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignIdempotent(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	keyPath, _ := newKeyFiles(t, t.TempDir(), testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	otherKey, _ := newKeyFiles(t, t.TempDir(), testPassword)
	other := loadSigner(t, otherKey, testPassword)
	d := pushImage(t, host, "app", "v1")
	opts := testOpts()

	first, err := signer.Sign(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := signer.Sign(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Existed || again.Ref != first.Ref {
		t.Errorf("second Sign = %+v, want Existed at %s", again, first.Ref)
	}
	if n := sigLayers(t, d, ""); n != 1 {
		t.Fatalf("%d signatures after signing twice, want 1", n)
	}

	// Different annotations or another key are new signatures.
	withAnn := opts
	withAnn.Annotations = map[string]string{"git.commit": "abc123"}
	if s, err := signer.Sign(ctx, d, withAnn); err != nil || s.Existed {
		t.Fatalf("Sign with annotations = %+v, %v; want a new signature", s, err)
	}
	if s, err := other.Sign(ctx, d, opts); err != nil || s.Existed {
		t.Fatalf("Sign with another key = %+v, %v; want a new signature", s, err)
	}
	if n := sigLayers(t, d, ""); n != 3 {
		t.Fatalf("%d signatures, want 3", n)
	}
	if s, err := signer.Sign(ctx, d, withAnn); err != nil || !s.Existed {
		t.Fatalf("re-Sign with annotations = %+v, %v; want Existed", s, err)
	}
	if n := sigLayers(t, d, ""); n != 3 {
		t.Fatalf("%d signatures, want still 3", n)
	}
}

func TestAnnotations(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	keyPath, pubPath := newKeyFiles(t, t.TempDir(), testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	d := pushImage(t, host, "app", "v1")
	opts := testOpts()
	opts.Annotations = map[string]string{"git.commit": "0123abcd", "git.tag": "v1.2.3"}
	if _, err := signer.Sign(ctx, d, opts); err != nil {
		t.Fatal(err)
	}

	// The payload itself carries them, in cosign's "optional" section.
	sigImg, err := remote.Image(d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1)+".sig"), anon()...)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := sigImg.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	var payload struct {
		Critical struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			}
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			}
			Type string
		}
		Optional map[string]string
	}
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	if payload.Critical.Type != "cosign container image signature" ||
		payload.Critical.Image.DockerManifestDigest != d.DigestStr() ||
		payload.Critical.Identity.DockerReference != d.Context().Name() ||
		payload.Optional["git.commit"] != "0123abcd" || payload.Optional["git.tag"] != "v1.2.3" {
		t.Errorf("payload = %s", raw)
	}

	tests := []struct {
		name    string
		require map[string]string
		wantErr error
	}{
		{"none required", nil, nil},
		{"subset", map[string]string{"git.tag": "v1.2.3"}, nil},
		{"all", opts.Annotations, nil},
		{"wrong value", map[string]string{"git.tag": "v9"}, ErrAnnotationMismatch},
		{"absent", map[string]string{"team": "x"}, ErrAnnotationMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vo := testOpts()
			vo.Annotations = tt.require
			res, err := Verify(ctx, d, pubPath, vo)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
			if err == nil && res.Signatures[0].Annotations["git.commit"] != "0123abcd" {
				t.Errorf("annotations = %v", res.Signatures[0].Annotations)
			}
		})
	}
}

func TestMultiPlatform(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	keyPath, pubPath := newKeyFiles(t, t.TempDir(), testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	idx, platforms := pushIndex(t, host, "multi", "v1")
	opts := testOpts()

	all, err := Manifests(ctx, idx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]name.Digest{idx}, platforms...); !slices.Equal(all, want) {
		t.Fatalf("Manifests = %v, want %v", all, want)
	}
	single, err := Manifests(ctx, platforms[0], opts)
	if err != nil || !slices.Equal(single, platforms[:1]) {
		t.Fatalf("Manifests(platform) = %v, %v", single, err)
	}
	if _, err := Manifests(ctx, idx.Context().Digest("sha256:"+strings.Repeat("cd", 32)), opts); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Manifests(missing) = %v, want ErrNotFound", err)
	}

	sigs, err := signer.SignAll(ctx, all, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 3 {
		t.Fatalf("SignAll returned %d signatures", len(sigs))
	}
	tag, err := name.NewTag(host + "/multi:v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []name.Reference{idx, tag, platforms[0], platforms[1]} {
		res, err := Verify(ctx, d, pubPath, opts)
		if err != nil {
			t.Errorf("Verify(%s): %v", d, err)
			continue
		}
		if _, isTag := d.(name.Tag); isTag && res.Digest != idx {
			t.Errorf("tag resolved to %s, want the index %s", res.Digest, idx)
		}
	}
}

func TestSignatureRepository(t *testing.T) {
	ctx := context.Background()
	host := memRegistry(t)
	keyPath, pubPath := newKeyFiles(t, t.TempDir(), testPassword)
	signer := loadSigner(t, keyPath, testPassword)
	d := pushImage(t, host, "app", "v1")
	opts := testOpts()
	repo, err := name.NewRepository(host + "/signatures")
	if err != nil {
		t.Fatal(err)
	}
	opts.Repository = repo

	sig, err := signer.Sign(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := sig.Ref.Context().String(); got != host+"/signatures" {
		t.Errorf("signature stored in %s, want %s/signatures", got, host)
	}
	if n := sigLayers(t, d, host+"/signatures"); n != 1 {
		t.Errorf("%d signatures in the signature repository, want 1", n)
	}
	if n := sigLayers(t, d, ""); n != -1 {
		t.Errorf("signature also stored next to the image")
	}
	if _, err := Verify(ctx, d, pubPath, opts); err != nil {
		t.Errorf("Verify with Repository: %v", err)
	}
	if _, err := Verify(ctx, d, pubPath, testOpts()); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Verify without Repository = %v, want ErrUnsigned", err)
	}
}

func TestKMSKey(t *testing.T) {
	// The fake provider keeps its key in the context; it stands for the real
	// providers, which register the same way.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), fake.KmsCtxKey{}, priv)
	host := memRegistry(t)
	d := pushImage(t, host, "app", "v1")
	opts := testOpts()

	signer, err := LoadSigner(ctx, "fakekms://key", func(bool) ([]byte, error) {
		t.Error("a password was asked for a KMS key")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Sign(ctx, d, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, d, "fakekms://key", opts); err != nil {
		t.Errorf("Verify with the KMS key: %v", err)
	}
	pubFile := filepath.Join(t.TempDir(), "kms.pub")
	if err := os.WriteFile(pubFile, signer.PublicKeyPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, d, pubFile, opts); err != nil {
		t.Errorf("Verify with the exported public key: %v", err)
	}
}

func TestKMSProvidersRegistered(t *testing.T) {
	for _, scheme := range []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"} {
		if !isKMS(scheme + "x") {
			t.Errorf("%s is not a registered KMS provider", scheme)
		}
	}
}

func TestLoadVerifierErrors(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := newKeyFiles(t, dir, testPassword)
	keyPEM := mustRead(t, keyPath)
	tests := []struct {
		name    string
		keyRef  string
		contain string
	}{
		{"private key", keyPath, "not a public key"},
		{"missing", filepath.Join(dir, "nope.pub"), "nope.pub"},
		{"unknown scheme", "https://example.com/cosign.pub", "unsupported key URI scheme"},
		{"empty", "", "no key given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadVerifier(context.Background(), tt.keyRef)
			if err == nil || !strings.Contains(err.Error(), tt.contain) {
				t.Fatalf("LoadVerifier = %v, want error mentioning %q", err, tt.contain)
			}
			assertNoSecret(t, err.Error(), keyPEM)
		})
	}
}
