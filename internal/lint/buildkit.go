package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// checkArg is the build argument that replaces a Dockerfile's # check=
// directive, as in BuildKit.
const checkArg = "BUILDKIT_DOCKERFILE_CHECK"

// ParseError is a Dockerfile BuildKit cannot read; linting it fails.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// buildkitChecks runs BuildKit's Dockerfile linter in this process over
// data, with the build's arguments, target and platforms, so that a check
// sees what the build would see. Base images are described by resolver.
func buildkitChecks(ctx context.Context, df Dockerfile, data []byte, resolver sourceresolver.ImageMetaResolver) ([]Finding, error) {
	shift := 0
	if v, ok := df.Args[checkArg]; ok {
		if _, err := linter.ParseLintOptions(v); err != nil {
			return nil, &ParseError{File: df.Shown, Msg: fmt.Sprintf("build argument %s=%q: %v", checkArg, v, err)}
		}
		data, shift = withCheckDirective(data, v)
	}
	var targets []ocispecs.Platform
	for _, p := range df.Platforms {
		pl, err := platforms.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		targets = append(targets, platforms.Normalize(pl))
	}
	// A check directive with error=true makes BuildKit fail the build on
	// any check: here its findings are errors.
	sev := Warning
	if v, _, _, ok := parser.ParseDirective("check", data); ok {
		if c, err := linter.ParseLintOptions(v); err == nil && c.ReturnAsError {
			sev = Error
		}
	}
	// The linter copies the source map into its results; an empty
	// definition stands in for the LLB a build would have.
	sm := llb.NewSourceMap(nil, df.Shown, "Dockerfile", data)
	sm.Definition = &llb.Definition{}
	opt := dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{
			BuildArgs:              df.Args,
			Target:                 df.Target,
			TargetPlatforms:        targets,
			MultiPlatformRequested: len(targets) > 1,
		},
		SourceMap:    sm,
		MetaResolver: resolver,
	}
	res, err := dockerfile2llb.DockerfileLint(ctx, data, opt)
	if err != nil {
		return nil, fmt.Errorf("linting %s: %w", df.Shown, err)
	}
	// Under error=true BuildKit also returns the checks it ran as an error;
	// they are the findings themselves, not a Dockerfile that cannot be read.
	if res.Error != nil && sev == Error && strings.HasPrefix(res.Error.Message, "lint violation found for rules") {
		res.Error = nil
	}
	if res.Error != nil {
		line := 0
		if rs := res.Error.Location.Ranges; len(rs) > 0 {
			line = max(int(rs[0].Start.Line)-shift, 1)
		}
		return nil, &ParseError{File: df.Shown, Line: line, Msg: res.Error.Message}
	}
	var out []Finding
	for _, w := range res.Warnings {
		line, col := position(w.Location, shift)
		msg := w.Detail
		if msg == "" {
			msg = w.Description
		}
		out = append(out, Finding{
			File: df.Shown, Line: line, Column: col, Rule: w.RuleName, Severity: sev,
			Message: msg, URL: w.URL, Source: SourceBuildKit,
		})
	}
	return out, nil
}

func position(loc *pb.Location, shift int) (line, col int) {
	if loc == nil || len(loc.Ranges) == 0 {
		return 1, 1
	}
	r := loc.Ranges[0]
	return max(int(r.Start.Line)-shift, 1), max(int(r.Start.Character)+1, 1)
}

// withCheckDirective gives data the check directive v in place of its
// own, as BuildKit does with the build argument. Without a directive to
// replace, one is put on a new first line and shift says so.
func withCheckDirective(data []byte, v string) ([]byte, int) {
	line := "# check=" + v
	if _, _, loc, ok := parser.ParseDirective("check", data); ok && len(loc) > 0 {
		lines := bytes.SplitAfter(data, []byte("\n"))
		i := loc[0].Start.Line - 1
		if i >= 0 && i < len(lines) {
			end := ""
			if strings.HasSuffix(string(lines[i]), "\n") {
				end = "\n"
			}
			lines[i] = []byte(line + end)
			return bytes.Join(lines, nil), 0
		}
	}
	return append([]byte(line+"\n"), data...), 1
}

// offlineResolver describes every base image without asking a registry:
// a non-empty image of the requested platform with no settings of its own.
// BuildKit's checks need a config per base; the real one only changes
// checks that read the base's environment (UndefinedVar).
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	cfg := map[string]any{
		"architecture": p.Architecture,
		"os":           p.OS,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}},
		"config":       map[string]any{},
	}
	if p.Variant != "" {
		cfg["variant"] = p.Variant
	}
	b, err := json.Marshal(cfg)
	return ref, "", b, err
}
