package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
)

// pipelineFlags are the flags shared by build, push, sign and release;
// each command registers the groups it uses.
type pipelineFlags struct {
	jobs         int
	buildkitHost string
	store        string
	noCache      bool
	pull         bool
	registries   []string
	insecure     []string
	retries      int
	pushTimeout  time.Duration
	sigRepo      string
	pin          string
	immutable    bool
	noSkip       bool
}

// newPipelineFlags holds the defaults, which also apply to the flags a
// command does not register.
func newPipelineFlags() *pipelineFlags {
	return &pipelineFlags{jobs: 4, retries: 5, pushTimeout: 10 * time.Minute}
}

func (p *pipelineFlags) registerJobs(fs *pflag.FlagSet) {
	fs.IntVar(&p.jobs, "jobs", 4, "how many builds or blob uploads run at once")
}

func (p *pipelineFlags) registerStore(fs *pflag.FlagSet) {
	fs.StringVar(&p.store, "store", "", "the local image store (default .slipway/store beside slipway.yaml)")
}

func (p *pipelineFlags) registerBuild(fs *pflag.FlagSet) {
	fs.StringVar(&p.buildkitHost, "buildkit-host", "", "BuildKit `ADDRESS` (default $BUILDKIT_HOST, then buildkit.host, then a private buildkitd)")
	fs.BoolVar(&p.noCache, "no-cache", false, "do not use the build cache")
	fs.BoolVar(&p.pull, "pull", false, "check base images for newer versions")
}

func (p *pipelineFlags) registerPush(fs *pflag.FlagSet) {
	fs.StringArrayVar(&p.registries, "registry", nil, "push to `REG` instead of slipway.yaml's registries (repeatable)")
	fs.StringArrayVar(&p.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST` (repeatable; loopback always may)")
	fs.IntVar(&p.retries, "retries", 5, "attempts per registry request for transient failures")
	fs.DurationVar(&p.pushTimeout, "push-timeout", 10*time.Minute, "give up pushing one image after this long")
}

func (p *pipelineFlags) registerSign(fs *pflag.FlagSet) {
	fs.StringVar(&p.sigRepo, "signature-repository", "", "store signatures in `REPO` (default sign.repository, then $COSIGN_REPOSITORY)")
}

func (p *pipelineFlags) registerBump(fs *pflag.FlagSet) {
	fs.StringVar(&p.pin, "pin", "", "how manifests name images: tag, digest or tag+digest (default: each entry's pin:, else tag+digest)")
}

// options turns the flags into the release package's options.
func (a *app) options(p *pipelineFlags) (release.Options, error) {
	if p.jobs < 1 {
		return release.Options{}, a.usagef("--jobs: must be at least 1")
	}
	if p.retries < 1 {
		return release.Options{}, a.usagef("--retries: must be at least 1")
	}
	switch p.pin {
	case "", project.PinTag, project.PinDigest, project.PinTagDigest:
	default:
		return release.Options{}, a.usagef("--pin: %q is not one of tag, digest, tag+digest", p.pin)
	}
	host := p.buildkitHost
	a.buildkitHost = p.buildkitHost
	source := "--buildkit-host"
	if host == "" {
		host, source = a.getenv("BUILDKIT_HOST"), "BUILDKIT_HOST"
	}
	if host != "" {
		if err := builder.ValidateAddress(host); err != nil {
			return release.Options{}, a.usagef("%s: %v", source, err)
		}
	}
	for _, h := range p.insecure {
		if strings.Contains(h, "/") || h == "" {
			return release.Options{}, a.usagef("--insecure-registry %q: give the registry as host[:port], without a scheme or path", h)
		}
	}
	sigRepo := p.sigRepo
	if sigRepo == "" {
		sigRepo = a.getenv("COSIGN_REPOSITORY")
	}
	o := release.Options{
		Jobs:                p.jobs,
		BuildkitHost:        host,
		StoreDir:            a.path(p.store),
		NoCache:             p.noCache,
		Pull:                p.pull,
		InsecureRegistries:  p.insecure,
		Retries:             p.retries,
		PushTimeout:         p.pushTimeout,
		Pass:                a.passFunc(),
		SignatureRepository: sigRepo,
		Pin:                 p.pin,
		Progress:            a.stderr,
		ProgressMode:        a.progressMode(),
		Getenv:              a.getenv,
		ReportPath:          a.reportPath(),
		ImmutableTags:       p.immutable,
		NoSkip:              p.noSkip,
		Warn:                func(s string) { a.warnf("%s", s) },
	}
	if a.progress == "quiet" {
		o.Progress = nil
	}
	if a.jsonl != nil {
		o.StageProgress = a.stageOut
	}
	if a.debug {
		o.Debug = a.stderr
	}
	return o, nil
}

// newReport starts the report of a command.
func (a *app) newReport(cmd string) *report.Report {
	r := report.New(cmd, buildInfo().Version)
	r.Project = a.file
	return r
}

// finishReport writes the report (--report) and the GitHub outputs, even
// after a failure, so that what did happen is on record. The command's
// own error wins over an error writing the report.
func (a *app) finishReport(rep *report.Report, runErr error) error {
	rep.Success = runErr == nil
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	var err error
	switch {
	case a.report == "-":
		if werr := report.Encode(a.reportOut, rep); werr != nil {
			err = fmt.Errorf("writing the report: %w", werr)
		}
	case a.report != "":
		if werr := report.Write(a.path(a.report), rep); werr != nil {
			err = fmt.Errorf("writing the report: %w", werr)
		}
	}
	if gerr := report.WriteGitHub(a.getenv, rep, a.reportPathForOutputs()); gerr != nil && err == nil {
		err = gerr
	}
	if runErr != nil {
		return runErr
	}
	return err
}

// reportPath is the absolute path of --report, "" when none or stdout.
func (a *app) reportPath() string {
	if a.report == "" || a.report == "-" {
		return ""
	}
	return a.path(a.report)
}

func (a *app) reportPathForOutputs() string {
	if a.report == "" || a.report == "-" {
		return ""
	}
	return a.path(a.report)
}

// printPushed prints REF@DIGEST lines for a report's images.
func (a *app) printPushed(rep *report.Report) {
	for _, img := range rep.Images {
		for _, p := range img.Pushed {
			fmt.Fprintln(a.stdout, p)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
