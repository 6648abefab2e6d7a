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
	// One walk for several images gives what one lookup each gives.
	var sets [][]string
	var want []Source
	for _, tt := range tests[:5] { // the cases without excludes of their own share none
		if tt.exclude == nil {
			sets = append(sets, tt.paths)
			want = append(want, tt.want)
		}
	}
	many, err := LastChanges(t.Context(), r.dir, f, sets, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if many[i] != want[i] {
			t.Errorf("LastChanges[%d] (%v) = %+v, want %+v", i, sets[i], many[i], want[i])
		}
	}
	excl, err := LastChanges(t.Context(), r.dir, f, [][]string{{"web"}, {"api"}}, []string{filepath.Join(r.dir, "web/deploy")})
	if err != nil || excl[0] != (Source{Commit: r.hash["web"], Time: at(dateA)}) || excl[1] != (Source{Commit: r.hash["api"], Time: at(dateB)}) {
		t.Errorf("LastChanges with an exclude = %+v, %v", excl, err)
	}
	// A path outside the work tree: each image on its own, as LastChange does.
	out, err := LastChanges(t.Context(), r.dir, f, [][]string{{"api"}, {os.TempDir()}}, nil)
	if err != nil || out[0] != (Source{Commit: r.hash["api"], Time: at(dateB)}) || out[1] != (Source{Commit: r.hash["bump"], Time: at(dateC)}) {
		t.Errorf("LastChanges with a path outside = %+v, %v", out, err)
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
