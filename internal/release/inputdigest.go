package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/buildinputs"
)

// AnnotationInputDigest carries an image's input digest on its pushed
// manifest (and index).
const AnnotationInputDigest = "dev.slipway.input.digest"

// inputTagPrefix starts the tag that marks, in an image's primary
// repository, the image built from a given input digest.
const inputTagPrefix = "inputs-"

// InputTag is the tag that names the image built from inputs of digest d
// ("sha256:<hex>"): inputs-<first 32 hex>.
func InputTag(d string) string {
	hexPart := strings.TrimPrefix(d, "sha256:")
	if len(hexPart) > 32 {
		hexPart = hexPart[:32]
	}
	return inputTagPrefix + hexPart
}

// resolveFunc gives the digest a base image reference resolves to now.
type resolveFunc func(ctx context.Context, ref string) (string, error)

// inputDigest is the sha256 of everything that makes req's image: the
// Dockerfile, the context files BuildKit is sent (paths, modes, contents),
// target, platforms, build arguments (SOURCE_DATE_EPOCH included), labels,
// annotations, secret and ssh ids (never their values), and the digest each
// base image resolves to now, so that a moved base tag changes it.
func inputDigest(ctx context.Context, in buildinputs.Input, req builder.Request, resolve resolveFunc) (string, error) {
	h := sha256.New()
	line := func(kind string, fields ...string) {
		fmt.Fprintf(h, "%s", kind)
		for _, f := range fields {
			fmt.Fprintf(h, " %q", f)
		}
		h.Write([]byte{'\n'})
	}
	line("slipway-inputs", "1")

	df, err := os.ReadFile(in.Dockerfile)
	if err != nil {
		return "", fmt.Errorf("reading the Dockerfile: %w", err)
	}
	line("dockerfile", sumBytes(df))
	files, err := buildinputs.List(ctx, in)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if filepath.IsAbs(f.Path) {
			continue // the Dockerfile outside the context: hashed above, wherever it is
		}
		sum, err := sumFile(filepath.Join(in.Context, filepath.FromSlash(f.Path)), f.Mode)
		if err != nil {
			return "", fmt.Errorf("reading the build context: %w", err)
		}
		line("file", f.Path, strconv.FormatUint(uint64(f.Mode.Type()|f.Mode.Perm()), 8), sum)
	}
	line("target", req.Target)
	for _, p := range req.Platforms {
		line("platform", normalizedPlatform(p))
	}
	for _, kv := range sortedPairs(req.Args) {
		line("arg", kv[0], kv[1])
	}
	line("epoch", strconv.FormatInt(req.SourceDateEpoch, 10))
	for _, kv := range sortedPairs(req.Labels) {
		line("label", kv[0], kv[1])
	}
	for _, kv := range sortedPairs(req.Annotations) {
		if kv[0] != AnnotationInputDigest {
			line("annotation", kv[0], kv[1])
		}
	}
	var ids []string
	for _, s := range req.Secrets {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	for _, id := range ids {
		line("secret", id)
	}
	ids = ids[:0]
	for _, s := range req.SSH {
		id, _, _ := strings.Cut(s, "=")
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		line("ssh", id)
	}
	bases, err := baseImages(df, req.Args)
	if err != nil {
		return "", fmt.Errorf("reading the Dockerfile's base images: %w", err)
	}
	for _, b := range bases {
		d, err := resolve(ctx, b)
		if err != nil {
			return "", fmt.Errorf("resolving base image %s: %w", b, err)
		}
		line("base", b, d)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func sumBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sumFile hashes a regular file's bytes or a symbolic link's target.
func sumFile(p string, mode os.FileMode) (string, error) {
	if mode&os.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		return sumBytes([]byte(target)), nil
	}
	if !mode.IsRegular() {
		return "", nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedPairs(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// baseImages lists the images a Dockerfile reads from registries: the FROM
// of each stage and COPY --from that are not earlier stages or scratch,
// with the ARGs before the first FROM expanded (build arguments win), in
// order of first use.
func baseImages(dockerfile []byte, args map[string]string) ([]string, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := args[kv.Key]; ok {
				env[kv.Key] = v
			} else if kv.Value != nil {
				env[kv.Key] = *kv.Value
			}
		}
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	lex := shell.NewLex(res.EscapeToken)
	expand := func(s string) (string, error) {
		out, _, err := lex.ProcessWord(s, shell.EnvsFromSlice(envList))
		return out, err
	}
	named := map[string]bool{}
	seen := map[string]bool{}
	var out []string
	add := func(ref string) error {
		ref, err := expand(ref)
		if err != nil {
			return err
		}
		if ref == "" || strings.EqualFold(ref, "scratch") || named[strings.ToLower(ref)] || seen[ref] {
			return nil
		}
		if _, err := strconv.Atoi(ref); err == nil {
			return nil // COPY --from=<stage index>
		}
		seen[ref] = true
		out = append(out, ref)
		return nil
	}
	for _, st := range stages {
		if err := add(st.BaseName); err != nil {
			return nil, err
		}
		for _, c := range st.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				if err := add(cp.From); err != nil {
					return nil, err
				}
			}
		}
		if st.Name != "" {
			named[strings.ToLower(st.Name)] = true
		}
	}
	return out, nil
}
