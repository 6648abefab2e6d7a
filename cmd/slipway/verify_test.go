package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/testenv"
)

// signTestRegistry starts an in-memory registry and returns its host:port.
func signTestRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

var signTestOpts = sign.Options{RemoteOptions: []remote.Option{remote.WithAuth(authn.Anonymous)}}

// pushSignTestImage pushes a small random image as host/repo:tag.
func pushSignTestImage(t *testing.T, host, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, signTestOpts.RemoteOptions...); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	return ref.Context().Digest(h.String())
}

// signTestKeys writes a key pair as dir/prefix.{key,pub} and returns a
// signer for it and the .pub path.
func signTestKeys(t *testing.T, dir, prefix string) (*sign.Signer, string) {
	t.Helper()
	pass := func(bool) ([]byte, error) { return []byte(keygenTestPassword), nil }
	priv, pub, err := sign.GenerateKeyPair(pass)
	if err != nil {
		t.Fatal(err)
	}
	keyPath, pubPath, err := sign.WriteKeyPair(filepath.Join(dir, prefix), priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadSigner(context.Background(), keyPath, pass)
	if err != nil {
		t.Fatal(err)
	}
	return s, pubPath
}

func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	host := signTestRegistry(t)
	dir := t.TempDir()
	signer, pub := signTestKeys(t, dir, "cosign")
	other, _ := signTestKeys(t, dir, "other")

	signed := pushSignTestImage(t, host, "app", "signed")
	unsigned := pushSignTestImage(t, host, "app", "unsigned")
	foreign := pushSignTestImage(t, host, "app", "foreign")
	annotated := pushSignTestImage(t, host, "app", "annotated")
	elsewhere := pushSignTestImage(t, host, "app", "elsewhere")
	if _, err := signer.Sign(ctx, signed, signTestOpts); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Sign(ctx, foreign, signTestOpts); err != nil {
		t.Fatal(err)
	}
	ann := signTestOpts
	ann.Annotations = map[string]string{"git.tag": "v1"}
	if _, err := signer.Sign(ctx, annotated, ann); err != nil {
		t.Fatal(err)
	}
	sigRepo := host + "/signatures"
	inRepo := signTestOpts
	inRepo.Repository, _ = name.NewRepository(sigRepo)
	if _, err := signer.Sign(ctx, elsewhere, inRepo); err != nil {
		t.Fatal(err)
	}
	tag := func(t string) string { return host + "/app:" + t }

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStdout []string // lines, in order
		wantStderr []string // substrings
	}{
		{
			name: "all verified", args: []string{"--key", pub, tag("signed"), signed.String()},
			wantStdout: []string{tag("signed") + "@" + signed.DigestStr(), signed.String() + "@" + signed.DigestStr()},
		},
		{
			name: "key relative to -C", args: []string{"-C", dir, "--key", "cosign.pub", tag("signed")},
			wantStdout: []string{tag("signed") + "@" + signed.DigestStr()},
		},
		{
			name: "default key cosign.pub in -C", args: []string{"-C", dir, tag("signed")},
			wantStdout: []string{tag("signed") + "@" + signed.DigestStr()},
		},
		{
			name: "failures are listed", args: []string{"--key", pub, tag("signed"), tag("unsigned"), tag("foreign"), tag("missing"), unsigned.String()},
			wantCode:   1,
			wantStdout: []string{tag("signed") + "@" + signed.DigestStr()},
			wantStderr: []string{
				tag("unsigned") + ": unsigned",
				tag("foreign") + ": signed by another key",
				tag("missing") + ": missing",
				unsigned.String() + ": unsigned",
				"slipway: verify: 4 of 5 images failed",
			},
		},
		{
			name: "annotation required", args: []string{"--key", pub, "-a", "git.tag=v1", tag("annotated")},
			wantStdout: []string{tag("annotated") + "@" + annotated.DigestStr()},
		},
		{
			name: "annotation differs", args: []string{"--key", pub, "-a", "git.tag=v2", tag("annotated"), tag("signed")},
			wantCode:   1,
			wantStderr: []string{tag("annotated") + ": signed, but without the required annotations", tag("signed") + ": signed, but without"},
		},
		{
			name: "signature repository flag", args: []string{"--key", pub, "--signature-repository", sigRepo, tag("elsewhere")},
			wantStdout: []string{tag("elsewhere") + "@" + elsewhere.DigestStr()},
		},
		{
			name: "COSIGN_REPOSITORY", env: map[string]string{"COSIGN_REPOSITORY": sigRepo}, args: []string{"--key", pub, tag("elsewhere")},
			wantStdout: []string{tag("elsewhere") + "@" + elsewhere.DigestStr()},
		},
		{
			name: "signature elsewhere not looked for", args: []string{"--key", pub, tag("elsewhere")},
			wantCode: 1, wantStderr: []string{tag("elsewhere") + ": unsigned"},
		},
		{
			name: "missing key file", args: []string{"--key", filepath.Join(dir, "nope.pub"), tag("signed")},
			wantCode: 1, wantStderr: []string{"nope.pub", "hint: give the public key with --key"},
		},
		{
			name: "private key given", args: []string{"--key", filepath.Join(dir, "cosign.key"), tag("signed")},
			wantCode: 1, wantStderr: []string{"not a public key"},
		},
		{
			name: "bad annotation flag", args: []string{"--key", pub, "-a", "novalue", tag("signed")},
			wantCode: 2, wantStderr: []string{"want KEY=VALUE"},
		},
		{
			name: "bad reference", args: []string{"--key", pub, "UPPER/Case:tag"},
			wantCode: 2, wantStderr: []string{"not an image reference"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] == "-C" {
				args = append(args[:2:2], append([]string{"verify"}, args[2:]...)...)
			} else {
				args = append([]string{"verify"}, args...)
			}
			code, stdout, stderr := runForSign(t, tt.env, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if got := strings.Join(strings.Fields(stdout), "\n"); got != strings.Join(tt.wantStdout, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, strings.Join(tt.wantStdout, "\n"))
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

func TestVerifyCommandProjectPlan(t *testing.T) {
	ctx := context.Background()
	host := signTestRegistry(t)
	dir := t.TempDir()
	signer, _ := signTestKeys(t, filepath.Join(dir), "release")
	web := pushSignTestImage(t, host, "team/web", "stable")
	api := pushSignTestImage(t, host, "team/api", "stable")
	if _, err := signer.Sign(ctx, web, signTestOpts); err != nil {
		t.Fatal(err)
	}
	cfg := "registry: " + host + "/team\ntags: [stable]\nimages:\n  - name: web\n  - name: api\nsign:\n  key: release.key\n"
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runForSign(t, nil, "-C", dir, "verify")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (api is unsigned)\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if want := host + "/team/web:stable@" + web.DigestStr() + "\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr, host+"/team/api:stable: unsigned") {
		t.Errorf("stderr does not name the unsigned image:\n%s", stderr)
	}

	if _, err := signer.Sign(ctx, api, signTestOpts); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runForSign(t, nil, "-C", dir, "verify"); code != 0 || strings.Count(stdout, "\n") != 2 {
		t.Fatalf("after signing api: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

// TestKeygenWithCosignCLI checks that keys from slipway keygen work with the
// cosign CLI both ways.
func TestKeygenWithCosignCLI(t *testing.T) {
	cosign := testenv.Bin(t, "cosign")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{sign.PasswordEnv: keygenTestPassword}
	if code, stdout, stderr := runForSign(t, env, "-C", dir, "keygen"); code != 0 {
		t.Fatalf("keygen: exit %d\n%s%s", code, stdout, stderr)
	}
	keyPath, pubPath := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	home := t.TempDir()
	runCosign := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cosign, args...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TUF_ROOT=" + filepath.Join(home, "tuf"),
			"DOCKER_CONFIG=" + filepath.Join(home, "docker"), sign.PasswordEnv + "=" + keygenTestPassword}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// cosign signs with the keygen key; slipway verify accepts it.
	byCosign := pushSignTestImage(t, reg.Host, "keys", "cosign")
	if out, err := runCosign("sign", "--key", keyPath, "--tlog-upload=false", "--allow-insecure-registry", "-y", byCosign.String()); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	if code, stdout, stderr := runForSign(t, nil, "verify", "--key", pubPath, byCosign.String()); code != 0 {
		t.Errorf("slipway verify of cosign's signature: exit %d\n%s%s", code, stdout, stderr)
	}

	// slipway signs with the keygen key; cosign verify accepts it.
	bySlipway := pushSignTestImage(t, reg.Host, "keys", "slipway")
	s, err := sign.LoadSigner(ctx, keyPath, func(bool) ([]byte, error) { return []byte(keygenTestPassword), nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, bySlipway, signTestOpts); err != nil {
		t.Fatal(err)
	}
	if out, err := runCosign("verify", "--key", pubPath, "--insecure-ignore-tlog", "--allow-insecure-registry", bySlipway.String()); err != nil {
		t.Errorf("cosign verify: %v\n%s", err, out)
	}
	// And a cosign key pair verifies through slipway verify.
	if out, err := runCosign("generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cli")); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	if code, _, stderr := runForSign(t, nil, "verify", "--key", filepath.Join(dir, "cli.pub"), bySlipway.String()); code != 1 || !strings.Contains(stderr, "signed by another key") {
		t.Errorf("slipway verify with cosign's other key: exit %d\n%s", code, stderr)
	}
}
