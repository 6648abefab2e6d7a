package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/project"
)

// gitRepo makes a repository with one commit and an untracked file, so the
// work tree is dirty, isolated from the user's git configuration.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("SLIPWAY_REQUIRE_TOOLS") == "1" {
			t.Fatalf("git is required: %v", err)
		}
		t.Skipf("git not installed: %v", err)
	}
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "a"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "untracked"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The work tree's status is read only when a tag depends on it or the run
// records it; tags that name the commit get the dirty suffix.
func TestPlanProjectReadsStatusWhenNeeded(t *testing.T) {
	dir := gitRepo(t)
	tests := []struct {
		tags        string
		record      bool
		wantDirty   bool
		wantTagPart string
	}{
		{tags: "[fixed]", wantDirty: false, wantTagPart: "fixed"},
		{tags: "[fixed]", record: true, wantDirty: true, wantTagPart: "fixed"},
		{tags: "['{{.ShortCommit}}']", wantDirty: true, wantTagPart: "-dirty"},
		{tags: "['{{.Branch}}']", wantDirty: false, wantTagPart: "main"},
	}
	for _, tt := range tests {
		cfg, err := project.Parse("slipway.yaml", dir, []byte("registry: r.example.com\ntags: "+tt.tags+"\nimages:\n  - name: app\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := PlanProject(context.Background(), cfg, PlanOptions{RecordDirty: tt.record, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		if plan.Facts.Dirty != tt.wantDirty || !strings.Contains(plan.Images[0].Tags[0], tt.wantTagPart) {
			t.Errorf("tags %s, record %v: got dirty %v, tag %q; want dirty %v, a tag containing %q",
				tt.tags, tt.record, plan.Facts.Dirty, plan.Images[0].Tags[0], tt.wantDirty, tt.wantTagPart)
		}
	}
}

// A run that uses git only for its tags runs no git when no tag reads a
// git fact; the build number still comes from the environment.
func TestPlanProjectTagsOnlyRunsNoGit(t *testing.T) {
	dir := gitRepo(t)
	t.Setenv("PATH", t.TempDir()) // no git to be found: running it would fail
	cfg, err := project.Parse("slipway.yaml", dir, []byte("registry: r.example.com\ntags: [fixed, '{{.BuildNumber}}']\nimages:\n  - name: app\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"BUILD_NUMBER": "7"}[k] }
	plan, err := PlanProject(context.Background(), cfg, PlanOptions{TagsOnly: true, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Images[0].Tags, ","); got != "fixed,7" || plan.Facts.InRepo {
		t.Errorf("tags %q, InRepo %v; want fixed,7 without git facts", got, plan.Facts.InRepo)
	}
	// Without TagsOnly the facts are read, which here fails for want of git.
	if _, err := PlanProject(context.Background(), cfg, PlanOptions{Getenv: env}); err == nil {
		t.Error("PlanProject without TagsOnly ran without git")
	}
}
