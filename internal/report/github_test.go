package report

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// releaseReport is a successful release of two images, one on two
// platforms and two registries.
func releaseReport() *Report {
	r := fullReport()
	r.DryRun = false
	r.Success = true
	r.Error = ""
	return r
}

// failedReport is a release that failed while pushing: web reached one of
// its references, worker was built but not pushed, nothing was signed or
// bumped. Its error has a | and a newline, which a table must not take.
func failedReport() *Report {
	r := New("release", "v1.2.3")
	r.Project = "slipway.yaml"
	r.Git = &Git{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main"}
	web := r.Upsert("web")
	web.Repository = "registry.example.com:5000/team/web"
	web.Tags = []string{"0123456", "main"}
	web.Refs = []string{"registry.example.com:5000/team/web:0123456", "registry.example.com:5000/team/web:main"}
	web.Digest = digestWeb
	web.Registries = []string{"registry.example.com:5000"}
	web.Pushed = []string{"registry.example.com:5000/team/web:0123456@" + digestWeb}
	web.BytesUploaded = 2048
	web.BlobsUploaded = 2
	worker := r.Upsert("worker")
	worker.Repository = "registry.example.com:5000/team/worker"
	worker.Tags = []string{"0123456"}
	worker.Refs = []string{"registry.example.com:5000/team/worker:0123456"}
	worker.Digest = digestWorker
	r.Stages = []Stage{{Name: "build", Seconds: 3}, {Name: "push", Seconds: 1}}
	r.Error = "pushing web to registry.example.com:5000: 503 Service Unavailable | upstream down\nhint: is the registry up?"
	return r
}

// dryRunReport is the plan of a release: refs and the manifest edits that
// would be made, no digests.
func dryRunReport() *Report {
	r := New("release", "v1.2.3")
	r.DryRun = true
	r.Success = true
	web := r.Upsert("web")
	web.Repository = "registry.example.com:5000/team/web"
	web.Tags = []string{"1.4.0", "1.4"}
	web.Refs = []string{"registry.example.com:5000/team/web:1.4.0", "registry.example.com:5000/team/web:1.4"}
	r.Manifests = []ManifestFile{
		{File: "deploy/web.yaml", Edits: []Edit{
			{Document: 1, Line: 19, Object: "Deployment/web", Container: "web", Field: "spec.template.spec.containers[0].image", Old: "registry.example.com:5000/team/web:1.3.0", New: "registry.example.com:5000/team/web:1.4.0"},
			{Document: 2, Line: 8, Object: "CronJob/web-cleanup", Container: "cleanup", Field: "spec.jobTemplate.spec.template.spec.containers[0].image", Old: "registry.example.com:5000/team/web:1.3.0", New: "registry.example.com:5000/team/web:1.4.0"},
		}},
		{File: "deploy/kustomization.yaml", Edits: []Edit{
			{Document: 1, Line: 6, Field: "images[0].newTag", Old: "1.3.0", New: "1.4.0"},
		}},
	}
	return r
}

// buildReport is `slipway build`: a digest in the store, nothing pushed.
func buildReport() *Report {
	r := New("build", "v1.2.3")
	r.Success = true
	web := r.Upsert("web")
	web.Repository = "registry.example.com:5000/team/web"
	web.Tags = []string{"0123456"}
	web.Refs = []string{"registry.example.com:5000/team/web:0123456"}
	web.Digest = digestWeb
	web.MediaType = "application/vnd.oci.image.manifest.v1+json"
	web.PlatformDigests = map[string]string{"linux/amd64": digestWeb}
	web.Store = "/src/.slipway/store"
	return r
}

func TestOutputName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "web"},
		{"team/web", "team-web"},
		{"tools/worker.v2", "tools-worker-v2"},
		{"a.b/c.d/e", "a-b-c-d-e"},
		{"my_app-1", "my_app-1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := OutputName(tt.in); got != tt.want {
				t.Errorf("OutputName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPrimaryRef(t *testing.T) {
	tests := []struct {
		name string
		img  Image
		want string
	}{
		{name: "no refs", img: Image{Digest: digestWeb}, want: ""},
		{name: "no digest", img: Image{Refs: []string{"r/web:1", "r/web:2"}}, want: "r/web:1"},
		{name: "first ref with digest", img: Image{Refs: []string{"r/web:1", "r/web:2"}, Digest: digestWeb}, want: "r/web:1@" + digestWeb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.img.PrimaryRef(); got != tt.want {
				t.Errorf("PrimaryRef = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name       string
		r          *Report
		reportPath string
		want       string
	}{
		{
			name:       "release",
			r:          releaseReport(),
			reportPath: "/work/out/report.json",
			want: "digest-web=" + digestWeb + "\n" +
				"ref-web=registry.example.com:5000/team/web:1.4.0@" + digestWeb + "\n" +
				"digest-tools-worker-v2=" + digestWorker + "\n" +
				"ref-tools-worker-v2=registry.example.com:5000/team/tools/worker.v2:1.4.0@" + digestWorker + "\n" +
				`digests={"tools/worker.v2":"` + digestWorker + `","web":"` + digestWeb + `"}` + "\n" +
				`refs={"tools/worker.v2":"registry.example.com:5000/team/tools/worker.v2:1.4.0@` + digestWorker + `","web":"registry.example.com:5000/team/web:1.4.0@` + digestWeb + `"}` + "\n" +
				"report=/work/out/report.json\n",
		},
		{
			name: "no report path",
			r:    buildReport(),
			want: "digest-web=" + digestWeb + "\n" +
				"ref-web=registry.example.com:5000/team/web:0123456@" + digestWeb + "\n" +
				`digests={"web":"` + digestWeb + `"}` + "\n" +
				`refs={"web":"registry.example.com:5000/team/web:0123456@` + digestWeb + `"}` + "\n",
		},
		{
			name:       "dry run: refs without digests",
			r:          dryRunReport(),
			reportPath: "plan.json",
			want:       "ref-web=registry.example.com:5000/team/web:1.4.0\n" + `refs={"web":"registry.example.com:5000/team/web:1.4.0"}` + "\nreport=plan.json\n",
		},
		{
			name: "no images",
			r:    New("bump", ""),
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Outputs(&b, tt.r, tt.reportPath); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("Outputs:\n got %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

// parseOutputs reads a GITHUB_OUTPUT file the way the Actions runner does:
// name=value lines, and name<<DELIMITER ... DELIMITER for values with
// newlines.
func parseOutputs(s string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if s == "" {
		lines = nil
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		eq := strings.Index(line, "=")
		hd := strings.Index(line, "<<")
		if eq >= 0 && (hd < 0 || eq < hd) {
			out[line[:eq]] = line[eq+1:]
			continue
		}
		if hd < 0 {
			return nil, fmt.Errorf("line %d: %q is neither name=value nor name<<DELIMITER", i+1, line)
		}
		name, delim := line[:hd], line[hd+2:]
		if delim == "" {
			return nil, fmt.Errorf("line %d: empty delimiter", i+1)
		}
		var value []string
		for i++; ; i++ {
			if i >= len(lines) {
				return nil, fmt.Errorf("output %s: delimiter %q not found", name, delim)
			}
			if lines[i] == delim {
				break
			}
			value = append(value, lines[i])
		}
		out[name] = strings.Join(value, "\n")
	}
	return out, nil
}

func TestOutputsHeredoc(t *testing.T) {
	tests := []struct {
		name       string
		reportPath string
	}{
		{name: "one newline", reportPath: "dir\nreport.json"},
		{name: "a line that looks like a delimiter", reportPath: "a\nEOF\nSLIPWAY_EOF\nb"},
		{name: "a line that looks like an output", reportPath: "x\ndigest-web=sha256:evil"},
		{name: "trailing newline", reportPath: "report.json\n"},
		{name: "carriage return", reportPath: "a\r\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := buildReport()
			var b bytes.Buffer
			if err := Outputs(&b, r, tt.reportPath); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			// The heredoc form GitHub documents: name<<DELIMITER, the value,
			// DELIMITER, each on its own line.
			idx := strings.Index(got, "report<<")
			if idx < 0 {
				t.Fatalf("no heredoc for a value with a newline:\n%s", got)
			}
			head, body, _ := strings.Cut(got[idx:], "\n")
			delim := strings.TrimPrefix(head, "report<<")
			if delim == "" || strings.Contains(tt.reportPath, delim) {
				t.Errorf("delimiter %q is empty or occurs in the value", delim)
			}
			if want := tt.reportPath + "\n" + delim + "\n"; body != want {
				t.Errorf("heredoc body %q, want %q", body, want)
			}
			outs, err := parseOutputs(got)
			if err != nil {
				t.Fatalf("%v in:\n%s", err, got)
			}
			if outs["report"] != tt.reportPath {
				t.Errorf("report output reads back as %q, want %q", outs["report"], tt.reportPath)
			}
			if outs["digest-web"] != digestWeb {
				t.Errorf("digest-web reads back as %q", outs["digest-web"])
			}

			// A fixed delimiter could be forged by a value; each write
			// picks a new one.
			var b2 bytes.Buffer
			if err := Outputs(&b2, r, tt.reportPath); err != nil {
				t.Fatal(err)
			}
			if b2.String() == got {
				t.Errorf("two writes used the same delimiter %q", delim)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name     string
		r        *Report
		contains []string
		lacks    []string
	}{
		{name: "release", r: releaseReport(),
			contains: []string{"### slipway release\n", "yes (2)", "| deploy/web.yaml | 1 |", "`mirror.example.org/team/web:1.4.0`", "`" + digestWorker + "`"},
			lacks:    []string{"failed", "dry run", "@sha256"}},
		{name: "failed", r: failedReport(),
			contains: []string{"### slipway release: failed\n", `503 Service Unavailable \| upstream down hint:`, "| web | `registry.example.com:5000/team/web:0123456` |", "| no |"},
			lacks:    []string{"team/web:main", "changed file"}},
		{name: "dry-run", r: dryRunReport(),
			contains: []string{"### slipway release (dry run)\n", "| deploy/kustomization.yaml | 1 |", "| deploy/web.yaml | 2 |"},
			lacks:    []string{"``", "failed"}},
		{name: "build", r: buildReport(),
			contains: []string{"### slipway build\n", "`registry.example.com:5000/team/web:0123456`"}},
		{name: "no-images", r: &Report{SchemaVersion: SchemaVersion, Command: "bump", Success: true, Manifests: dryRunReport().Manifests},
			lacks: []string{"| image |"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Summary(&b, tt.r); err != nil {
				t.Fatal(err)
			}
			got := b.String()
			golden(t, filepath.Join("testdata", "summary", tt.name+".md"), got)
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("summary lacks %q", s)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(got, s) {
					t.Errorf("summary has %q", s)
				}
			}
			// Each table row has as many cells as its header: a | in a
			// value would add one.
			var cols int
			for _, line := range strings.Split(got, "\n") {
				if !strings.HasPrefix(line, "|") {
					cols = 0
					continue
				}
				n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
				if cols == 0 {
					cols = n
				} else if n != cols {
					t.Errorf("row %q has %d bars, its header %d", line, n, cols)
				}
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteGitHub(t *testing.T) {
	const existingOut = "earlier-step=1\n"
	const existingSummary = "## an earlier step\n\n"
	tests := []struct {
		name        string
		setOutput   bool
		setSummary  bool
		existing    bool // the files already have content
		reportPath  string
		wantOutput  bool
		wantSummary bool
	}{
		{name: "neither set"},
		{name: "output only", setOutput: true, wantOutput: true, reportPath: "r.json"},
		{name: "summary only", setSummary: true, wantSummary: true},
		{name: "both, new files", setOutput: true, setSummary: true, wantOutput: true, wantSummary: true},
		{name: "both, appended", setOutput: true, setSummary: true, existing: true, wantOutput: true, wantSummary: true, reportPath: "out/report.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			outPath := filepath.Join(dir, "output")
			sumPath := filepath.Join(dir, "summary")
			env := map[string]string{}
			if tt.setOutput {
				env["GITHUB_OUTPUT"] = outPath
			}
			if tt.setSummary {
				env["GITHUB_STEP_SUMMARY"] = sumPath
			}
			prefixOut, prefixSum := "", ""
			if tt.existing {
				prefixOut, prefixSum = existingOut, existingSummary
				if err := os.WriteFile(outPath, []byte(existingOut), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(sumPath, []byte(existingSummary), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			getenv := func(k string) string { return env[k] }
			r := releaseReport()

			// Twice: a second step appends after the first.
			for i := 0; i < 2; i++ {
				if err := WriteGitHub(getenv, r, tt.reportPath); err != nil {
					t.Fatalf("WriteGitHub: %v", err)
				}
			}

			var outs, sum bytes.Buffer
			_ = Outputs(&outs, r, tt.reportPath)
			_ = Summary(&sum, r)
			check := func(path string, want bool, prefix, one string) {
				t.Helper()
				data, err := os.ReadFile(path)
				if !want {
					if !tt.existing && !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s was written though its variable is unset", filepath.Base(path))
					}
					if tt.existing && string(data) != prefix {
						t.Errorf("%s was changed though its variable is unset", filepath.Base(path))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got, wantS := string(data), prefix+one+one; got != wantS {
					t.Errorf("%s:\n got %q\nwant %q", filepath.Base(path), got, wantS)
				}
			}
			check(outPath, tt.wantOutput, prefixOut, outs.String())
			check(sumPath, tt.wantSummary, prefixSum, sum.String())
			if !tt.setOutput && !tt.setSummary {
				if names := dirNames(t, dir); len(names) != 0 {
					t.Errorf("files written with no variable set: %q", names)
				}
			}
		})
	}
}

func TestWriteGitHubErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "file")
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "output", env: map[string]string{"GITHUB_OUTPUT": missing}, want: "GITHUB_OUTPUT"},
		{name: "summary", env: map[string]string{"GITHUB_STEP_SUMMARY": missing}, want: "GITHUB_STEP_SUMMARY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteGitHub(func(k string) string { return tt.env[k] }, releaseReport(), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteGitHub = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
