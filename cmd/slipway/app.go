package main

// How to add a command: create one file named after it, with an init
// function that calls register(command{...}). Setup registers the command's
// flags on the given FlagSet and returns the function that runs it. Keep
// the body a thin call into a library package: parse flags, call, print
// results to app.stdout and messages to app.stderr. Return errors wrapped
// with what was being done ("pushing web: ..."); usagef(...) for bad flags
// or arguments (exit 2). Errors that implement Hint() string get a hint:
// line (Hints() []string: several), errors that implement ExitCode() int
// choose the exit code.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/logstream"
	"github.com/slipway-build/slipway/internal/project"
)

type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand of slipway.
type command struct {
	name    string
	args    string // usage synopsis after the name, e.g. "[IMAGE...]"
	summary string // one line for `slipway help`
	long    string // optional paragraph for `slipway CMD --help`
	setup   func(fs *pflag.FlagSet) runFunc
	// report marks a command that writes the JSON report (--report) and the
	// GitHub outputs; the others refuse --report.
	report bool
}

type runFunc func(ctx context.Context, app *app, args []string) error

var commands = map[string]command{}

// commandOrder is the order of `slipway help`; commands not listed follow.
var commandOrder = []string{"release", "build", "scan", "push", "sign", "bump", "promote", "tags", "verify", "pull-secret", "lint", "keygen", "login", "init", "doctor", "completion", "version"}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("slipway: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// globals are the flags every command accepts.
type globals struct {
	file     string
	dir      string
	progress string
	report   string
	debug    bool
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVarP(&g.file, "file", "f", project.DefaultFile, "project file")
	fs.StringVarP(&g.dir, "chdir", "C", "", "run as if started in `DIR`")
	fs.StringVar(&g.progress, "progress", "auto", "progress output: auto, tty, plain, rawjson or quiet")
	fs.StringVar(&g.report, "report", "", "write the JSON report to `FILE`")
	fs.BoolVar(&g.debug, "debug", false, "print debugging detail to stderr (never secrets)")
}

// app is one invocation: its streams, environment and global flags.
type app struct {
	streams
	lookupEnv func(string) (string, bool)
	globals
	cmd string
	// wd is the absolute folder relative paths resolve against (-C).
	wd string
	// term is the real stderr, for terminal checks; stderr masks secrets
	// (mask) and, with --progress rawjson, makes each line JSON (jsonl).
	term  io.Writer
	mask  *logstream.Masker
	jsonl *logstream.JSONLines
	// buildkitHost is --buildkit-host, set by the commands that take it.
	buildkitHost string
	// reportOut receives the report with --report -; stdout's result
	// lines then go to stderr, so that stdout is one JSON document.
	reportOut io.Writer
}

func (a *app) getenv(k string) string {
	v, _ := a.lookupEnv(k)
	return v
}

// path makes p absolute against the -C folder.
func (a *app) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.wd, p)
}

// loadProject reads the project file named by -f (relative to -C).
func (a *app) loadProject() (*project.Config, error) {
	shown := a.file
	if a.globals.dir != "" && !filepath.IsAbs(a.file) {
		shown = filepath.Join(a.globals.dir, a.file)
	}
	getenv := a.lookupEnv
	if a.buildkitHost != "" { // --buildkit-host: one daemon for every platform
		getenv = func(k string) (string, bool) {
			if k == "BUILDKIT_HOST" {
				return a.buildkitHost, true
			}
			return a.lookupEnv(k)
		}
	}
	return project.LoadNamed(a.path(a.file), shown, getenv)
}

// stageOut is where a stage's messages go: with --progress rawjson, lines
// of that stage's event type.
func (a *app) stageOut(stage string) io.Writer {
	if a.jsonl != nil {
		return a.jsonl.Stage(stage)
	}
	return a.stderr
}

// hide masks the run's secrets in everything printed from now on.
func (a *app) hide(secrets []string) {
	if a.mask != nil {
		a.mask.Add(secrets...)
	}
}

func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "slipway: warning: "+format+"\n", args...)
}

func (a *app) debugf(format string, args ...any) {
	if a.debug {
		fmt.Fprintf(a.stderr, "slipway: debug: "+format+"\n", args...)
	}
}

// progressMode resolves --progress auto against the stderr terminal.
func (a *app) progressMode() string {
	if a.progress != "auto" {
		return a.progress
	}
	if f, ok := a.term.(*os.File); ok && isTerminal(f) {
		return "tty"
	}
	return "plain"
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// usageError is bad usage of the command line: exit 2.
type usageError struct {
	msg string
	cmd string
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) ExitCode() int { return 2 }
func (e *usageError) Hint() string {
	if e.cmd == "" {
		return "see slipway help"
	}
	return "see slipway " + e.cmd + " --help"
}

func (a *app) usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), cmd: a.cmd}
}

// run parses args, runs the command and renders any error; it returns the
// process exit code.
func run(ctx context.Context, args []string, s *streams, lookupEnv func(string) (string, bool)) int {
	// Everything on stderr passes the masker: progress, warnings, errors.
	mask := logstream.NewMasker(s.stderr)
	a := &app{streams: *s, lookupEnv: lookupEnv, term: s.stderr, mask: mask}
	a.stderr = mask
	if f, ok := s.stderr.(*os.File); ok {
		a.stderr = logstream.NewFile(mask, f) // still a console for tty progress
	}
	err := dispatch(ctx, a, args)
	code := renderError(ctx, a.stderr, err)
	if a.jsonl != nil {
		_ = a.jsonl.Flush()
	}
	_ = mask.Flush()
	return code
}

func dispatch(ctx context.Context, a *app, args []string) error {
	top := pflag.NewFlagSet("slipway", pflag.ContinueOnError)
	top.SetInterspersed(false)
	top.SetOutput(io.Discard)
	a.globals.register(top)
	var showVersion bool
	top.BoolVar(&showVersion, "version", false, "print the version")
	help := top.BoolP("help", "h", false, "show help")
	if err := top.Parse(args); err != nil {
		return &usageError{msg: err.Error()}
	}
	rest := top.Args()
	switch {
	case showVersion:
		rest = []string{"version"}
	case len(rest) == 0 && !*help:
		printHelp(a.stderr)
		return &usageError{msg: "no command given"}
	case *help:
		printHelp(a.stdout)
		return nil
	case rest[0] == "help":
		if len(rest) > 1 {
			c, ok := commands[rest[1]]
			if !ok {
				return &usageError{msg: fmt.Sprintf("unknown command %q", rest[1])}
			}
			fs := newCommandFlags(c, &globals{})
			printCommandHelp(a.stdout, c, fs)
			return nil
		}
		printHelp(a.stdout)
		return nil
	}
	c, ok := commands[rest[0]]
	if !ok {
		msg := fmt.Sprintf("unknown command %q", rest[0])
		if s := closestCommand(rest[0]); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return &usageError{msg: msg}
	}
	a.cmd = c.name
	fs := pflag.NewFlagSet("slipway "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCmd := c.setup(fs)
	fs.AddFlagSet(top)
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printCommandHelp(a.stdout, c, fs)
			return nil
		}
		return a.usagef("%s", flagError(err, fs))
	}
	if *help {
		printCommandHelp(a.stdout, c, fs)
		return nil
	}
	switch a.globals.progress {
	case "auto", "tty", "plain", "rawjson", "quiet":
	default:
		return a.usagef("--progress: %q is not one of auto, tty, plain, rawjson, quiet", a.globals.progress)
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("finding the working folder: %w", err)
	}
	if a.globals.dir != "" {
		wd = filepath.Join(wd, a.globals.dir)
		if filepath.IsAbs(a.globals.dir) {
			wd = a.globals.dir
		}
		if st, err := os.Stat(wd); err != nil || !st.IsDir() {
			return a.usagef("-C: %s is not a folder", a.globals.dir)
		}
	}
	a.wd = wd
	if a.globals.progress == "rawjson" {
		a.jsonl = logstream.NewJSONLines(a.mask, a.mask.Mask)
		a.stderr = a.jsonl
	}
	if err := a.checkReportFlag(c); err != nil {
		return err
	}
	if a.globals.progress == "tty" {
		if f, ok := a.term.(*os.File); !ok || !isTerminal(f) {
			a.warnf("--progress tty: stderr is not a terminal, showing plain progress")
			a.globals.progress = "plain"
		}
	}
	return runCmd(ctx, a, fs.Args())
}

// checkReportFlag refuses --report where no report is written, and checks
// before anything runs that the report and the GitHub output files can be
// written, so that a long release does not end unrecorded.
func (a *app) checkReportFlag(c command) error {
	if a.report != "" && !c.report {
		return a.usagef("--report: slipway %s writes no report", c.name)
	}
	if !c.report {
		return nil
	}
	if a.report == "-" {
		a.reportOut, a.stdout = a.stdout, a.stderr
	} else if a.report != "" {
		if err := checkWritable(a.path(a.report)); err != nil {
			return a.usagef("--report %s: %v", a.report, err)
		}
	}
	for _, v := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		if p := a.getenv(v); p != "" {
			if err := checkWritable(p); err != nil {
				return fmt.Errorf("%s %s: %w", v, p, err)
			}
		}
	}
	return nil
}

// checkWritable says whether a file can be written at path: its folder
// exists and takes new files, and the file, if there, is not a folder.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("folder %s does not exist", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a folder")
	}
	f, err := os.CreateTemp(dir, ".slipway-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable", dir)
	}
	f.Close()
	return os.Remove(f.Name())
}

// flagError adds a did-you-mean to pflag's unknown-flag errors.
func flagError(err error, fs *pflag.FlagSet) string {
	msg := err.Error()
	bad, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return msg
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if s := project.Suggest(bad, names); s != "" {
		msg += fmt.Sprintf(" (did you mean --%s?)", s)
	}
	return msg
}

func newCommandFlags(c command, g *globals) *pflag.FlagSet {
	fs := pflag.NewFlagSet("slipway "+c.name, pflag.ContinueOnError)
	c.setup(fs)
	g.register(fs)
	return fs
}

func closestCommand(s string) string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	return project.Suggest(s, names)
}

func sortedCommands() []command {
	rank := map[string]int{}
	for i, n := range commandOrder {
		rank[n] = i
	}
	var cs []command
	for _, c := range commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		ri, iok := rank[cs[i].name]
		rj, jok := rank[cs[j].name]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return cs[i].name < cs[j].name
	})
	return cs
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "slipway builds, tags, pushes and signs container images and bumps the Kubernetes")
	fmt.Fprintln(w, "manifests that use them, without a Docker daemon.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: slipway [global flags] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 9
	for _, c := range sortedCommands() {
		width = max(width, len(c.name))
	}
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags:")
	fs := pflag.NewFlagSet("slipway", pflag.ContinueOnError)
	(&globals{}).register(fs)
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'slipway COMMAND --help' for a command's flags.")
}

func printCommandHelp(w io.Writer, c command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: slipway %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
}

// renderError prints err the one way slipway prints errors and returns the
// exit code: 0 success, 1 failure, 2 usage or configuration, 130 interrupted.
func renderError(ctx context.Context, w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, ctx.Err()) || errors.Is(context.Cause(ctx), context.Canceled)) {
		fmt.Fprintln(w, "slipway: interrupted")
		return 130
	}
	var ps *project.Problems
	if errors.As(err, &ps) {
		fmt.Fprintf(w, "slipway: loading %s: %s\n", ps.File, ps.Summary())
		for _, p := range ps.Items {
			fmt.Fprintln(w, p.String())
		}
	} else {
		fmt.Fprintf(w, "slipway: %s\n", err)
	}
	for _, h := range hints(err) {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return 1
}

// hints collects Hint() from every error in the chain, outermost first,
// without repeats.
func hints(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var found []string
		switch h := e.(type) {
		case interface{ Hint() string }:
			found = []string{h.Hint()}
		case interface{ Hints() []string }:
			found = h.Hints()
		}
		for _, s := range found {
			if s = strings.TrimSpace(s); s != "" && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// hintError adds advice, printed on a hint: line, to an error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }
func (e *hintError) Hint() string  { return e.hint }

// exitError carries an exit code with a message, for commands whose
// failure is an answer (verify, bump --check) rather than a breakdown.
type exitError struct {
	msg  string
	code int
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }
