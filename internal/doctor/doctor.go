// Package doctor checks that this machine can run a release of a project:
// the project file, git, BuildKit, every registry with its credentials,
// the signing key. Each check says ok, warning or error, with a fix.
// Nothing is written anywhere: registries are only asked for a token and a
// tag list.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/access"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/tagging"
	"github.com/slipway-build/slipway/pusher"
)

// Status is the verdict of one check.
type Status string

// Verdicts, from best to worst; Skipped is a check that did not apply or
// could not run because an earlier one failed.
const (
	OK      Status = "ok"
	Skipped Status = "skipped"
	Warning Status = "warning"
	Error   Status = "error"
)

// Check is one check's result.
type Check struct {
	// Name says what was checked: "project", "git", "buildkit",
	// "registry HOST/PATH", "signing key", ...
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Fix is what to do about a warning or an error.
	Fix string `json:"fix,omitempty"`
}

// Result is every check, in order.
type Result struct {
	Checks []Check `json:"checks"`
	// OK is false when any check is an error.
	OK bool `json:"ok"`
}

// Env is what the checks read; tests swap in their own.
type Env struct {
	// Dir is the folder the project is in; File the project file and
	// Shown how to name it in messages.
	Dir, File, Shown string
	LookupEnv        func(string) (string, bool)
	// Euid is the effective user id (root needs no rootlesskit).
	Euid int
	// Access adds the flags' registry settings to the project's.
	Access access.Options
	// Timeout bounds each network check; default 10s.
	Timeout time.Duration
	// ProcSys is the folder of kernel settings, default /proc/sys.
	ProcSys string
}

func (e Env) getenv(k string) string {
	v, _ := e.LookupEnv(k)
	return v
}

// Run runs every check.
func Run(ctx context.Context, env Env) Result {
	if env.Timeout <= 0 {
		env.Timeout = 10 * time.Second
	}
	if env.ProcSys == "" {
		env.ProcSys = "/proc/sys"
	}
	if env.LookupEnv == nil {
		env.LookupEnv = os.LookupEnv
	}
	var r Result
	add := func(c Check) { r.Checks = append(r.Checks, c) }

	cfg, c := checkProject(env)
	add(c)
	add(checkGit(ctx, env))
	add(checkBuildkit(ctx, env, cfg))
	for _, c := range checkRegistries(ctx, env, cfg) {
		add(c)
	}
	add(checkSigning(ctx, env, cfg))
	for _, c := range extraChecks(ctx, env, cfg) {
		add(c)
	}

	r.OK = true
	for _, c := range r.Checks {
		if c.Status == Error {
			r.OK = false
		}
	}
	return r
}

func checkProject(env Env) (*project.Config, Check) {
	c := Check{Name: "project"}
	cfg, err := project.LoadNamed(env.File, env.Shown, env.LookupEnv)
	var ps *project.Problems
	switch {
	case errors.Is(err, project.ErrNotFound):
		c.Status, c.Message = Error, env.Shown+" not found"
		c.Fix = "run slipway init to write one, or name it with -f FILE or -C DIR"
		return nil, c
	case errors.As(err, &ps):
		c.Status = Error
		var lines []string
		for _, p := range ps.Items {
			lines = append(lines, p.String())
		}
		c.Message = ps.File + ": " + ps.Summary() + ": " + strings.Join(lines, "; ")
		c.Fix = "correct the lines named; docs/config.md describes every field"
		return nil, c
	case err != nil:
		c.Status, c.Message, c.Fix = Error, err.Error(), "check that the file is readable"
		return nil, c
	}
	regs := map[string]bool{}
	for _, img := range cfg.Images {
		for _, r := range cfg.RegistriesFor(img) {
			regs[r.URL] = true
		}
	}
	c.Status = OK
	c.Message = fmt.Sprintf("%s loads: %s, %s, %s", env.Shown, plural(len(cfg.Images), "image"), plural(len(regs), "registry"), plural(len(cfg.Manifests), "manifest entry"))
	return cfg, c
}

func checkGit(ctx context.Context, env Env) Check {
	c := Check{Name: "git"}
	f, err := tagging.GitFacts(ctx, env.Dir, env.getenv)
	if err == nil && f.Commit == "" {
		err = fmt.Errorf("%s is not in a git work tree with a commit", env.Dir)
	}
	if err != nil {
		c.Status, c.Message = Error, err.Error()
		c.Fix = "run slipway inside a git work tree with at least one commit (tags come from git facts)"
		return c
	}
	c.Status = OK
	c.Message = "commit " + f.ShortCommit
	if f.Branch != "" {
		c.Message += " on " + f.Branch
	}
	if f.Tag != "" {
		c.Message += ", tag " + f.Tag
	}
	if f.Dirty {
		c.Status = Warning
		c.Message += ", uncommitted changes"
		c.Fix = "commit or stash the changes: tags of a dirty tree end in -dirty"
	}
	return c
}

func checkBuildkit(ctx context.Context, env Env, cfg *project.Config) Check {
	c := Check{Name: "buildkit"}
	addr, from := env.getenv("BUILDKIT_HOST"), "BUILDKIT_HOST"
	var tls *builder.TLSFiles
	if addr == "" && cfg != nil && cfg.Buildkit.Host != "" {
		addr, from = cfg.Buildkit.Host, "buildkit.host"
		if b := cfg.Buildkit; b.CA != "" || b.Cert != "" || b.Key != "" {
			tls = &builder.TLSFiles{CA: b.CA, Cert: b.Cert, Key: b.Key}
		}
	}
	if addr != "" {
		v, err := builder.Probe(ctx, addr, tls, env.Timeout)
		if err != nil {
			c.Status, c.Message = Error, err.Error()
			c.Fix = firstHint(err, "start buildkitd at "+addr+", or unset "+from+" to let slipway start its own")
			return c
		}
		c.Status = OK
		c.Message = fmt.Sprintf("BuildKit %s answers at %s (from %s)", orUnknown(v), addr, from)
		return c
	}
	p, err := builder.FindPrograms("", env.Euid)
	if err != nil {
		c.Status, c.Message = Error, "no BuildKit address set, and a private buildkitd cannot start: "+err.Error()
		c.Fix = firstHint(err, "install buildkitd and runc, or set BUILDKIT_HOST")
		return c
	}
	c.Status = OK
	c.Message = fmt.Sprintf("private buildkitd: %s with %s", p.Buildkitd, p.Runc)
	if env.Euid != 0 {
		c.Message += ", rootless under " + p.Rootlesskit
		if msg, fix := userNamespaces(env.ProcSys); msg != "" {
			c.Status, c.Message, c.Fix = Error, c.Message+"; "+msg, fix
		}
	}
	return c
}

// userNamespaces tells why unprivileged user namespaces are refused, if
// they are; rootless buildkitd needs them.
func userNamespaces(procSys string) (msg, fix string) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(procSys, p))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	switch {
	case read("kernel/apparmor_restrict_unprivileged_userns") == "1":
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
			"run buildkitd as root and set BUILDKIT_HOST (docs/ci.md, A shared daemon), or sysctl kernel.apparmor_restrict_unprivileged_userns=0"
	case read("kernel/unprivileged_userns_clone") == "0":
		return "unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)",
			"sysctl kernel.unprivileged_userns_clone=1, or run buildkitd as root and set BUILDKIT_HOST"
	case read("user/max_user_namespaces") == "0":
		return "user namespaces are off (user.max_user_namespaces=0)",
			"sysctl user.max_user_namespaces=15000, or run buildkitd as root and set BUILDKIT_HOST"
	}
	return "", ""
}

// checkRegistries asks each repository the project pushes to for a push
// token and its tag list.
func checkRegistries(ctx context.Context, env Env, cfg *project.Config) []Check {
	if cfg == nil {
		return []Check{{Name: "registries", Status: Skipped, Message: "the project file does not load"}}
	}
	acc, err := access.New(cfg, env.Access)
	if err != nil {
		return []Check{{Name: "registries", Status: Error, Message: err.Error(), Fix: "check the pull secret files named"}}
	}
	opts := acc.PushOptions()
	opts.Retries = 1
	opts.Deadline = env.Timeout
	var repos []string
	seen := map[string]bool{}
	for _, img := range cfg.Images {
		for _, r := range cfg.RegistriesFor(img) {
			repo := strings.TrimSuffix(r.URL, "/") + "/" + img.Name
			if !seen[repo] {
				seen[repo] = true
				repos = append(repos, repo)
			}
		}
	}
	sort.Strings(repos)
	var out []Check
	for _, repo := range repos {
		c := Check{Name: "registry " + repo}
		creds, err := pusher.CheckAccess(ctx, repo, opts)
		host := access.RegistryHost(repo)
		switch {
		case err != nil:
			c.Status, c.Message = Error, strings.TrimPrefix(err.Error(), "checking "+repo+": ")
			auth := errors.Is(err, pusher.ErrUnauthorized) || errors.Is(err, pusher.ErrDenied)
			switch {
			case auth && !creds:
				c.Fix = "no credentials found for " + host + ": slipway login " + host + " (or docker login, crane auth login)"
			case auth:
				c.Fix = "the credentials for " + host + " are refused: slipway login " + host + " again, or ask for push access to " + repo
			default:
				c.Fix = firstHint(err, "check that "+host+" is reachable from here (address, proxy, firewall); a private CA needs ca_file")
			}
		case creds:
			c.Status, c.Message = OK, "reachable, credentials accepted"
		default:
			c.Status, c.Message = OK, "reachable without credentials"
		}
		out = append(out, c)
	}
	return out
}

func checkSigning(ctx context.Context, env Env, cfg *project.Config) Check {
	c := Check{Name: "signing key"}
	if cfg == nil {
		c.Status, c.Message = Skipped, "the project file does not load"
		return c
	}
	if cfg.Sign == nil || cfg.Sign.Key == "" {
		c.Status, c.Message = Skipped, "sign: is not set; images are not signed"
		return c
	}
	key := cfg.Sign.Key
	pw, havePW := env.LookupEnv(sign.PasswordEnv)
	pass := func(bool) ([]byte, error) { return []byte(pw), nil }
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	_, err := sign.LoadSigner(ctx, key, pass)
	switch {
	case err == nil && havePW:
		c.Status, c.Message = OK, key+" opens with "+sign.PasswordEnv
	case err == nil:
		c.Status, c.Message = OK, key+" opens (no password)"
	case errors.Is(err, sign.ErrWrongPassword) && !havePW:
		c.Status, c.Message = Warning, key+" is readable; "+sign.PasswordEnv+" is not set"
		c.Fix = "set " + sign.PasswordEnv + " where no terminal can ask for it (CI)"
	case errors.Is(err, sign.ErrWrongPassword):
		c.Status, c.Message = Error, key+": "+sign.PasswordEnv+" does not open it"
		c.Fix = "set " + sign.PasswordEnv + " to the key's password"
	default:
		c.Status, c.Message = Error, err.Error()
		c.Fix = firstHint(err, "check sign.key: a cosign key file (slipway keygen writes one) or a KMS URI")
	}
	return c
}

func firstHint(err error, fallback string) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	var hs interface{ Hints() []string }
	if errors.As(err, &hs) && len(hs.Hints()) > 0 {
		return hs.Hints()[0]
	}
	return fallback
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}
