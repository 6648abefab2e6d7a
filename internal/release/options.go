package release

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/sign"
)

// Options are the knobs of the stages, set from flags and environment.
type Options struct {
	// Jobs bounds concurrent builds and blob uploads. Default 4.
	Jobs int
	// BuildkitHost is a BuildKit address; empty means slipway.yaml's
	// buildkit.host, else a private buildkitd for the run.
	BuildkitHost string
	// StoreDir is the local OCI layout; default .slipway/store beside slipway.yaml.
	StoreDir string
	// NoCache and Pull are passed to every build; NoCache also turns off
	// the skipping of unchanged images.
	NoCache, Pull bool
	// NoSkip makes a release build every image, changed or not.
	NoSkip bool
	// InsecureRegistries adds plain-HTTP hosts to slipway.yaml's list.
	InsecureRegistries []string
	// Retries bounds attempts per registry request; 0 means the pusher's default.
	Retries int
	// Access, when set, is the registry access of the run (TLS roots,
	// insecure hosts, credentials); InsecureRegistries and Retries are then
	// already in it. Default: built from slipway.yaml and these options.
	Access *access.Access
	// PushTimeout bounds one image's push; 0 means the pusher's default.
	PushTimeout time.Duration
	// Pass supplies the signing key's password.
	Pass sign.PassFunc
	// SignatureRepository overrides sign.repository (COSIGN_REPOSITORY).
	SignatureRepository string
	// Pin overrides every manifest entry's pin.
	Pin string
	// Progress receives human progress (BuildKit display, push bars);
	// ProgressMode is auto, tty, plain, rawjson or quiet.
	Progress     io.Writer
	ProgressMode string
	// StageProgress, when set, gives each stage ("push") its own progress
	// writer instead of Progress (rawjson event types).
	StageProgress func(stage string) io.Writer
	// Debug receives request logs; never secrets.
	Debug io.Writer
	// Getenv reads the environment.
	Getenv func(string) string
	// ImmutableTags refuses to move tags that name one commit or version
	// (on top of slipway.yaml's immutable_tags); otherwise such a move is
	// passed to Warn.
	ImmutableTags bool
	// Warn receives warnings meant for the user; nil drops them.
	Warn func(string)
	// ReportPath is the report this run writes (--report), one of
	// slipway's own files: never sent to BuildKit.
	ReportPath string
}

func (o Options) jobs() int {
	if o.Jobs <= 0 {
		return 4
	}
	return o.Jobs
}

// StoreDir is where the store of cfg lives under these options.
func (o Options) storeDir(cfg *project.Config) string {
	if o.StoreDir != "" {
		return o.StoreDir
	}
	return filepath.Join(cfg.Dir, ".slipway", "store")
}

// sourceURL is the org.opencontainers.image.source of the project: the
// CI's repository URL, else the git remote "origin" as an https URL.
func sourceURL(ctx context.Context, dir string, getenv func(string) string) string {
	if server, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		return strings.TrimSuffix(server, "/") + "/" + repo
	}
	if u := getenv("CI_PROJECT_URL"); u != "" {
		return u
	}
	cmd := exec.CommandContext(ctx, "git", "remote", "get-url", "origin")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return publicURL(strings.TrimSpace(string(out)))
}

// publicURL turns git@host:org/repo.git into https://host/org/repo and drops
// any credentials from an https remote.
func publicURL(remote string) string {
	remote = strings.TrimSuffix(remote, ".git")
	if rest, ok := strings.CutPrefix(remote, "git@"); ok {
		host, path, _ := strings.Cut(rest, ":")
		return "https://" + host + "/" + path
	}
	if scheme, rest, ok := strings.Cut(remote, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if slash := strings.Index(rest, "/"); slash < 0 || at < slash {
				rest = rest[at+1:]
			}
		}
		if scheme == "ssh" {
			scheme = "https"
		}
		return scheme + "://" + rest
	}
	return ""
}
