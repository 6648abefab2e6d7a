package sign

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/slipway-build/slipway/internal/testenv"
)

// cosignCLI runs the real cosign program, offline, with a private HOME.
type cosignCLI struct {
	t    *testing.T
	bin  string
	home string
}

func newCosignCLI(t *testing.T) *cosignCLI {
	t.Helper()
	return &cosignCLI{t: t, bin: testenv.Bin(t, "cosign"), home: t.TempDir()}
}

// run runs cosign with args and extra environment (KEY=VALUE), returning
// its combined output.
func (c *cosignCLI) run(env []string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append([]string{
		"HOME=" + c.home,
		"PATH=" + os.Getenv("PATH"),
		"TUF_ROOT=" + filepath.Join(c.home, "tuf"),
		"DOCKER_CONFIG=" + filepath.Join(c.home, "docker"),
	}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cosignCLI) mustRun(env []string, args ...string) string {
	c.t.Helper()
	out, err := c.run(env, args...)
	if err != nil {
		c.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// verify runs `cosign verify --key pub --insecure-ignore-tlog` on ref.
func (c *cosignCLI) verify(env []string, pub string, ref name.Reference, extra ...string) (string, error) {
	c.t.Helper()
	args := append([]string{"verify", "--key", pub, "--insecure-ignore-tlog", "--allow-insecure-registry"}, extra...)
	return c.run(env, append(args, ref.String())...)
}

// sign runs `cosign sign --key key` on ref without the transparency log.
func (c *cosignCLI) sign(env []string, key string, ref name.Digest, extra ...string) {
	c.t.Helper()
	args := append([]string{"sign", "--key", key, "--tlog-upload=false", "--allow-insecure-registry", "-y"}, extra...)
	c.mustRun(env, append(args, ref.String())...)
}

func TestWithCosignCLI(t *testing.T) {
	cli := newCosignCLI(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	host := reg.Host
	ctx := context.Background()
	opts := testOpts()
	pwEnv := []string{PasswordEnv + "=" + testPassword}

	// Our key pair and one made by the cosign CLI.
	ourKey, ourPub := newKeyFiles(t, t.TempDir(), testPassword)
	cliDir := t.TempDir()
	cli.mustRun(pwEnv, "generate-key-pair", "--output-key-prefix", filepath.Join(cliDir, "cli"))
	cliKey, cliPub := filepath.Join(cliDir, "cli.key"), filepath.Join(cliDir, "cli.pub")
	ours := loadSigner(t, ourKey, testPassword)

	t.Run("our signature verifies with cosign", func(t *testing.T) {
		d := pushImage(t, host, "ours", "v1")
		o := opts
		o.Annotations = map[string]string{"git.commit": "0123abcd", "git.tag": "v1.0.0"}
		if _, err := ours.Sign(ctx, d, o); err != nil {
			t.Fatal(err)
		}
		out, err := cli.verify(nil, ourPub, d, "-a", "git.commit=0123abcd", "-a", "git.tag=v1.0.0")
		if err != nil {
			t.Fatalf("cosign verify: %v\n%s", err, out)
		}
		if !strings.Contains(out, d.DigestStr()) {
			t.Errorf("cosign verify output lacks the digest:\n%s", out)
		}
		if out, err := cli.verify(nil, ourPub, d, "-a", "git.commit=other"); err == nil {
			t.Errorf("cosign verify accepted a wrong annotation:\n%s", out)
		}
		if out, err := cli.verify(nil, cliPub, d); err == nil {
			t.Errorf("cosign verify accepted our signature with a foreign key:\n%s", out)
		}
	})

	t.Run("cosign signature verifies with ours", func(t *testing.T) {
		d := pushImage(t, host, "cli", "v1")
		cli.sign(pwEnv, cliKey, d, "-a", "team=platform")
		res, err := Verify(ctx, d, cliPub, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Signatures[0].Annotations["team"]; got != "platform" {
			t.Errorf("annotation team = %q, want platform", got)
		}
		if _, err := Verify(ctx, d, ourPub, opts); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("Verify with a foreign key = %v, want ErrKeyMismatch", err)
		}
	})

	t.Run("our keys work in cosign", func(t *testing.T) {
		d := pushImage(t, host, "ourkeys", "v1")
		cli.sign(pwEnv, ourKey, d)
		if _, err := Verify(ctx, d, ourPub, opts); err != nil {
			t.Errorf("Verify of cosign's signature made with our key: %v", err)
		}
		if out, err := cli.verify(nil, ourPub, d); err != nil {
			t.Errorf("cosign verify: %v\n%s", err, out)
		}
	})

	t.Run("cosign keys work in ours", func(t *testing.T) {
		d := pushImage(t, host, "clikeys", "v1")
		s := loadSigner(t, cliKey, testPassword)
		if !bytes.Equal(s.PublicKeyPEM(), mustRead(t, cliPub)) {
			t.Error("public key of cosign's key file differs from cosign's .pub")
		}
		if _, err := s.Sign(ctx, d, opts); err != nil {
			t.Fatal(err)
		}
		if out, err := cli.verify(nil, cliPub, d); err != nil {
			t.Errorf("cosign verify: %v\n%s", err, out)
		}
	})

	t.Run("multi-platform", func(t *testing.T) {
		idx, platforms := pushIndex(t, host, "multi", "v1")
		all, err := Manifests(ctx, idx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ours.SignAll(ctx, all, opts); err != nil {
			t.Fatal(err)
		}
		tag, err := name.NewTag(host + "/multi:v1")
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []name.Reference{idx, tag, platforms[0], platforms[1]} {
			if out, err := cli.verify(nil, ourPub, ref); err != nil {
				t.Errorf("cosign verify %s: %v\n%s", ref, err, out)
			}
		}
	})

	t.Run("unsigned and missing", func(t *testing.T) {
		d := pushImage(t, host, "plain", "v1")
		if _, err := Verify(ctx, d, ourPub, opts); !errors.Is(err, ErrUnsigned) {
			t.Errorf("Verify(unsigned) = %v, want ErrUnsigned", err)
		}
		if out, err := cli.verify(nil, ourPub, d); err == nil {
			t.Errorf("cosign verify accepted an unsigned image:\n%s", out)
		}
		missing := d.Context().Digest("sha256:" + strings.Repeat("ef", 32))
		if _, err := Verify(ctx, missing, ourPub, opts); !errors.Is(err, ErrNotFound) {
			t.Errorf("Verify(missing) = %v, want ErrNotFound", err)
		}
		tag, _ := name.NewTag(host + "/plain:absent")
		if _, err := Verify(ctx, tag, ourPub, opts); !errors.Is(err, ErrNotFound) {
			t.Errorf("Verify(missing tag) = %v, want ErrNotFound", err)
		}
	})

	t.Run("wrong password pushes nothing", func(t *testing.T) {
		d := pushImage(t, host, "wrongpw", "v1")
		keyPEM := mustRead(t, ourKey)
		s, err := LoadSigner(ctx, ourKey, fixedPass(wrongPassword))
		if !errors.Is(err, ErrWrongPassword) || s != nil {
			t.Fatalf("LoadSigner = %v, %v; want ErrWrongPassword", s, err)
		}
		assertNoSecret(t, err.Error(), keyPEM)
		tags, err := remote.List(d.Context(), anon()...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tags, []string{"v1"}) {
			t.Errorf("tags after a failed signing = %v, want [v1]", tags)
		}
	})

	t.Run("idempotent, also with cosign", func(t *testing.T) {
		d := pushImage(t, host, "twice", "v1")
		for range 2 {
			if _, err := ours.Sign(ctx, d, opts); err != nil {
				t.Fatal(err)
			}
		}
		if n := sigLayers(t, d, ""); n != 1 {
			t.Fatalf("%d signatures after signing twice, want 1", n)
		}
		// cosign's own duplicate check recognises our signature: the
		// payloads are byte for byte the same.
		cli.sign(pwEnv, ourKey, d)
		if n := sigLayers(t, d, ""); n != 1 {
			t.Errorf("%d signatures after cosign signed again with the same key, want 1", n)
		}
		if out, err := cli.verify(nil, ourPub, d); err != nil {
			t.Errorf("cosign verify: %v\n%s", err, out)
		}
	})

	t.Run("signature repository", func(t *testing.T) {
		sigRepo, err := name.NewRepository(host + "/signatures")
		if err != nil {
			t.Fatal(err)
		}
		repoEnv := []string{"COSIGN_REPOSITORY=" + sigRepo.String()}
		o := opts
		o.Repository = sigRepo

		d := pushImage(t, host, "elsewhere", "v1")
		if _, err := ours.Sign(ctx, d, o); err != nil {
			t.Fatal(err)
		}
		if n := sigLayers(t, d, ""); n != -1 {
			t.Errorf("signature stored next to the image too")
		}
		if out, err := cli.verify(repoEnv, ourPub, d); err != nil {
			t.Errorf("cosign verify with COSIGN_REPOSITORY: %v\n%s", err, out)
		}
		if out, err := cli.verify(nil, ourPub, d); err == nil {
			t.Errorf("cosign verify found a signature without COSIGN_REPOSITORY:\n%s", out)
		}

		d2 := pushImage(t, host, "elsewhere", "v2")
		cli.sign(append(repoEnv, pwEnv...), cliKey, d2)
		if _, err := Verify(ctx, d2, cliPub, o); err != nil {
			t.Errorf("Verify with Repository of cosign's signature: %v", err)
		}
		if _, err := Verify(ctx, d2, cliPub, opts); !errors.Is(err, ErrUnsigned) {
			t.Errorf("Verify without Repository = %v, want ErrUnsigned", err)
		}
	})
}
