package tagging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GitFacts reads every fact of the git work tree that contains dir: the
// facts of HEAD (see [HeadFacts], Describe included) and, in a repository
// with commits, Dirty (see [WorkTreeDirty]). It costs two git processes; a
// caller that knows which facts it needs calls those two itself.
func GitFacts(ctx context.Context, dir string, getenv func(string) string) (Facts, error) {
	f, err := HeadFacts(ctx, dir, getenv, true)
	if err != nil || f.Commit == "" {
		return f, err
	}
	if f.Dirty, err = WorkTreeDirty(ctx, dir); err != nil {
		return Facts{}, err
	}
	return f, nil
}

// HeadFacts reads the facts of HEAD in the git work tree that contains dir
// (commit, commit time, branch, tags and version) with one git process, and
// the build number from the CI environment. Describe is read only when
// describe is true, because it makes git walk the history for the nearest
// tag. Dirty is never read here: it needs git status over the work tree,
// which [WorkTreeDirty] runs. getenv looks up the CI variables (branch on a
// detached HEAD, build number); nil means os.Getenv. git itself runs with
// the process environment.
//
// Outside a git work tree (or in a bare repository) it returns Facts with
// InRepo false, only BuildNumber set, and no error. In a repository without
// commits InRepo is true and the commit facts are empty. When the git
// program is missing the error wraps exec.ErrNotFound, so a caller may treat
// that case as "no git facts" if it wishes.
func HeadFacts(ctx context.Context, dir string, getenv func(string) string, describe bool) (Facts, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	f := EnvFacts(getenv)
	wrap := func(err error) (Facts, error) {
		return Facts{}, fmt.Errorf("reading git facts in %s: %w", dir, err)
	}
	g := git{dir: dir}

	// One line, NUL-separated: commit, committer time, the refs at HEAD, and
	// with describe the nearest tag and the abbreviated hash. The explicit
	// --decorate-refs override the user's log.excludeDecoration.
	format := "%H%x00%ct%x00%D"
	if describe {
		format += "%x00%(describe:tags=true)%x00%h"
	}
	out, err := g.run(ctx, "log", "-1", "--no-show-signature", "--format="+format,
		"--decorate-refs=HEAD", "--decorate-refs=refs/heads/", "--decorate-refs=refs/tags/", "HEAD", "--")
	if err != nil {
		var ge *gitError
		if !errors.As(err, &ge) {
			return wrap(err)
		}
		if strings.Contains(ge.stderr, "not a git repository") {
			return f, nil
		}
		// The rare cases (no commit yet, a bare repository) are told apart
		// by asking git directly.
		return noHead(ctx, g, f, err, wrap)
	}
	inside, err := insideWorkTree(ctx, g)
	if err != nil {
		return wrap(err)
	}
	if !inside { // inside .git or a bare repository: no work tree to build from
		return f, nil
	}
	f.InRepo = true

	fields := strings.Split(out, "\x00")
	if want := 3 + 2*btoi(describe); len(fields) != want {
		return wrap(fmt.Errorf("unexpected git log output %q", out))
	}
	f.Commit = fields[0]
	f.ShortCommit = f.Commit[:min(7, len(f.Commit))]
	secs, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return wrap(fmt.Errorf("commit time %q: %w", fields[1], err))
	}
	f.CommitTime = time.Unix(secs, 0).UTC()
	f.Date = f.CommitTime.Format("20060102")
	f.Timestamp = strconv.FormatInt(secs, 10)

	branch, tags := parseDecorations(fields[2])
	if branch == "" {
		branch = ciBranch(getenv)
	}
	f.Branch = SafeTag(branch)
	tag, sv, isSemver := pickTag(tags)
	f.Tag = tagSafe(tag)
	if isSemver {
		f.Version = tagSafe(sv.version)
		f.Major, f.Minor, f.Patch, f.Prerelease = sv.major, sv.minor, sv.patch, SafeTag(sv.pre)
	}
	if describe {
		d := fields[3]
		if d == "" { // no tag reachable: `git describe --always` gives the abbreviated hash
			d = fields[4]
		}
		f.Describe = tagSafe(d)
	}
	return f, nil
}

// EnvFacts are the facts that need no git: the build number from the CI
// environment (getenv; nil means os.Getenv). InRepo is false.
func EnvFacts(getenv func(string) string) Facts {
	if getenv == nil {
		getenv = os.Getenv
	}
	return Facts{BuildNumber: SafeTag(firstEnv(getenv, "GITHUB_RUN_NUMBER", "CI_PIPELINE_IID", "BUILD_NUMBER"))}
}

// noHead explains a failed `git log HEAD` in a repository: no commit yet
// (InRepo true, no commit facts), a bare repository (InRepo false), or a
// real error (logErr).
func noHead(ctx context.Context, g git, f Facts, logErr error, wrap func(error) (Facts, error)) (Facts, error) {
	inside, err := g.run(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil {
		return wrap(err)
	}
	if inside != "true" {
		return f, nil
	}
	if _, err := g.run(ctx, "rev-parse", "-q", "--verify", "HEAD^{commit}"); err != nil {
		var ge *gitError
		if errors.As(err, &ge) && ge.code == 1 { // no commit yet
			f.InRepo = true
			return f, nil
		}
		return wrap(err)
	}
	return wrap(logErr)
}

// insideWorkTree reports whether g.dir, where git found a repository, is in
// its work tree rather than in a git directory (.git itself, a bare
// repository). The usual layout is recognised without a process: walking up
// from the folder, a .git entry comes before any folder that is a git
// directory. Anything else (GIT_DIR or GIT_WORK_TREE set, a core.worktree
// elsewhere) is left to `git rev-parse`.
func insideWorkTree(ctx context.Context, g git) (bool, error) {
	if os.Getenv("GIT_DIR") == "" && os.Getenv("GIT_WORK_TREE") == "" {
		if d, err := filepath.Abs(g.dir); err == nil {
			for {
				// git's own order: d/.git first, then d itself.
				if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
					if !hasWorkTreeElsewhere(d) {
						return true, nil
					}
					break
				}
				if isGitDir(d) {
					return false, nil
				}
				parent := filepath.Dir(d)
				if parent == d {
					break
				}
				d = parent
			}
		}
	}
	inside, err := g.run(ctx, "rev-parse", "--is-inside-work-tree")
	return inside == "true", err
}

// isGitDir reports whether d looks like a git directory to git's discovery:
// a HEAD file next to objects/ and refs/.
func isGitDir(d string) bool {
	for _, p := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(d, p)); err != nil {
			return false
		}
	}
	return true
}

// hasWorkTreeElsewhere reports whether the repository at d/.git declares
// itself bare or names another work tree in its config, which only git can
// then resolve.
func hasWorkTreeElsewhere(d string) bool {
	b, err := os.ReadFile(filepath.Join(d, ".git", "config"))
	if err != nil {
		return false // a .git file (worktree, submodule) or no config: the usual case
	}
	s := strings.ToLower(string(b))
	return strings.Contains(s, "worktree") || strings.Contains(s, "bare = true") || strings.Contains(s, "bare=true")
}

// parseDecorations splits git's %D of HEAD ("HEAD -> main, tag: v1, tag: v2,
// other") into the checked-out branch ("" when detached) and the tags at
// HEAD, sorted by name. Ref names cannot hold spaces, so ", " separates.
func parseDecorations(s string) (branch string, tags []string) {
	if s == "" {
		return "", nil
	}
	for _, d := range strings.Split(s, ", ") {
		if b, ok := strings.CutPrefix(d, "HEAD -> "); ok {
			branch = b
		} else if t, ok := strings.CutPrefix(d, "tag: "); ok {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return branch, tags
}

// WorkTreeDirty reports whether the git work tree that contains dir has
// uncommitted changes, untracked files included (they reach a build
// context); ignored files do not count. It runs git status over the whole
// work tree, so callers ask only when a tag or a record depends on it.
func WorkTreeDirty(ctx context.Context, dir string) (bool, error) {
	status, err := git{dir: dir}.run(ctx, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return false, fmt.Errorf("reading git status in %s: %w", dir, err)
	}
	return status != "", nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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
