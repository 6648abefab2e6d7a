package completion

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

var testSpec = Spec{
	Globals: []Flag{
		{Name: "file", Short: "f", TakesValue: true, Value: ArgFiles},
		{Name: "chdir", Short: "C", TakesValue: true, Value: ArgDirs},
		{Name: "progress", TakesValue: true, Value: ArgValues, Values: []string{"auto", "plain", "quiet"}},
		{Name: "debug"},
	},
	Commands: []Command{
		{Name: "build", Summary: "build images", Args: ArgImages, Flags: []Flag{{Name: "no-cache"}, {Name: "jobs", TakesValue: true}}},
		{Name: "bump", Args: ArgFiles, Flags: []Flag{{Name: "pin", TakesValue: true, Value: ArgValues, Values: []string{"tag", "digest", "tag+digest"}}}},
		{Name: "completion", Args: ArgValues, Values: []string{"bash", "zsh", "fish"}, Flags: []Flag{{Name: "complete", Hidden: true}}},
	},
}

func values(r Result) []string {
	var out []string
	for _, c := range r.Candidates {
		out = append(out, c.Value)
	}
	return out
}

func TestComplete(t *testing.T) {
	var gotFile, gotDir string
	images := func(file, dir string) []string {
		gotFile, gotDir = file, dir
		return []string{"web", "worker", "api"}
	}
	tests := []struct {
		words       string // space-separated; a trailing space means an empty current word
		want        []string
		files, dirs bool
		file, dir   string
	}{
		{words: "", want: []string{"build", "bump", "completion"}},
		{words: "bu", want: []string{"build", "bump"}},
		{words: "xyz ", want: nil},
		{words: "build --n", want: []string{"--no-cache"}},
		{words: "build --", want: []string{"--chdir", "--debug", "--file", "--jobs", "--no-cache", "--progress"}},
		{words: "completion --", want: []string{"--chdir", "--debug", "--file", "--progress"}},
		{words: "build ", want: []string{"web", "worker", "api"}},
		{words: "build w", want: []string{"web", "worker"}},
		{words: "build web ", want: []string{"worker", "api"}},
		{words: "-C sub build --jobs 3 -f other.yaml a", want: []string{"api"}, file: "other.yaml", dir: "sub"},
		{words: "--file=x.yaml --chdir=d build ", want: []string{"web", "worker", "api"}, file: "x.yaml", dir: "d"},
		{words: "bump ", files: true},
		{words: "bump --pin ", want: []string{"tag", "digest", "tag+digest"}},
		{words: "bump --pin t", want: []string{"tag", "tag+digest"}},
		{words: "bump --pin=d", want: []string{"--pin=digest"}},
		{words: "--progress ", want: []string{"auto", "plain", "quiet"}},
		{words: "build --progress=q", want: []string{"--progress=quiet"}},
		{words: "build -f ", files: true},
		{words: "build --chdir ", dirs: true},
		{words: "build --debug ", want: []string{"web", "worker", "api"}},
		{words: "build --jobs ", want: nil},
		{words: "completion ", want: []string{"bash", "zsh", "fish"}},
		{words: "completion z", want: []string{"zsh"}},
		{words: "bump -- --pi", files: true},
	}
	for _, tt := range tests {
		t.Run(tt.words, func(t *testing.T) {
			gotFile, gotDir = "", ""
			words := strings.Split(tt.words, " ")
			r := Complete(testSpec, words, images)
			if got := values(r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("candidates = %q, want %q", got, tt.want)
			}
			if r.Files != tt.files || r.Dirs != tt.dirs {
				t.Errorf("files, dirs = %v, %v, want %v, %v", r.Files, r.Dirs, tt.files, tt.dirs)
			}
			if tt.file != "" || tt.dir != "" {
				if gotFile != tt.file || gotDir != tt.dir {
					t.Errorf("project file, dir = %q, %q, want %q, %q", gotFile, gotDir, tt.file, tt.dir)
				}
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	r := Result{Candidates: []Candidate{{"build", "build  images\tnow"}, {"--x", ""}}, Files: true}
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	if want := "build\tbuild images now\n--x\n:files\n"; b.String() != want {
		t.Errorf("Write = %q, want %q", b.String(), want)
	}
}

func TestValuesFromUsage(t *testing.T) {
	for usage, want := range map[string][]string{
		"progress output: auto, tty, plain, rawjson or quiet":                                                {"auto", "tty", "plain", "rawjson", "quiet"},
		"how manifests name images: tag, digest or tag+digest (default: each entry's pin:, else tag+digest)": {"tag", "digest", "tag+digest"},
		"output format: text or json":                                   {"text", "json"},
		"the local image store (default .slipway/store)":                nil,
		"BuildKit ADDRESS (default $BUILDKIT_HOST, then buildkit.host)": nil,
		"give up: after this long or never":                             nil,
		"write the JSON report to FILE":                                 nil,
	} {
		if got := ValuesFromUsage(usage); !reflect.DeepEqual(got, want) {
			t.Errorf("ValuesFromUsage(%q) = %q, want %q", usage, got, want)
		}
	}
}

func TestScript(t *testing.T) {
	for _, sh := range Shells {
		s, err := Script(sh, "slip-way")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, "_slip_way") || strings.Contains(s, "PROG") || strings.Contains(s, "FUNC") {
			t.Errorf("%s script not filled in:\n%s", sh, s)
		}
	}
	if _, err := Script("tcsh", "slipway"); err == nil || !strings.Contains(err.Error(), "bash, zsh, fish") {
		t.Errorf("tcsh: %v", err)
	}
}
