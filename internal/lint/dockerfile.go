package lint

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is one Dockerfile and the settings it is built with.
type Dockerfile struct {
	// Path is the file to read.
	Path string
	// Shown names the file in findings (relative to the working folder).
	Shown string
	// Args are the build arguments, Target the stage built (default the
	// last), Platforms the target platforms (default the machine's).
	Args      map[string]string
	Target    string
	Platforms []string
}

// BaseImage is an external image a FROM names, after ARG expansion.
type BaseImage struct {
	Ref       string
	Line      int
	Platforms []string
}

// lintDockerfile runs BuildKit's checks and slipway's Dockerfile rules on
// df. It returns the base images of the target for base-size.
func lintDockerfile(ctx context.Context, df Dockerfile, cfg Config, resolver sourceresolver.ImageMetaResolver) ([]Finding, []BaseImage, error) {
	data, err := os.ReadFile(df.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", df.Shown, err)
	}
	if resolver == nil {
		resolver = offlineResolver{}
	}
	findings, err := buildkitChecks(ctx, df, data, resolver)
	if err != nil {
		return nil, nil, err
	}
	own, bases, err := dockerfileRules(df, data, cfg)
	if err != nil {
		return nil, nil, err
	}
	own = readIgnores(data).filter(own, SourceSlipway)
	return append(findings, own...), bases, nil
}

// stage is a parsed stage with its base resolved.
type stage struct {
	instructions.Stage
	base   string // the expanded base name
	parent int    // index of the earlier stage it is built on, or -1
	line   int
}

// dockerfileRules applies base-latest, base-unpinned, root-user and layers.
func dockerfileRules(df Dockerfile, data []byte, cfg Config) ([]Finding, []BaseImage, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, nil, &ParseError{File: df.Shown, Msg: err.Error()}
	}
	parsed, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, nil, &ParseError{File: df.Shown, Msg: err.Error()}
	}
	if len(parsed) == 0 {
		return nil, nil, nil
	}
	lex := shell.NewLex(res.EscapeToken)
	env := globalArgs(df, metaArgs, lex)

	stages := make([]stage, len(parsed))
	byName := map[string]int{}
	for i, p := range parsed {
		s := stage{Stage: p, parent: -1, line: firstLine(p.Location)}
		if r, err := lex.ProcessWordWithMatches(p.BaseName, env); err == nil {
			s.base = r.Result
		}
		if j, ok := byName[strings.ToLower(s.base)]; ok {
			s.parent = j
		}
		if p.Name != "" {
			byName[strings.ToLower(p.Name)] = i
		}
		stages[i] = s
	}
	target := len(stages) - 1
	if df.Target != "" {
		j, ok := byName[strings.ToLower(df.Target)]
		if !ok {
			return nil, nil, &ParseError{File: df.Shown, Msg: fmt.Sprintf("target stage %q not found", df.Target)}
		}
		target = j
	}
	// chain: the target and the stages it is built on, base first.
	var chain []int
	for i := target; i >= 0; i = stages[i].parent {
		chain = append([]int{i}, chain...)
	}

	var out []Finding
	var bases []BaseImage
	for i, s := range stages {
		if s.parent >= 0 || s.base == "" || strings.EqualFold(s.base, "scratch") {
			continue
		}
		_, tag, dgst, err := refParts(s.base)
		if err != nil {
			continue // BuildKit reports what it cannot parse
		}
		shown := s.base
		if shown != s.BaseName {
			shown = fmt.Sprintf("%s (from %s)", s.base, s.BaseName)
		}
		switch {
		case dgst != "":
		case tag == "":
			out = append(out, at(RuleBaseLatest, df.Shown, s.line, 1, fmt.Sprintf("FROM %s has no tag, so it means :latest: name a version", shown)))
		case tag == "latest":
			out = append(out, at(RuleBaseLatest, df.Shown, s.line, 1, fmt.Sprintf("FROM %s uses :latest: name a version", shown)))
		}
		if dgst == "" {
			out = append(out, at(RuleBaseUnpinned, df.Shown, s.line, 1, fmt.Sprintf("FROM %s is not pinned by digest: add @sha256:... for a repeatable build", shown)))
		}
		if slices.Contains(chain, i) {
			bases = append(bases, BaseImage{Ref: s.base, Line: s.line, Platforms: df.Platforms})
		}
	}
	out = append(out, rootUser(df, stages, chain, env, lex)...)
	out = append(out, layers(df, stages, chain, cfg)...)
	return out, bases, nil
}

// globalArgs are the values FROM lines see: BuildKit's platform arguments,
// then the ARGs before the first FROM, with the build's arguments winning.
func globalArgs(df Dockerfile, metaArgs []instructions.ArgCommand, lex *shell.Lex) *envMap {
	env := &envMap{m: map[string]string{}}
	build := platforms.DefaultSpec()
	target := build
	if len(df.Platforms) > 0 {
		if p, err := platforms.Parse(df.Platforms[0]); err == nil {
			target = platforms.Normalize(p)
		}
	}
	for prefix, p := range map[string]platformSpec{"BUILD": {build}, "TARGET": {target}} {
		env.set(prefix+"PLATFORM", platforms.Format(p.Platform))
		env.set(prefix+"OS", p.OS)
		env.set(prefix+"ARCH", p.Architecture)
		env.set(prefix+"VARIANT", p.Variant)
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := df.Args[kv.Key]; ok {
				env.set(kv.Key, v)
				continue
			}
			if kv.Value != nil {
				if v, _, err := lex.ProcessWord(*kv.Value, env); err == nil {
					env.set(kv.Key, v)
				}
			}
		}
	}
	return env
}

type platformSpec struct{ platforms.Platform }

// envMap is a shell.EnvGetter over a map.
type envMap struct {
	m    map[string]string
	keys []string
}

func (e *envMap) set(k, v string) {
	if _, ok := e.m[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.m[k] = v
}
func (e *envMap) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e *envMap) Keys() []string              { return e.keys }

func firstLine(rs []parser.Range) int {
	if len(rs) == 0 {
		return 1
	}
	return rs[0].Start.Line
}

// rootUser: the last USER of the target's chain of stages decides who the
// container runs as; none at all means the base image's user, root for
// most bases.
func rootUser(df Dockerfile, stages []stage, chain []int, global *envMap, lex *shell.Lex) []Finding {
	var last *instructions.UserCommand
	for _, i := range chain {
		for _, c := range stages[i].Commands {
			if u, ok := c.(*instructions.UserCommand); ok {
				last = u
			}
		}
	}
	t := stages[chain[len(chain)-1]]
	if last == nil {
		return []Finding{at(RuleRootUser, df.Shown, t.line, 1, "the final stage sets no USER, so the container runs as the base image's user (root, for most bases): add USER with a non-root uid")}
	}
	user := last.User
	if v, _, err := lex.ProcessWord(user, stageEnv(df, stages, chain, global)); err == nil {
		user = v
	}
	name, _, _ := strings.Cut(user, ":")
	if name == "root" || isZero(name) {
		return []Finding{at(RuleRootUser, df.Shown, firstLine(last.Location()), 1, fmt.Sprintf("USER %s runs the container as root: use a non-root uid", last.User))}
	}
	return nil
}

func isZero(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n == 0
}

// stageEnv is the global args plus the ARG defaults and ENV values of the
// chain, for expanding USER.
func stageEnv(df Dockerfile, stages []stage, chain []int, global *envMap) *envMap {
	env := &envMap{m: map[string]string{}}
	for _, k := range global.keys {
		env.set(k, global.m[k])
	}
	for _, i := range chain {
		for _, c := range stages[i].Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if v, ok := df.Args[kv.Key]; ok {
						env.set(kv.Key, v)
					} else if kv.Value != nil {
						env.set(kv.Key, *kv.Value)
					}
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					env.set(kv.Key, kv.Value)
				}
			}
		}
	}
	return env
}

// layers: RUN, COPY and ADD each add a filesystem layer to the image;
// three RUNs in a row with the same flags could be one.
func layers(df Dockerfile, stages []stage, chain []int, cfg Config) []Finding {
	var out []Finding
	n := 0
	for _, i := range chain {
		var run []*instructions.RunCommand
		flush := func() {
			if len(run) >= 3 {
				var lines []string
				for _, r := range run {
					lines = append(lines, strconv.Itoa(firstLine(r.Location())))
				}
				out = append(out, at(RuleLayers, df.Shown, firstLine(run[0].Location()), 1,
					fmt.Sprintf("%d RUN instructions in a row (lines %s) make %d layers: join them with && into one RUN", len(run), strings.Join(lines, ", "), len(run))))
			}
			run = nil
		}
		for _, c := range stages[i].Commands {
			switch c := c.(type) {
			case *instructions.RunCommand:
				n++
				if len(run) > 0 && !slices.Equal(run[0].FlagsUsed, c.FlagsUsed) {
					flush()
				}
				run = append(run, c)
				continue
			case *instructions.CopyCommand, *instructions.AddCommand:
				n++
			}
			flush()
		}
		flush()
	}
	if max := cfg.maxLayers(); n > max {
		t := stages[chain[len(chain)-1]]
		what := "the final stage"
		if t.Name != "" {
			what = "stage " + t.Name
		}
		out = append(out, at(RuleLayers, df.Shown, t.line, 1,
			fmt.Sprintf("%s adds %d filesystem layers (RUN, COPY, ADD), more than max-layers %d: join steps or use a multi-stage build", what, n, max)))
	}
	return out
}
