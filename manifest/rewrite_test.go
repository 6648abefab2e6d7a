package manifest

import (
	"errors"
	"strings"
	"testing"
)

const (
	digestNginx = "sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65"
	digestOld   = "sha256:cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"
)

func pod(containers string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n" + containers
}

func TestRewriteCases(t *testing.T) {
	nginx := []Image{{Repository: "nginx", Tag: "1.27.3", Digest: digestNginx}}
	nginxTag := []Image{{Repository: "nginx", Tag: "1.27.3"}}
	tests := []struct {
		name   string
		path   string
		src    string
		images []Image
		opts   Options
		want   string
		edits  int // when not 0, the number of edits
	}{
		{
			name:   "anchor outside the containers is changed where it is defined",
			src:    "x-image: &img nginx:1.25 # shared\n" + pod("  - name: a\n    image: *img\n  - name: b\n    image: *img\n"),
			images: nginxTag,
			want:   "x-image: &img nginx:1.27.3 # shared\n" + pod("  - name: a\n    image: *img\n  - name: b\n    image: *img\n"),
		},
		{
			name:   "a rule naming a container image edits it once",
			src:    pod("  - name: a\n    image: nginx:1.25\n"),
			images: nginxTag,
			opts:   Options{Rules: []Rule{{Image: "spec.containers[*].image"}}},
			want:   pod("  - name: a\n    image: nginx:1.27.3\n"),
			edits:  1,
		},
		{
			name:   "tagged value",
			src:    pod("  - name: a\n    image: !!str nginx:1.25\n"),
			images: nginxTag,
			want:   pod("  - name: a\n    image: !!str nginx:1.27.3\n"),
		},
		{
			name:   "value on the line after its key",
			src:    pod("  - name: a\n    image:\n      nginx:1.25\n"),
			images: nginxTag,
			want:   pod("  - name: a\n    image:\n      nginx:1.27.3\n"),
		},
		{
			name:   "merged container gets the policy after its own name",
			src:    "base: &base\n  image: nginx:1.25\n" + pod("  - <<: *base\n    name: a\n"),
			images: nginxTag,
			opts:   Options{PullPolicy: "Always"},
			want:   "base: &base\n  image: nginx:1.27.3\n" + pod("  - <<: *base\n    name: a\n    imagePullPolicy: Always\n"),
		},
		{
			name:   "policy inserted into a multi-line flow mapping",
			src:    pod("  - {\n      name: a,\n      image: nginx\n    }\n"),
			images: nginxTag,
			opts:   Options{PullPolicy: "Never"},
			want:   pod("  - {\n      name: a,\n      image: nginx:1.27.3,\n      imagePullPolicy: Never\n    }\n"),
		},
		{
			name:   "up to date: nothing changes, not even the policy",
			src:    pod("  - name: a\n    image: nginx:1.27.3\n"),
			images: nginxTag,
			opts:   Options{PullPolicy: "Always"},
			want:   pod("  - name: a\n    image: nginx:1.27.3\n"),
		},
		{
			name:   "moved repository is written as given",
			src:    pod("  - name: a\n    image: nginx:1.25\n"),
			images: []Image{{Match: "docker.io/library/nginx", Repository: "mirror.local:5000/nginx", Tag: "1.27.3"}},
			want:   pod("  - name: a\n    image: mirror.local:5000/nginx:1.27.3\n"),
		},
		{
			name:   "kustomization entry matches by its newName, which moves",
			path:   "overlay/kustomization.yml",
			src:    "images:\n  - name: nginx\n    newName: mirror.local/nginx # old mirror\n    newTag: \"1.25\"\n  - name: nginx # not ours: its image is another\n    newName: other.local/nginx\n",
			images: []Image{{Match: "mirror.local/nginx", Repository: "registry.local/nginx", Tag: "1.27.3"}},
			want:   "images:\n  - name: nginx\n    newName: registry.local/nginx # old mirror\n    newTag: \"1.27.3\"\n  - name: nginx # not ours: its image is another\n    newName: other.local/nginx\n",
		},
		{
			name:   "Kustomization without extension",
			path:   "overlay/Kustomization",
			src:    "images:\n- name: nginx\n  newTag: '1.25'\n",
			images: nginxTag,
			want:   "images:\n- name: nginx\n  newTag: '1.27.3'\n",
		},
		{
			name:   "a kustomization.yaml in a plain file is not a kustomization",
			path:   "notes.yaml",
			src:    "images:\n- name: nginx\n  newTag: '1.25'\n",
			images: nginxTag,
			want:   "images:\n- name: nginx\n  newTag: '1.25'\n",
		},
		{
			name:   "empty tag field in values gets a value",
			path:   "values.yaml",
			src:    "image:\n  repository: nginx\n  tag: # set by CI\n",
			images: nginxTag,
			opts:   Options{Rules: []Rule{{Repository: "image.repository", Tag: "image.tag"}}},
			want:   "image:\n  repository: nginx\n  tag: 1.27.3 # set by CI\n",
		},
		{
			name:   "missing tag field is added next to the repository",
			path:   "values.yaml",
			src:    "image:\n  repository: nginx\n  pullPolicy: Always\n",
			images: nginx,
			opts:   Options{Rules: []Rule{{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"}}},
			want:   "image:\n  repository: nginx\n  tag: 1.27.3\n  digest: " + digestNginx + "\n  pullPolicy: Always\n",
		},
		{
			name:   "only a tag field: tag and digest go there together",
			path:   "values.yaml",
			src:    "image: {repository: nginx, tag: \"1.25\"}\n",
			images: nginx,
			opts:   Options{Rules: []Rule{{Repository: "image.repository", Tag: "image.tag"}}},
			want:   "image: {repository: nginx, tag: \"1.27.3@" + digestNginx + "\"}\n",
		},
		{
			name:   "tag pin empties the digest field",
			path:   "values.yaml",
			src:    "image:\n  repository: nginx\n  tag: 1.25\n  digest: " + digestOld + "\n",
			images: nginx,
			opts:   Options{Pin: PinTag, Rules: []Rule{{Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"}}},
			want:   "image:\n  repository: nginx\n  tag: 1.27.3\n  digest: \"\"\n",
		},
		{
			name:   "plain value that would read as a number is quoted, in flow too",
			path:   "values.yaml",
			src:    "redis: {image: {repository: bitnami/redis, tag: 7.2}}\n",
			images: []Image{{Repository: "docker.io/bitnami/redis", Tag: "7.4"}},
			opts:   Options{Rules: []Rule{{Repository: "*.image.repository", Tag: "*.image.tag"}}},
			want:   "redis: {image: {repository: bitnami/redis, tag: \"7.4\"}}\n",
		},
		{
			name:   "rule with index",
			path:   "app.yaml",
			src:    "spec:\n  components:\n  - image: nginx:1.25\n  - image: nginx:1.25\n",
			images: nginxTag,
			opts:   Options{Rules: []Rule{{Image: "spec.components[1].image"}}},
			want:   "spec:\n  components:\n  - image: nginx:1.25\n  - image: nginx:1.27.3\n",
		},
		{
			name:   "line breaks that yaml counts besides newline",
			src:    "# a\u2028# b\r" + pod("  - name: a\n    image: nginx:1.25 # x\u0085\n"),
			images: nginxTag,
			want:   "# a\u2028# b\r" + pod("  - name: a\n    image: nginx:1.27.3 # x\u0085\n"),
		},
		{
			name:   "JSON plain value becomes a string",
			path:   "values.json",
			src:    "{\"image\": {\"repository\": \"bitnami/redis\", \"tag\": 7.2}}",
			images: []Image{{Repository: "bitnami/redis", Tag: "7.4"}},
			opts:   Options{Rules: []Rule{{Repository: "image.repository", Tag: "image.tag"}}},
			want:   "{\"image\": {\"repository\": \"bitnami/redis\", \"tag\": \"7.4\"}}",
		},
		{
			name:   "no images: nothing to do",
			src:    pod("  - name: a\n    image: nginx:1.25\n"),
			images: nil,
			want:   pod("  - name: a\n    image: nginx:1.25\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "deploy.yaml"
			}
			got, edits, err := Rewrite(path, []byte(tt.src), tt.images, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if (len(edits) == 0) != (tt.src == tt.want) || tt.edits != 0 && len(edits) != tt.edits {
				t.Errorf("edits %+v for a change %v", edits, tt.src != tt.want)
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	nginx := []Image{{Repository: "nginx", Tag: "1.27.3"}}
	tests := []struct {
		name     string
		path     string
		src      string
		images   []Image
		opts     Options
		wantErr  string
		wantLine int
	}{
		{name: "unparsable", src: "a: b\n c: d\n", images: nginx, wantErr: "cannot parse YAML", wantLine: 2},
		{name: "image in a block scalar", src: pod("  - name: a\n    image: |-\n      nginx:1.25\n"), images: nginx, wantErr: "block scalar", wantLine: 8},
		{name: "image over two lines", src: pod("  - name: a\n    image: \"nginx:\\\n      1.25\"\n"), images: nginx, wantErr: "several lines", wantLine: 8},
		{name: "digest pin without a digest", src: pod("  - name: a\n    image: nginx:1.25\n"), images: nginx, opts: Options{Pin: PinDigest}, wantErr: "no digest known for nginx", wantLine: 8},
		{name: "rule without a digest field for a digest", path: "values.yaml", src: "image:\n  repository: nginx\n  tag: x\n",
			images: []Image{{Repository: "nginx", Digest: digestNginx}}, opts: Options{Rules: []Rule{{Repository: "image.repository", Tag: "image.tag"}}}, wantErr: "no digest field", wantLine: 2},
		{name: "missing tag field elsewhere", path: "values.yaml", src: "image:\n  repository: nginx\ntags: {}\n",
			images: nginx, opts: Options{Rules: []Rule{{Repository: "image.repository", Tag: "tags.web"}}}, wantErr: "tags.web is missing", wantLine: 2},
		{name: "UTF-16", src: "\xff\xfea\x00:\x00", images: nginx, wantErr: "UTF-16"},
		{name: "invalid repository", images: []Image{{Repository: "Bad/Repo", Tag: "1"}}, wantErr: "Bad/Repo"},
		{name: "repository with a tag", images: []Image{{Repository: "nginx:1.2", Tag: "1"}}, wantErr: "nginx:1.2"},
		{name: "invalid tag", images: []Image{{Repository: "nginx", Tag: "a b"}}, wantErr: "invalid tag"},
		{name: "invalid digest", images: []Image{{Repository: "nginx", Digest: "sha256:xyz"}}, wantErr: "invalid digest"},
		{name: "no tag nor digest", images: []Image{{Repository: "nginx"}}, wantErr: "neither tag nor digest"},
		{name: "same repository twice", images: []Image{{Repository: "nginx", Tag: "1"}, {Repository: "docker.io/library/nginx", Tag: "2"}}, wantErr: "given twice"},
		{name: "moved twice", images: []Image{{Match: "a.io/x", Repository: "b.io/x", Tag: "1"}, {Match: "b.io/x", Repository: "c.io/x", Tag: "1"}}, wantErr: "moved in turn"},
		{name: "bad pull policy", images: nginx, opts: Options{PullPolicy: "always"}, wantErr: "pull policy"},
		{name: "bad pin", images: nginx, opts: Options{Pin: "sha"}, wantErr: "pin"},
		{name: "rule with image and repository", images: nginx, opts: Options{Rules: []Rule{{Image: "a", Repository: "b", Tag: "c"}}}, wantErr: "rule 1"},
		{name: "rule repository alone", images: nginx, opts: Options{Rules: []Rule{{Repository: "b"}}}, wantErr: "needs a tag"},
		{name: "rule wildcards differ", images: nginx, opts: Options{Rules: []Rule{{Repository: "a[*].r", Tag: "t"}}}, wantErr: "wildcards"},
		{name: "rule bad index", images: nginx, opts: Options{Rules: []Rule{{Image: "a[x].image"}}}, wantErr: "bad index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "deploy.yaml"
			}
			src := tt.src
			if src == "" {
				src = pod("  - name: a\n    image: nginx:1.25\n")
			}
			_, _, err := Rewrite(path, []byte(src), tt.images, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
			}
			if tt.src == "" {
				return
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != path || fe.Line != tt.wantLine {
				t.Fatalf("err = %#v, want a *FileError for %s line %d", err, path, tt.wantLine)
			}
		})
	}
}

func TestPlainSafe(t *testing.T) {
	tests := []struct {
		v      string
		inFlow bool
		want   bool
	}{
		{"nginx:1.27.3@" + digestNginx, false, true},
		{"nginx:1.27.3@" + digestNginx, true, true},
		{"registry.example.com:5000/team/web", true, true},
		{"v1.2", false, true},
		{"1.27", false, false},
		{"16", false, false},
		{"true", false, false},
		{"null", false, false},
		{"2024-01-02", false, false},
		{"", false, false},
		{"a #b", false, false},
		{"a: b", false, false},
		{"a,b", true, false},
		{"a,b", false, true},
		{"-x", false, true},
		{"*x", false, false},
	}
	for _, tt := range tests {
		if got := plainSafe(tt.v, tt.inFlow); got != tt.want {
			t.Errorf("plainSafe(%q, flow=%v) = %v, want %v", tt.v, tt.inFlow, got, tt.want)
		}
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref     string
		want    Image
		wantErr bool
	}{
		{ref: "nginx", want: Image{Repository: "nginx", Tag: "latest"}},
		{ref: "registry.example.com:5000/team/web:2.4.0", want: Image{Repository: "registry.example.com:5000/team/web", Tag: "2.4.0"}},
		{ref: "localhost:5000/web@" + digestNginx, want: Image{Repository: "localhost:5000/web", Digest: digestNginx}},
		{ref: "docker.io/library/nginx:1.27.3@" + digestNginx, want: Image{Repository: "docker.io/library/nginx", Tag: "1.27.3", Digest: digestNginx}},
		{ref: "Nginx:1", wantErr: true},
		{ref: "nginx@sha256:short", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseImage(tt.ref)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseImage(%q) = %+v, %v; want %+v (error %v)", tt.ref, got, err, tt.want, tt.wantErr)
		}
	}
	sets := []struct {
		in      string
		want    Image
		wantErr bool
	}{
		{in: "nginx=nginx:1.27.3", want: Image{Match: "nginx", Repository: "nginx", Tag: "1.27.3"}},
		{in: "quay.io/x/y=registry.local:5000/y@" + digestNginx, want: Image{Match: "quay.io/x/y", Repository: "registry.local:5000/y", Digest: digestNginx}},
		{in: "nginx", wantErr: true},
		{in: "=nginx:1", wantErr: true},
		{in: "nginx=", wantErr: true},
		{in: "Bad=nginx:1", wantErr: true},
		{in: "nginx=nginx:bad tag", wantErr: true},
	}
	for _, tt := range sets {
		got, err := ParseSet(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSet(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	for in, want := range map[string]Pin{"": PinTagDigest, "tag": PinTag, "digest": PinDigest, "tag+digest": PinTagDigest} {
		if got, err := ParsePin(in); err != nil || got != want {
			t.Errorf("ParsePin(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePin("both"); err == nil {
		t.Error("ParsePin(both) succeeded")
	}
}
