package tagging

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLastChange(t *testing.T) {
	needGit(t)
	r := &testRepo{t: t, dir: t.TempDir(), hash: map[string]string{}}
	r.git(nil, "init", "-q", "-b", "main")
	commitFile := func(label, file, date string) {
		r.write(file, label+"\n")
		r.git(nil, "add", file)
		r.git([]string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date},
			"-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", label)
		r.hash[label] = r.git(nil, "rev-parse", "HEAD")
	}
	commitFile("web", "web/index.html", dateA)
	commitFile("api", "api/main.go", dateB)
	commitFile("bump", "web/deploy/deployment.yaml", dateC)

	f, err := GitFacts(t.Context(), r.dir, envMap())
	if err != nil {
		t.Fatal(err)
	}
	at := func(date string) time.Time {
		tm, _ := time.Parse(time.RFC3339, date)
		return tm.UTC()
	}
	tests := []struct {
		name           string
		paths, exclude []string
		want           Source
	}{
		{"untouched since its commit", []string{"api", "api/Dockerfile"}, nil, Source{Commit: r.hash["api"], Time: at(dateB)}},
		{"absolute paths", []string{filepath.Join(r.dir, "api")}, nil, Source{Commit: r.hash["api"], Time: at(dateB)}},
		{"a later commit inside", []string{"web"}, nil, Source{Commit: r.hash["bump"], Time: at(dateC)}},
		{"that commit excluded", []string{"web"}, []string{filepath.Join(r.dir, "web/deploy")}, Source{Commit: r.hash["web"], Time: at(dateA)}},
		{"no commit touches it", []string{"nothing"}, nil, Source{Commit: r.hash["bump"], Time: at(dateC)}},
		{"outside the work tree", []string{os.TempDir()}, nil, Source{Commit: r.hash["bump"], Time: at(dateC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LastChange(t.Context(), r.dir, f, tt.paths, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// Outside git: no source facts, no error.
	got, err := LastChange(t.Context(), t.TempDir(), Facts{}, []string{"."}, nil)
	if err != nil || got != (Source{}) {
		t.Errorf("outside git: %+v, %v", got, err)
	}
}
