package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/slipway-build/slipway/internal/testenv"
)

// actionFile is action.yml as the runner reads it.
type actionFile struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Name  string            `yaml:"name"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
			If    string            `yaml:"if"`
			Uses  string            `yaml:"uses"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// TestActionSchema checks action.yml against the action metadata schema
// that editors and linters use (SchemaStore's github-action.json).
func TestActionSchema(t *testing.T) {
	root := testenv.RepoRoot(t)
	schemaFile := filepath.Join(root, "integration", "testdata", "action", "github-action.schema.json")
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("github-action.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("github-action.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if err := sch.Validate(jsonValue(v)); err != nil {
		t.Errorf("action.yml does not fit the action metadata schema:\n%v", err)
	}
	// The schema catches what it should: a composite output without value.
	bad := jsonValue(v).(map[string]any)
	bad["outputs"].(map[string]any)["digests"] = map[string]any{"description": "x"}
	if err := sch.Validate(bad); err == nil {
		t.Error("an output without value passed the schema")
	}
}

// jsonValue turns YAML-decoded values into the ones encoding/json gives.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case int:
		return json.Number(fmt.Sprint(x))
	}
	return v
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// TestActionRelease runs the action's steps the way the runner does
// (bash -e, per-step GITHUB_OUTPUT, GITHUB_ENV and GITHUB_PATH carried to
// later steps, expressions filled in) with a faked GITHUB_* environment:
// slipway installed from this checkout with go install, a private
// buildkitd, a release to a local registry. The action's outputs must name
// what the registry now holds.
func TestActionRelease(t *testing.T) {
	testenv.RequireTools(t, "buildkitd", "buildctl", "registry", "runc")
	root := testenv.RepoRoot(t)
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})

	// The user's repository: one image from scratch and its Deployment.
	work := t.TempDir()
	files := map[string]string{
		"slipway.yaml":    "registry: ${REGISTRY}/demo\nimages:\n  - name: web\n    context: web\nmanifests:\n  - paths: [deploy/]\n",
		"web/Dockerfile":  "FROM scratch\nCOPY index.html /srv/index.html\n",
		"web/index.html":  "<h1>action</h1>\n",
		"deploy/web.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: " + reg.Host + "/demo/web:0.0.1\n",
	}
	for name, body := range files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, work, "init", "-q", "-b", "main")
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "app")

	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var act actionFile
	if err := yaml.Unmarshal(data, &act); err != nil {
		t.Fatal(err)
	}
	if act.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q", act.Runs.Using)
	}

	runnerTemp := t.TempDir()
	gobin := t.TempDir()
	inputs := map[string]string{}
	for k, in := range act.Inputs {
		inputs[k] = in.Default
	}
	inputs["args"] = "--progress plain"
	github := map[string]string{"action_path": root, "action_ref": "", "workspace": work}
	steps := map[string]map[string]string{}
	// PATH has the tools (buildkitd, as a cache would restore it) but no
	// slipway: the action installs its own into GOBIN.
	tools := t.TempDir()
	for _, n := range []string{"buildkitd", "buildctl"} {
		if err := os.Symlink(testenv.Bin(t, n), filepath.Join(tools, n)); err != nil {
			t.Fatal(err)
		}
	}
	path := tools
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "slipway")); err == nil {
			continue
		}
		path += string(os.PathListSeparator) + d
	}
	jobEnv := map[string]string{}
	// XDG_CACHE_HOME below is the integration tests' BuildKit cache; Go
	// would put its build cache there too and build slipway from nothing.
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}

	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			e := expr.FindStringSubmatch(m)[1]
			parts := strings.Split(e, ".")
			switch {
			case parts[0] == "inputs" && len(parts) == 2:
				return inputs[parts[1]]
			case parts[0] == "github" && len(parts) == 2:
				return github[parts[1]]
			case parts[0] == "runner" && e == "runner.temp":
				return runnerTemp
			case parts[0] == "steps" && len(parts) == 4 && parts[2] == "outputs":
				return steps[parts[1]][parts[3]]
			}
			t.Fatalf("expression %q is not one the test runner knows", e)
			return ""
		})
	}

	for i, st := range act.Runs.Steps {
		if st.Uses != "" || st.If != "" {
			t.Fatalf("step %d: uses/if are not run by this test", i)
		}
		if st.Shell != "bash" {
			t.Fatalf("step %d: shell %q", i, st.Shell)
		}
		dir := t.TempDir()
		script := filepath.Join(dir, "step.sh")
		if err := os.WriteFile(script, []byte(eval(st.Run)), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for _, n := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"} {
			files[n] = filepath.Join(dir, strings.ToLower(n))
			if err := os.WriteFile(files[n], nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// The runner's bash: bash --noprofile --norc -eo pipefail {0}.
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = work
		env := append(os.Environ(),
			"PATH="+path, "GOBIN="+gobin, "GOCACHE="+strings.TrimSpace(string(gocache)), "XDG_CACHE_HOME="+cacheHome, "DOCKER_CONFIG="+t.TempDir(),
			"REGISTRY="+reg.Host, "RUNNER_TEMP="+runnerTemp, "RUNNER_OS=Linux",
			"GITHUB_ACTIONS=true", "CI=true", "GITHUB_WORKSPACE="+work, "GITHUB_ACTION_PATH="+root,
			"GITHUB_REPOSITORY=acme/shop", "GITHUB_REF=refs/heads/main", "GITHUB_SHA=unused", "BUILDKIT_HOST=")
		for k, v := range jobEnv {
			env = append(env, k+"="+v)
		}
		for k, v := range files {
			env = append(env, k+"="+v)
		}
		for k, v := range st.Env {
			env = append(env, k+"="+eval(v))
		}
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "--- step %q\n", eval(st.Name))
			cmd.Stdout = io.MultiWriter(&out, os.Stderr)
			cmd.Stderr = cmd.Stdout
		}
		// A process a step leaves running must not hold the step open.
		cmd.WaitDelay = 10 * time.Second
		if err := cmd.Run(); err != nil {
			t.Fatalf("step %q: %v\n%s", eval(st.Name), err, out.String())
		}
		outs := readKV(t, files["GITHUB_OUTPUT"])
		if st.ID != "" {
			steps[st.ID] = outs
		}
		for k, v := range readKV(t, files["GITHUB_ENV"]) {
			jobEnv[k] = v
		}
		if b, _ := os.ReadFile(files["GITHUB_PATH"]); len(b) > 0 {
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				path = l + string(os.PathListSeparator) + path
			}
		}
	}
	if _, err := os.Stat(filepath.Join(gobin, "slipway")); err != nil {
		t.Fatalf("the install step put no slipway in GOBIN: %v", err)
	}

	outputs := map[string]string{}
	for k, o := range act.Outputs {
		outputs[k] = eval(o.Value)
	}
	var digests, refs map[string]string
	if err := json.Unmarshal([]byte(outputs["digests"]), &digests); err != nil {
		t.Fatalf("digests output %q: %v", outputs["digests"], err)
	}
	if err := json.Unmarshal([]byte(outputs["refs"]), &refs); err != nil {
		t.Fatalf("refs output %q: %v", outputs["refs"], err)
	}
	d := digests["web"]
	if !strings.HasPrefix(d, "sha256:") || !strings.HasPrefix(refs["web"], reg.Host+"/demo/web:") || !strings.HasSuffix(refs["web"], "@"+d) {
		t.Fatalf("outputs: digests %v refs %v", digests, refs)
	}
	// The registry holds that digest under the tag of the ref.
	tagged := strings.TrimSuffix(refs["web"], "@"+d)
	got, err := exec.Command(testenv.Bin(t, "crane"), "digest", "--insecure", tagged).Output()
	if err != nil || strings.TrimSpace(string(got)) != d {
		t.Errorf("crane digest %s = %q, %v; want %s", tagged, got, err, d)
	}
	if outputs["report"] != filepath.Join(runnerTemp, "slipway-report.json") {
		t.Errorf("report output = %q", outputs["report"])
	}
	rep := readReport(t, outputs["report"])
	if !rep.Success || rep.Image("web") == nil || rep.Image("web").Digest != d {
		t.Errorf("report: %+v", rep)
	}
	manifest, _ := os.ReadFile(filepath.Join(work, "deploy", "web.yaml"))
	if !strings.Contains(string(manifest), refs["web"]) {
		t.Errorf("deploy/web.yaml not bumped to %s:\n%s", refs["web"], manifest)
	}
}

// readKV reads a GITHUB_OUTPUT or GITHUB_ENV file: NAME=value lines and
// NAME<<DELIM heredocs.
func readKV(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		if k, delim, ok := strings.Cut(l, "<<"); ok && !strings.Contains(k, "=") {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			out[k] = strings.Join(val, "\n")
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q", path, l)
		}
		out[k] = v
	}
	return out
}
