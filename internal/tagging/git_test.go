package tagging

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Commit dates of the test repository. C is given in +05:00 and falls on
// the previous day in UTC, which .Date must use.
const (
	dateA = "2024-01-02T03:04:05Z"
	dateB = "2024-02-03T04:05:06Z"
	dateC = "2024-03-05T01:00:00+05:00"
)

// needGit skips when git is missing, unless SLIPWAY_REQUIRE_TOOLS=1, and
// isolates git from the user's configuration and from any repository that
// encloses the temporary folder.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("SLIPWAY_REQUIRE_TOOLS") == "1" {
			t.Fatalf("git is required: %v", err)
		}
		t.Skipf("git not installed: %v", err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(t.TempDir()))
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

type testRepo struct {
	t    *testing.T
	dir  string
	hash map[string]string // commit label → full hash
}

// git runs git in the repository with extra environment entries.
func (r *testRepo) git(env []string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(file, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits a new file at a fixed date and remembers the hash as label.
func (r *testRepo) commit(label, date string) {
	r.t.Helper()
	r.write(label+".txt", label+"\n")
	r.git(nil, "add", label+".txt")
	r.git([]string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date},
		"-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "commit "+label)
	r.hash[label] = r.git(nil, "rev-parse", "HEAD")
}

func (r *testRepo) annotatedTag(tag, date string) {
	r.t.Helper()
	r.git([]string{"GIT_COMMITTER_DATE=" + date},
		"-c", "user.name=Test", "-c", "user.email=test@example.com", "tag", "-a", "-m", "release "+tag, tag)
}

// newRepo builds: main: A (v1.2.3, annotated) ← B (v2.0.0-rc.1 annotated,
// v1.9.0 and nightly lightweight); feature/x: B ← C. HEAD is main.
func newRepo(t *testing.T) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: t.TempDir(), hash: map[string]string{}}
	r.git(nil, "init", "-q", "-b", "main")
	r.commit("A", dateA)
	r.annotatedTag("v1.2.3", dateA)
	r.commit("B", dateB)
	r.annotatedTag("v2.0.0-rc.1", dateB)
	r.git(nil, "tag", "v1.9.0")
	r.git(nil, "tag", "nightly")
	r.git(nil, "switch", "-q", "-c", "feature/x")
	r.commit("C", dateC)
	r.git(nil, "switch", "-q", "main")
	return r
}

// withCommit fills the commit facts of label into f.
func (r *testRepo) withCommit(f Facts, label, date string) Facts {
	r.t.Helper()
	ct, err := time.Parse(time.RFC3339, date)
	if err != nil {
		r.t.Fatal(err)
	}
	ct = ct.UTC()
	f.InRepo = true
	f.Commit = r.hash[label]
	f.ShortCommit = r.hash[label][:7]
	f.CommitTime = ct
	f.Date = ct.Format("20060102")
	f.Timestamp = strconv.FormatInt(ct.Unix(), 10)
	f.Describe = strings.ReplaceAll(f.Describe, "<short>", r.hash[label][:7])
	return f
}

func envMap(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestGitFacts(t *testing.T) {
	needGit(t)
	tests := []struct {
		name  string
		setup func(r *testRepo) // from main at B, clean
		env   []string
		label string // commit at HEAD
		date  string
		sub   string // folder inside the repository to ask about
		want  Facts  // commit facts are filled from label
	}{
		{
			name:  "main at several tags: highest semver wins",
			label: "B", date: dateB,
			want: Facts{Branch: "main", Tag: "v2.0.0-rc.1", Version: "2.0.0-rc.1", Major: "2", Minor: "0", Patch: "0",
				Prerelease: "rc.1", Describe: "v2.0.0-rc.1"},
		},
		{
			name:  "detached at a release tag without CI variables",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "v1.2.3") },
			label: "A", date: dateA,
			want: Facts{Tag: "v1.2.3", Version: "1.2.3", Major: "1", Minor: "2", Patch: "3", Describe: "v1.2.3"},
		},
		{
			name:  "detached, GitHub branch push",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "v1.2.3") },
			env:   []string{"GITHUB_REF_NAME", "release/1.x", "GITHUB_REF_TYPE", "branch"},
			label: "A", date: dateA,
			want: Facts{Branch: "release-1.x", Tag: "v1.2.3", Version: "1.2.3", Major: "1", Minor: "2", Patch: "3", Describe: "v1.2.3"},
		},
		{
			name:  "detached, GitHub tag push names no branch",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "v1.2.3") },
			env:   []string{"GITHUB_REF_NAME", "v1.2.3", "GITHUB_REF_TYPE", "tag", "GITHUB_RUN_NUMBER", "42"},
			label: "A", date: dateA,
			want: Facts{Tag: "v1.2.3", Version: "1.2.3", Major: "1", Minor: "2", Patch: "3", Describe: "v1.2.3", BuildNumber: "42"},
		},
		{
			name:  "detached, GitHub pull request uses the head branch",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "feature/x") },
			env:   []string{"GITHUB_HEAD_REF", "feature/login", "GITHUB_REF_NAME", "12/merge"},
			label: "C", date: dateC,
			want: Facts{Branch: "feature-login", Describe: "v2.0.0-rc.1-1-g<short>"},
		},
		{
			name:  "detached, GitLab branch pipeline",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "feature/x") },
			env:   []string{"CI_COMMIT_REF_NAME", "feat/Y", "CI_PIPELINE_IID", "77", "BUILD_NUMBER", "5"},
			label: "C", date: dateC,
			want: Facts{Branch: "feat-Y", Describe: "v2.0.0-rc.1-1-g<short>", BuildNumber: "77"},
		},
		{
			name:  "detached, GitLab tag pipeline names no branch",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "v1.2.3") },
			env:   []string{"CI_COMMIT_REF_NAME", "v1.2.3", "CI_COMMIT_TAG", "v1.2.3"},
			label: "A", date: dateA,
			want: Facts{Tag: "v1.2.3", Version: "1.2.3", Major: "1", Minor: "2", Patch: "3", Describe: "v1.2.3"},
		},
		{
			name:  "detached, Jenkins",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "feature/x") },
			env:   []string{"BRANCH_NAME", "PR-7", "BUILD_NUMBER", "5"},
			label: "C", date: dateC,
			want: Facts{Branch: "PR-7", Describe: "v2.0.0-rc.1-1-g<short>", BuildNumber: "5"},
		},
		{
			name:  "attached branch ignores CI variables",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "feature/x") },
			env:   []string{"GITHUB_REF_NAME", "other"},
			label: "C", date: dateC,
			want: Facts{Branch: "feature-x", Describe: "v2.0.0-rc.1-1-g<short>"},
		},
		{
			name: "modified tracked file is dirty",
			setup: func(r *testRepo) {
				r.git(nil, "switch", "-q", "feature/x")
				r.write("C.txt", "changed\n")
			},
			label: "C", date: dateC,
			want: Facts{Branch: "feature-x", Describe: "v2.0.0-rc.1-1-g<short>", Dirty: true},
		},
		{
			name:  "untracked file is dirty",
			setup: func(r *testRepo) { r.write("new.txt", "new\n") },
			label: "B", date: dateB,
			want: Facts{Branch: "main", Tag: "v2.0.0-rc.1", Version: "2.0.0-rc.1", Major: "2", Minor: "0", Patch: "0",
				Prerelease: "rc.1", Describe: "v2.0.0-rc.1", Dirty: true},
		},
		{
			name: "ignored file is clean",
			setup: func(r *testRepo) {
				r.write(".git/info/exclude", "*.log\n")
				r.write("build.log", "x\n")
			},
			label: "B", date: dateB,
			want: Facts{Branch: "main", Tag: "v2.0.0-rc.1", Version: "2.0.0-rc.1", Major: "2", Minor: "0", Patch: "0",
				Prerelease: "rc.1", Describe: "v2.0.0-rc.1"},
		},
		{
			name: "semver build metadata becomes _",
			setup: func(r *testRepo) {
				r.git(nil, "switch", "-q", "feature/x")
				r.git(nil, "tag", "v3.1.4+build.5")
			},
			label: "C", date: dateC,
			want: Facts{Branch: "feature-x", Tag: "v3.1.4_build.5", Version: "3.1.4_build.5", Major: "3", Minor: "1", Patch: "4",
				Describe: "v3.1.4_build.5"},
		},
		{
			name: "non-semver tag gives no version",
			setup: func(r *testRepo) {
				r.git(nil, "switch", "-q", "feature/x")
				r.git(nil, "tag", "release/2024")
			},
			label: "C", date: dateC,
			want: Facts{Branch: "feature-x", Tag: "release-2024", Describe: "release-2024"},
		},
		{
			name:  "subfolder of the work tree",
			setup: func(r *testRepo) { r.write("sub/dir/file.txt", "x") },
			sub:   "sub/dir",
			label: "B", date: dateB,
			want: Facts{Branch: "main", Tag: "v2.0.0-rc.1", Version: "2.0.0-rc.1", Major: "2", Minor: "0", Patch: "0",
				Prerelease: "rc.1", Describe: "v2.0.0-rc.1", Dirty: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			if tt.setup != nil {
				tt.setup(r)
			}
			got, err := GitFacts(context.Background(), filepath.Join(r.dir, tt.sub), envMap(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			want := r.withCommit(tt.want, tt.label, tt.date)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GitFacts:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestGitFactsCommitTimeIsUTC(t *testing.T) {
	needGit(t)
	r := newRepo(t)
	r.git(nil, "switch", "-q", "feature/x")
	f, err := GitFacts(context.Background(), r.dir, envMap())
	if err != nil {
		t.Fatal(err)
	}
	// 2024-03-05T01:00:00+05:00 is the 4th in UTC.
	want := time.Date(2024, 3, 4, 20, 0, 0, 0, time.UTC)
	if !f.CommitTime.Equal(want) || f.CommitTime.Location() != time.UTC || f.Date != "20240304" || f.Timestamp != "1709582400" {
		t.Errorf("got CommitTime %v, Date %s, Timestamp %s; want %v, 20240304, 1709582400", f.CommitTime, f.Date, f.Timestamp, want)
	}
}

func TestGitFactsOutsideRepositories(t *testing.T) {
	needGit(t)
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		want  Facts
		error string
	}{
		{
			name: "plain folder",
			dir:  func(t *testing.T) string { return t.TempDir() },
			want: Facts{BuildNumber: "42"},
		},
		{
			name: "repository without commits",
			dir: func(t *testing.T) string {
				r := &testRepo{t: t, dir: t.TempDir()}
				r.git(nil, "init", "-q", "-b", "main")
				r.write("untracked.txt", "x")
				return r.dir
			},
			want: Facts{InRepo: true, BuildNumber: "42"},
		},
		{
			name: "bare repository",
			dir: func(t *testing.T) string {
				r := &testRepo{t: t, dir: t.TempDir()}
				r.git(nil, "init", "-q", "--bare")
				return r.dir
			},
			want: Facts{BuildNumber: "42"},
		},
		{
			name:  "missing folder",
			dir:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			error: "reading git facts in ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GitFacts(context.Background(), tt.dir(t), envMap("GITHUB_RUN_NUMBER", "42"))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("got error %v, want one containing %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GitFacts:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestGitFactsCanceled(t *testing.T) {
	needGit(t)
	r := newRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := GitFacts(ctx, r.dir, envMap()); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestGitFactsWithoutGit(t *testing.T) {
	needGit(t)
	t.Setenv("PATH", t.TempDir())
	_, err := GitFacts(context.Background(), t.TempDir(), envMap())
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("got %v, want an error wrapping exec.ErrNotFound", err)
	}
}

// TestGitFactsRender renders the templates of slipway.yaml over the facts
// of a real repository, end to end.
func TestGitFactsRender(t *testing.T) {
	needGit(t)
	design := []string{"{{.Version}}", "{{.Major}}.{{.Minor}}", "{{.ShortCommit}}", "{{.Branch}}"}
	tests := []struct {
		name     string
		setup    func(r *testRepo)
		env      []string
		want     []string // "<A>" stands for A's short commit
		warnings int
	}{
		{
			name:  "release tag, detached in CI",
			setup: func(r *testRepo) { r.git(nil, "switch", "-q", "--detach", "v1.2.3") },
			env:   []string{"GITHUB_REF_NAME", "v1.2.3", "GITHUB_REF_TYPE", "tag"},
			want:  []string{"1.2.3", "1.2", "<A>"}, warnings: 1,
		},
		{
			name: "prerelease on main",
			want: []string{"2.0.0-rc.1", "2.0", "<B>", "main"},
		},
		{
			name: "dirty feature branch",
			setup: func(r *testRepo) {
				r.git(nil, "switch", "-q", "feature/x")
				r.write("C.txt", "changed\n")
			},
			want: []string{"<C>-dirty", "feature-x"}, warnings: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			if tt.setup != nil {
				tt.setup(r)
			}
			getenv := envMap(tt.env...)
			f, err := GitFacts(context.Background(), r.dir, getenv)
			if err != nil {
				t.Fatal(err)
			}
			got, warnings, err := Render(design, f, getenv)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tt.want {
				for label, h := range r.hash {
					w = strings.ReplaceAll(w, "<"+label+">", h[:7])
				}
				want = append(want, w)
			}
			if !reflect.DeepEqual(got, want) || len(warnings) != tt.warnings {
				t.Errorf("got %q with warnings %q; want %q with %d warnings", got, warnings, want, tt.warnings)
			}
		})
	}

	t.Run("outside a repository the default fails clearly", func(t *testing.T) {
		f, err := GitFacts(context.Background(), t.TempDir(), envMap())
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = Render(DefaultTemplates, f, envMap())
		if !errors.Is(err, ErrNotRepository) || !strings.Contains(err.Error(), `tag template "{{.ShortCommit}}": .ShortCommit needs git facts: not inside a git work tree`) {
			t.Fatalf("got %v", err)
		}
	})
}

// countGit puts a git on PATH that logs each run to the returned file and
// runs the real git.
func countGit(t *testing.T) (count func() int) {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "runs")
	script := "#!/bin/sh\necho \"$*\" >>" + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() int {
		b, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(b), "\n")
		os.Remove(log)
		return n
	}
}

func TestHeadFactsOneProcess(t *testing.T) {
	needGit(t)
	r := newRepo(t)
	full, err := GitFacts(context.Background(), r.dir, envMap())
	if err != nil {
		t.Fatal(err)
	}
	count := countGit(t)
	for _, describe := range []bool{false, true} {
		got, err := HeadFacts(context.Background(), r.dir, envMap(), describe)
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.Dirty = false
		if !describe {
			want.Describe = ""
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("HeadFacts(describe=%v):\n got %+v\nwant %+v", describe, got, want)
		}
		if n := count(); n != 1 {
			t.Errorf("HeadFacts(describe=%v) ran git %d times, want 1", describe, n)
		}
	}
	if _, err := HeadFacts(context.Background(), t.TempDir(), envMap(), true); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("HeadFacts outside a repository ran git %d times, want 1", n)
	}
	r.write("new.txt", "x")
	if dirty, err := WorkTreeDirty(context.Background(), r.dir); err != nil || !dirty {
		t.Errorf("WorkTreeDirty with an untracked file = %v, %v; want true", dirty, err)
	}
	if n := count(); n != 1 {
		t.Errorf("WorkTreeDirty ran git %d times, want 1", n)
	}
}

// The user's git configuration must not hide the refs at HEAD, and ref
// names may hold commas.
func TestHeadFactsDecorations(t *testing.T) {
	needGit(t)
	r := newRepo(t)
	r.git(nil, "switch", "-q", "-c", "fix,2")
	r.git(nil, "config", "log.excludeDecoration", "refs/tags/")
	r.git(nil, "config", "--add", "log.excludeDecoration", "HEAD")
	r.git(nil, "config", "log.showSignature", "true")
	f, err := HeadFacts(context.Background(), r.dir, envMap(), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.Branch != "fix-2" || f.Tag != "v2.0.0-rc.1" || f.Version != "2.0.0-rc.1" {
		t.Errorf("got branch %q, tag %q, version %q; want fix-2, v2.0.0-rc.1, 2.0.0-rc.1", f.Branch, f.Tag, f.Version)
	}
}

// Inside .git or a bare repository git finds a repository but no work tree.
func TestHeadFactsInsideGitDir(t *testing.T) {
	needGit(t)
	r := newRepo(t)
	bare := filepath.Join(t.TempDir(), "bare.git")
	r.git(nil, "clone", "-q", "--bare", r.dir, bare)
	for _, dir := range []string{filepath.Join(r.dir, ".git"), filepath.Join(r.dir, ".git/objects"), bare} {
		f, err := HeadFacts(context.Background(), dir, envMap(), true)
		if err != nil {
			t.Fatal(err)
		}
		if f.InRepo || f.Commit != "" {
			t.Errorf("%s: got %+v, want no git facts", dir, f)
		}
	}
}
