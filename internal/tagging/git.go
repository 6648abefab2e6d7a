package tagging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GitFacts reads the facts of the git work tree that contains dir by running
// the git command. getenv looks up the CI variables (branch on a detached
// HEAD, build number); nil means os.Getenv. git itself runs with the process
// environment.
//
// Outside a git work tree (or in a bare repository) it returns Facts with
// InRepo false, only BuildNumber set, and no error. In a repository without
// commits InRepo is true and the commit facts are empty. When the git
// program is missing the error wraps exec.ErrNotFound, so a caller may treat
// that case as "no git facts" if it wishes.
func GitFacts(ctx context.Context, dir string, getenv func(string) string) (Facts, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	f := Facts{BuildNumber: SafeTag(firstEnv(getenv, "GITHUB_RUN_NUMBER", "CI_PIPELINE_IID", "BUILD_NUMBER"))}
	wrap := func(err error) (Facts, error) {
		return Facts{}, fmt.Errorf("reading git facts in %s: %w", dir, err)
	}
	g := git{dir: dir}

	inside, err := g.run(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository") {
			return f, nil
		}
		return wrap(err)
	}
	if inside != "true" { // inside .git or a bare repository: no work tree to build from
		return f, nil
	}
	f.InRepo = true

	commit, err := g.run(ctx, "rev-parse", "-q", "--verify", "HEAD^{commit}")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && ge.code == 1 { // no commit yet
			return f, nil
		}
		return wrap(err)
	}
	f.Commit = commit
	f.ShortCommit = commit[:min(7, len(commit))]

	ct, err := g.run(ctx, "show", "-s", "--no-show-signature", "--format=%ct", commit)
	if err != nil {
		return wrap(err)
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return wrap(fmt.Errorf("commit time %q: %w", ct, err))
	}
	f.CommitTime = time.Unix(secs, 0).UTC()
	f.Date = f.CommitTime.Format("20060102")
	f.Timestamp = strconv.FormatInt(secs, 10)

	branch, err := g.run(ctx, "symbolic-ref", "-q", "--short", "HEAD")
	if err != nil {
		var ge *gitError
		if !errors.As(err, &ge) || ge.code != 1 { // 1 means detached
			return wrap(err)
		}
		branch = ciBranch(getenv)
	}
	f.Branch = SafeTag(branch)

	tags, err := g.run(ctx, "tag", "--no-column", "--sort=refname", "--points-at", "HEAD")
	if err != nil {
		return wrap(err)
	}
	tag, sv, isSemver := pickTag(strings.Fields(tags))
	f.Tag = tagSafe(tag)
	if isSemver {
		f.Version = tagSafe(sv.version)
		f.Major, f.Minor, f.Patch, f.Prerelease = sv.major, sv.minor, sv.patch, SafeTag(sv.pre)
	}

	describe, err := g.run(ctx, "describe", "--tags", "--always")
	if err != nil {
		return wrap(err)
	}
	f.Describe = tagSafe(describe)

	status, err := g.run(ctx, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return wrap(err)
	}
	f.Dirty = status != ""
	return f, nil
}

// tagSafe keeps semver build metadata readable ("+" → "_") before SafeTag.
func tagSafe(s string) string {
	return SafeTag(strings.ReplaceAll(s, "+", "_"))
}

// pickTag chooses among the tags at HEAD: the highest semantic version, else
// the first by name (git lists them sorted).
func pickTag(tags []string) (tag string, sv semver, isSemver bool) {
	for _, t := range tags {
		v, ok := parseSemver(t)
		if ok && (!isSemver || compareSemver(v, sv) > 0) {
			tag, sv, isSemver = t, v, true
		}
	}
	if !isSemver && len(tags) > 0 {
		tag = tags[0]
	}
	return tag, sv, isSemver
}

// ciBranch names the branch a CI system checked out on a detached HEAD.
// A variable that names a tag, by the same CI's own word, is not a branch.
func ciBranch(getenv func(string) string) string {
	if b := getenv("GITHUB_HEAD_REF"); b != "" { // pull requests: the source branch
		return b
	}
	if b := getenv("GITHUB_REF_NAME"); b != "" && getenv("GITHUB_REF_TYPE") != "tag" {
		return b
	}
	if b := getenv("CI_COMMIT_REF_NAME"); b != "" && getenv("CI_COMMIT_TAG") == "" {
		return b
	}
	if b := getenv("BRANCH_NAME"); b != "" && getenv("TAG_NAME") == "" {
		return b
	}
	return ""
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}

type git struct{ dir string }

// gitError is a git command that ran and failed.
type gitError struct {
	args   []string
	code   int
	stderr string
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.code)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.args, " "), msg)
}

// run runs git in g.dir and returns its trimmed stdout.
func (g git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.dir
	// Messages in English so they can be recognised; no lock files written
	// by status; never wait for a password.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", &gitError{args: args, code: ee.ExitCode(), stderr: stderr.String()}
		}
		return "", fmt.Errorf("running git: %w", err)
	}
	return strings.TrimSpace(stdout.String()), nil
}
