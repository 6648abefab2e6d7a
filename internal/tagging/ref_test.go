package tagging

import (
	"strings"
	"testing"
)

func TestReferences(t *testing.T) {
	type ref struct{ full, registry, repository, tag string }
	tests := []struct {
		name      string
		registry  string
		image     string
		tags      []string
		want      []ref
		wantError string // the whole message
	}{
		{
			name: "registry with a port", registry: "localhost:5000", image: "web", tags: []string{"v1", "0123456"},
			want: []ref{
				{"localhost:5000/web:v1", "localhost:5000", "web", "v1"},
				{"localhost:5000/web:0123456", "localhost:5000", "web", "0123456"},
			},
		},
		{
			name: "localhost without a port", registry: "localhost", image: "web", tags: []string{"latest"},
			want: []ref{{"localhost/web:latest", "localhost", "web", "latest"}},
		},
		{
			name: "nested paths on both sides", registry: "registry.example.com:5000/team", image: "tools/worker", tags: []string{"1.2.3"},
			want: []ref{{"registry.example.com:5000/team/tools/worker:1.2.3", "registry.example.com:5000", "team/tools/worker", "1.2.3"}},
		},
		{
			name: "IP address and a trailing slash", registry: "127.0.0.1:5000/", image: "api_v2", tags: []string{"main"},
			want: []ref{{"127.0.0.1:5000/api_v2:main", "127.0.0.1:5000", "api_v2", "main"}},
		},
		{
			name: "IPv6 loopback", registry: "[::1]:5000", image: "web", tags: []string{"x"},
			want: []ref{{"[::1]:5000/web:x", "[::1]:5000", "web", "x"}},
		},
		{
			name: "separators in the name", registry: "ghcr.io/org", image: "my-app__x.y", tags: []string{"v1.0.0-rc.1_b.2"},
			want: []ref{{"ghcr.io/org/my-app__x.y:v1.0.0-rc.1_b.2", "ghcr.io", "org/my-app__x.y", "v1.0.0-rc.1_b.2"}},
		},
		{
			name: "no tags", registry: "localhost:5000", image: "web", tags: nil, want: []ref{},
		},
		{
			name: "no registry", registry: "", image: "web", tags: []string{"v1"},
			wantError: `image references need a registry`,
		},
		{
			name: "registry without a host would mean Docker Hub", registry: "myregistry/team", image: "web", tags: []string{"v1"},
			wantError: `registry "myregistry/team" does not start with a registry host (one with a dot or a port, or localhost)`,
		},
		{
			name: "URL instead of a host", registry: "http://localhost:5000", image: "web", tags: []string{"v1"},
			wantError: "registry \"http://localhost:5000\": repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: /localhost:5000/x",
		},
		{
			name: "uppercase image name", registry: "localhost:5000", image: "Web", tags: []string{"v1"},
			wantError: "reference \"localhost:5000/Web:v1\": repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Web",
		},
		{
			name: "empty path part", registry: "localhost:5000", image: "team//web", tags: []string{"v1"},
			wantError: `reference "localhost:5000/team//web:v1": repository path part "" must be lowercase letters and digits, separated by ., _, __ or dashes`,
		},
		{
			name: "leading dash", registry: "localhost:5000", image: "-web", tags: []string{"v1"},
			wantError: `reference "localhost:5000/-web:v1": repository path part "-web" must be lowercase letters and digits, separated by ., _, __ or dashes`,
		},
		{
			name: "trailing dot", registry: "localhost:5000", image: "web.", tags: []string{"v1"},
			wantError: `reference "localhost:5000/web.:v1": repository path part "web." must be lowercase letters and digits, separated by ., _, __ or dashes`,
		},
		{
			name: "empty image name", registry: "localhost:5000", image: "", tags: []string{"v1"},
			wantError: `reference "localhost:5000/:v1": repository must be between 1 and 255 characters in length: `,
		},
		{
			name: "a tag inside the name", registry: "localhost:5000", image: "web:1", tags: []string{"v1"},
			wantError: "reference \"localhost:5000/web:1:v1\": repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: web:1",
		},
		{
			name: "a digest inside the name", registry: "localhost:5000", image: "web@sha256:0123", tags: []string{"v1"},
			wantError: "reference \"localhost:5000/web@sha256:0123:v1\": repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: web@sha256:0123",
		},
		{
			name: "bad tags, each reported", registry: "localhost:5000", image: "web", tags: []string{".hidden", "ok", "a/b", "", strings.Repeat("t", 129)},
			wantError: `reference "localhost:5000/web:.hidden": a tag must start with a letter, digit or _, not '.'` + "\n" +
				`reference "localhost:5000/web:a/b": character '/' at position 2 is not allowed in a tag (only A-Z a-z 0-9 _ . -)` + "\n" +
				`reference "localhost:5000/web:": a tag cannot be empty` + "\n" +
				`reference "localhost:5000/web:` + strings.Repeat("t", 129) + `": a tag has at most 128 characters, this one has 129`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := References(tt.registry, tt.image, tt.tags)
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("error:\n got %v\nwant %s", err, tt.wantError)
				}
				if got != nil {
					t.Errorf("got references %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d references %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.String() != w.full || g.RegistryStr() != w.registry || g.RepositoryStr() != w.repository || g.TagStr() != w.tag {
					t.Errorf("reference %d: got %s (registry %s, repository %s, tag %s), want %+v",
						i, g, g.RegistryStr(), g.RepositoryStr(), g.TagStr(), w)
				}
			}
		})
	}
}
