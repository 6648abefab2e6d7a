package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	digestWeb    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestAmd64  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	digestArm64  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	digestWorker = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

// fullReport sets every field of every type, so that a test over it sees
// each one marshalled. It is a fixture, not a run that could happen: it is
// both a dry run and pushed, and succeeded with an error.
func fullReport() *Report {
	return &Report{
		SchemaVersion:  SchemaVersion,
		Command:        "release",
		SlipwayVersion: "v1.2.3",
		Project:        "slipway.yaml",
		Git:            &Git{Commit: "0123456789abcdef0123456789abcdef01234567", Tag: "v1.4.0", Branch: "main", Dirty: true},
		Images: []Image{
			{
				Name:       "web",
				Repository: "registry.example.com:5000/team/web",
				Tags:       []string{"1.4.0", "1.4", "0123456"},
				Refs: []string{
					"registry.example.com:5000/team/web:1.4.0",
					"registry.example.com:5000/team/web:1.4",
					"registry.example.com:5000/team/web:0123456",
					"mirror.example.org/team/web:1.4.0",
				},
				Digest:    digestWeb,
				MediaType: "application/vnd.oci.image.index.v1+json",
				PlatformDigests: map[string]string{
					"linux/arm64/v8": digestArm64,
					"linux/amd64":    digestAmd64,
				},
				Nodes:       map[string]string{"linux/arm64/v8": "tcp://arm.internal:1234", "linux/amd64": "private"},
				InputDigest: digestArm64,
				Skipped:     true,
				Registries:  []string{"registry.example.com:5000", "mirror.example.org"},
				Pushed: []string{
					"registry.example.com:5000/team/web:1.4.0@" + digestWeb,
					"registry.example.com:5000/team/web:1.4@" + digestWeb,
					"registry.example.com:5000/team/web:0123456@" + digestWeb,
					"mirror.example.org/team/web:1.4.0@" + digestWeb,
				},
				Signatures: []string{
					"registry.example.com:5000/team/web:sha256-1111111111111111111111111111111111111111111111111111111111111111.sig",
					"mirror.example.org/team/web:sha256-1111111111111111111111111111111111111111111111111111111111111111.sig",
				},
				BytesUploaded: 31457280,
				BlobsUploaded: 7,
				BlobsSkipped:  2,
				BlobsMounted:  3,
				Store:         "/src/.slipway/store",
				Scans: []Scan{{
					Platform: "linux/amd64", Digest: digestAmd64, Scanner: "trivy", FailOn: "HIGH", Passed: true,
					Counts:   map[string]int{"LOW": 1},
					Findings: []VulnFinding{{ID: "CVE-2024-0001", Package: "libx", Installed: "1.0", Fixed: "1.1", Severity: "HIGH", Title: "overflow", Ignored: true}},
				}},
				Attested: []Attestation{{Type: "provenance", PredicateType: "https://slsa.dev/provenance/v1", Subject: digestAmd64,
					Ref: "registry.example.com:5000/team/web@" + digestWeb, Existed: true}},
			},
			{
				Name:          "tools/worker.v2",
				Repository:    "registry.example.com:5000/team/tools/worker.v2",
				Tags:          []string{"1.4.0"},
				Refs:          []string{"registry.example.com:5000/team/tools/worker.v2:1.4.0"},
				Digest:        digestWorker,
				MediaType:     "application/vnd.oci.image.manifest.v1+json",
				Registries:    []string{"registry.example.com:5000"},
				Pushed:        []string{"registry.example.com:5000/team/tools/worker.v2:1.4.0@" + digestWorker},
				Source:        "staging.example.com/team/tools/worker.v2@" + digestWorker,
				Attestations:  []string{"registry.example.com:5000/team/tools/worker.v2:sha256-2222222222222222222222222222222222222222222222222222222222222222.att"},
				Referrers:     []string{"registry.example.com:5000/team/tools/worker.v2@sha256:3333333333333333333333333333333333333333333333333333333333333333"},
				BytesUploaded: 1024,
				BlobsUploaded: 1,
			},
		},
		Manifests: []ManifestFile{
			{
				File: "deploy/web.yaml",
				Edits: []Edit{{
					Document:  2,
					Line:      19,
					Object:    "Deployment/web",
					Container: "web",
					Field:     "spec.template.spec.containers[0].image",
					Old:       "registry.example.com:5000/team/web:1.3.0",
					New:       "registry.example.com:5000/team/web:1.4.0@" + digestWeb,
				}},
			},
			{
				File: "charts/worker/values.yaml",
				Edits: []Edit{{
					Document: 1,
					Line:     4,
					Field:    "image.tag",
					Old:      "",
					New:      "1.4.0@" + digestWorker,
				}},
			},
		},
		Findings: []Finding{{Rule: "platform", Severity: "error", File: "deploy/web.yaml", Line: 12, Object: "Deployment/web", Container: "web",
			Reference: "r/web:1", Resolved: "r/web:1", Digest: "sha256:" + strings.Repeat("ab", 32), Platforms: []string{"linux/amd64"}, Message: "no match for platform in manifest"}},
		Stages:  []Stage{{Name: "build", Seconds: 12.5}, {Name: "push", Seconds: 1.25}, {Name: "sign", Seconds: 0.5}, {Name: "bump", Seconds: 0.01}},
		Success: true,
		Error:   "signing web: wrong password",
		DryRun:  true,
	}
}

// TestFullReportSetsEveryField keeps fullReport honest: a field added to a
// struct without being added there would escape the schema tests.
func TestFullReportSetsEveryField(t *testing.T) {
	// set[path] is true when the field is non-zero in at least one place.
	set := map[string]bool{}
	var mark func(path string, v reflect.Value)
	mark = func(path string, v reflect.Value) {
		if _, ok := set[path]; !ok {
			set[path] = false
		}
		if !v.IsZero() && (v.Kind() != reflect.Slice || v.Len() > 0) {
			set[path] = true
		}
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				mark(path, v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				mark(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				mark(path+"[]", v.Index(i))
			}
		}
	}
	mark("Report", reflect.ValueOf(fullReport()))
	for path, ok := range set {
		if !ok {
			t.Errorf("%s is never set", path)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   *Report
		want *Report
	}{
		{name: "full", in: fullReport(), want: fullReport()},
		{name: "new", in: New("build", "v0.1.0"), want: New("build", "v0.1.0")},
		{
			name: "written as the current version, with empty required lists",
			in: &Report{Command: "push", Images: []Image{{Name: "web"}},
				Manifests: []ManifestFile{{File: "a.yaml"}}},
			want: &Report{SchemaVersion: SchemaVersion, Command: "push",
				Images:    []Image{{Name: "web", Tags: []string{}, Refs: []string{}}},
				Manifests: []ManifestFile{{File: "a.yaml", Edits: []Edit{}}}},
		},
		{
			name: "nil images",
			in:   &Report{SchemaVersion: SchemaVersion, Command: "bump", Success: true},
			want: &Report{SchemaVersion: SchemaVersion, Command: "bump", Success: true, Images: []Image{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "report.json")
			if err := Write(path, tt.in); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Read after Write:\n got %+v\nwant %+v", got, tt.want)
			}
			after, _ := json.Marshal(tt.in)
			if !bytes.Equal(before, after) {
				t.Errorf("Write changed its argument:\nbefore %s\nafter  %s", before, after)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(data, []byte("}\n")) {
				t.Errorf("report does not end with a newline: %q", data[max(0, len(data)-10):])
			}
			if bytes.Contains(data, []byte("null")) {
				t.Errorf("report holds null, which the schema does not allow:\n%s", data)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, %v; want 0644", st.Mode().Perm(), err)
			}
		})
	}
}

func TestWriteStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	werr := Write("-", fullReport())
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	r.Close()
	if werr != nil {
		t.Fatalf("Write(-): %v", werr)
	}
	var got Report
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("stdout is not the report: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(&got, fullReport()) {
		t.Errorf("stdout report differs:\n%s", out)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Errorf(`Write("-") created a file named "-"`)
	}
}

// dirNames lists a folder, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriteAtomic(t *testing.T) {
	oldContent := []byte(strings.Repeat("old report, longer than the new one\n", 2000))
	tests := []struct {
		name    string
		r       *Report
		old     bool   // a report is there before
		sub     string // write into this (missing) folder of the temp dir
		wantErr bool
	}{
		{name: "new file", r: fullReport()},
		{name: "replaces an existing file whole", r: New("build", "v1"), old: true},
		{name: "missing folder", r: fullReport(), sub: "missing", wantErr: true},
		{name: "missing nested folder", r: fullReport(), sub: filepath.Join("a", "b"), wantErr: true},
		{name: "unencodable report keeps the old one", r: &Report{Command: "release", Stages: []Stage{{Name: "build", Seconds: math.NaN()}}}, old: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.sub, "report.json")
			var oldFile *os.File
			if tt.old {
				if err := os.WriteFile(path, oldContent, 0o600); err != nil {
					t.Fatal(err)
				}
				// A reader that opened the old report keeps reading it
				// whole: the new one arrives by rename, not by truncation.
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				oldFile = f
			}

			err := Write(path, tt.r)

			if tt.wantErr {
				if err == nil {
					t.Fatal("Write succeeded, want an error")
				}
				if !strings.Contains(err.Error(), "report") {
					t.Errorf("error %q does not say what was being done", err)
				}
			} else if err != nil {
				t.Fatalf("Write: %v", err)
			}

			want := []string{"report.json"}
			if tt.sub != "" {
				want = nil // the missing folder was not made
			}
			if got := dirNames(t, dir); !slices.Equal(got, want) {
				t.Errorf("folder holds %q, want %q (no temp file left)", got, want)
			}

			if tt.sub != "" {
				return
			}
			data, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if tt.wantErr {
				if !bytes.Equal(data, oldContent) {
					t.Errorf("a failed Write changed the existing report")
				}
				return
			}
			wantData, _ := json.MarshalIndent(tt.r.normalized(), "", "  ")
			if !bytes.Equal(data, append(wantData, '\n')) {
				t.Errorf("file is not the new report alone:\n%s", data)
			}
			if oldFile != nil {
				seen, _ := io.ReadAll(oldFile)
				if !bytes.Equal(seen, oldContent) {
					t.Errorf("the old file was changed in place (%d bytes seen), want a rename", len(seen))
				}
			}
		})
	}
}

func TestWriteMissingFolderNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "report.json")
	err := Write(path, New("build", ""))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Write into a missing folder: %v; want an error naming %s", err, path)
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name        string
		content     *string // nil: no file
		wantVersion bool    // errors.Is(err, ErrVersion)
		wantErr     bool
		wantNotExis bool
	}{
		{name: "current", content: ptr(`{"schemaVersion":1,"command":"build","images":[],"success":true}`)},
		{name: "unknown fields of a later additive change", content: ptr(`{"schemaVersion":1,"command":"build","images":[{"name":"web","repository":"r/web","tags":[],"refs":[],"bytesUploaded":0,"blobsUploaded":0,"blobsSkipped":0,"blobsMounted":0,"sbom":"x"}],"success":true,"attestations":[]}`)},
		{name: "version 2", content: ptr(`{"schemaVersion":2,"command":"build","images":[],"success":true}`), wantErr: true, wantVersion: true},
		{name: "version 2 of another shape", content: ptr(`{"schemaVersion":2,"images":{"web":{"digest":"sha256:00"}},"success":"yes"}`), wantErr: true, wantVersion: true},
		{name: "version 0", content: ptr(`{"schemaVersion":0,"command":"build","images":[]}`), wantErr: true, wantVersion: true},
		{name: "no version", content: ptr(`{"command":"build","images":[]}`), wantErr: true, wantVersion: true},
		{name: "not an object", content: ptr(`[1,2]`), wantErr: true},
		{name: "truncated", content: ptr(`{"schemaVersion":1,"command":"bu`), wantErr: true},
		{name: "empty file", content: ptr(``), wantErr: true},
		{name: "version as a string", content: ptr(`{"schemaVersion":"1"}`), wantErr: true},
		{name: "wrong type in version 1", content: ptr(`{"schemaVersion":1,"images":{}}`), wantErr: true},
		{name: "missing file", wantErr: true, wantNotExis: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.json")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Read(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if r.SchemaVersion != SchemaVersion || r.Command != "build" {
					t.Errorf("Read = %+v", r)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read succeeded with %+v, want an error", r)
			}
			if r != nil {
				t.Errorf("Read returned a report with its error: %+v", r)
			}
			if got := errors.Is(err, ErrVersion); got != tt.wantVersion {
				t.Errorf("errors.Is(%q, ErrVersion) = %v, want %v", err, got, tt.wantVersion)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.wantNotExis {
				t.Errorf("errors.Is(%q, fs.ErrNotExist) = %v, want %v", err, got, tt.wantNotExis)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestImageAndUpsert(t *testing.T) {
	type step struct {
		op       string // "image" or "upsert"
		name     string
		wantNil  bool
		setTag   string // set through the returned pointer
		wantTags []string
	}
	tests := []struct {
		name      string
		steps     []step
		wantNames []string
	}{
		{
			name:  "absent",
			steps: []step{{op: "image", name: "web", wantNil: true}},
		},
		{
			name: "upsert adds once and returns the same image",
			steps: []step{
				{op: "upsert", name: "web", setTag: "v1", wantTags: nil},
				{op: "upsert", name: "web", wantTags: []string{"v1"}},
				{op: "image", name: "web", wantTags: []string{"v1"}},
			},
			wantNames: []string{"web"},
		},
		{
			name: "keeps the order of first upsert",
			steps: []step{
				{op: "upsert", name: "web", setTag: "w"},
				{op: "upsert", name: "api", setTag: "a"},
				{op: "upsert", name: "web", wantTags: []string{"w"}},
				{op: "upsert", name: "team/db", setTag: "d"},
				{op: "image", name: "api", wantTags: []string{"a"}},
				{op: "image", name: "team/db", wantTags: []string{"d"}},
				{op: "image", name: "team", wantNil: true},
			},
			wantNames: []string{"web", "api", "team/db"},
		},
		{
			name: "names are exact",
			steps: []step{
				{op: "upsert", name: "web"},
				{op: "image", name: "Web", wantNil: true},
				{op: "image", name: "web ", wantNil: true},
			},
			wantNames: []string{"web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New("release", "")
			for i, s := range tt.steps {
				var img *Image
				if s.op == "upsert" {
					img = r.Upsert(s.name)
				} else {
					img = r.Image(s.name)
				}
				if s.wantNil {
					if img != nil {
						t.Errorf("step %d: %s(%q) = %+v, want nil", i, s.op, s.name, img)
					}
					continue
				}
				if img == nil {
					t.Fatalf("step %d: %s(%q) = nil", i, s.op, s.name)
				}
				if img.Name != s.name {
					t.Errorf("step %d: %s(%q).Name = %q", i, s.op, s.name, img.Name)
				}
				if s.wantTags != nil && !slices.Equal(img.Tags, s.wantTags) {
					t.Errorf("step %d: tags %q, want %q", i, img.Tags, s.wantTags)
				}
				if s.setTag != "" {
					img.Tags = append(img.Tags, s.setTag)
				}
			}
			var names []string
			for _, img := range r.Images {
				names = append(names, img.Name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("images %q, want %q", names, tt.wantNames)
			}
		})
	}
}

func TestNew(t *testing.T) {
	r := New("push", "v9")
	if r.SchemaVersion != SchemaVersion || r.Command != "push" || r.SlipwayVersion != "v9" || r.Images == nil || len(r.Images) != 0 {
		t.Errorf("New = %+v", r)
	}
}

func TestTime(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		err  error
	}{
		{name: "build", err: nil},
		{name: "push", err: boom},
	}
	r := New("release", "")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			err := r.Time(tt.name, func() error { ran = true; return tt.err })
			if !ran {
				t.Error("f did not run")
			}
			if err != tt.err {
				t.Errorf("Time = %v, want %v", err, tt.err)
			}
			if len(r.Stages) != i+1 {
				t.Fatalf("stages %+v, want %d", r.Stages, i+1)
			}
			if s := r.Stages[i]; s.Name != tt.name || s.Seconds < 0 {
				t.Errorf("stage %+v", s)
			}
		})
	}
}

func TestPlatforms(t *testing.T) {
	tests := []struct {
		name string
		pd   map[string]string
		want []string
	}{
		{name: "none", pd: nil, want: nil},
		{name: "one", pd: map[string]string{"linux/amd64": digestAmd64}, want: []string{"linux/amd64"}},
		{name: "sorted", pd: map[string]string{"linux/s390x": "x", "linux/arm64/v8": "y", "linux/amd64": "z", "linux/arm/v7": "w"},
			want: []string{"linux/amd64", "linux/arm/v7", "linux/arm64/v8", "linux/s390x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := Image{PlatformDigests: tt.pd}
			if got := img.Platforms(); !slices.Equal(got, tt.want) {
				t.Errorf("Platforms = %q, want %q", got, tt.want)
			}
		})
	}
}

// ---- the schema ----

const schemaPath = "../../schema/report.schema.json"

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return s
}

// resolve follows a local "$ref": "#/definitions/NAME".
func resolve(t *testing.T, root, s map[string]any) map[string]any {
	t.Helper()
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name, ok := strings.CutPrefix(ref, "#/definitions/")
		if !ok {
			t.Fatalf("$ref %q is not a local definition", ref)
		}
		def, ok := root["definitions"].(map[string]any)[name].(map[string]any)
		if !ok {
			t.Fatalf("$ref %q: no such definition", ref)
		}
		s = def
	}
}

// TestSchemaMatchesStructs walks the Go types from Report and checks each
// struct against its object in the schema, both ways: the same property
// names, required exactly when not omitempty, matching JSON types, a
// description everywhere and no additional properties.
func TestSchemaMatchesStructs(t *testing.T) {
	root := loadSchema(t)
	seen := map[reflect.Type]bool{}
	var checkType func(path string, typ reflect.Type, s map[string]any)
	var checkStruct func(path string, typ reflect.Type, s map[string]any)

	checkType = func(path string, typ reflect.Type, s map[string]any) {
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() == reflect.Struct {
			want := "#/definitions/" + strings.ToLower(typ.Name()[:1]) + typ.Name()[1:]
			if s["$ref"] != want && path != "" {
				t.Errorf("%s: schema %v, want $ref %s", path, s, want)
			}
		}
		s = resolve(t, root, s)
		wantType := map[reflect.Kind]string{
			reflect.String: "string", reflect.Bool: "boolean",
			reflect.Int: "integer", reflect.Int64: "integer",
			reflect.Float64: "number", reflect.Slice: "array",
			reflect.Map: "object", reflect.Struct: "object",
		}[typ.Kind()]
		if wantType == "" {
			t.Fatalf("%s: Go kind %s has no JSON type in this test", path, typ.Kind())
		}
		if s["type"] != wantType {
			t.Errorf("%s: schema type %v, Go %s wants %q", path, s["type"], typ, wantType)
		}
		switch typ.Kind() {
		case reflect.Slice:
			items, ok := s["items"].(map[string]any)
			if !ok {
				t.Errorf("%s: array without items", path)
				return
			}
			checkType(path+"[]", typ.Elem(), items)
		case reflect.Map:
			if typ.Key().Kind() != reflect.String {
				t.Fatalf("%s: map key %s", path, typ.Key())
			}
			vals, ok := s["additionalProperties"].(map[string]any)
			if !ok {
				t.Errorf("%s: map without an additionalProperties schema", path)
				return
			}
			checkType(path+"{}", typ.Elem(), vals)
		case reflect.Struct:
			if !seen[typ] {
				seen[typ] = true
				checkStruct(path, typ, s)
			}
		}
	}

	checkStruct = func(path string, typ reflect.Type, s map[string]any) {
		if s["additionalProperties"] != false {
			t.Errorf("%s (%s): additionalProperties is %v, want false", path, typ.Name(), s["additionalProperties"])
		}
		if d, _ := s["description"].(string); d == "" {
			t.Errorf("%s (%s): no description", path, typ.Name())
		}
		props, _ := s["properties"].(map[string]any)
		var required []string
		for _, r := range s["required"].([]any) {
			required = append(required, r.(string))
		}
		goFields := map[string]bool{}
		var goRequired []string
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s: no json name", typ.Name(), f.Name)
				continue
			}
			goFields[name] = true
			if !strings.Contains(","+opts+",", ",omitempty,") {
				goRequired = append(goRequired, name)
			}
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s: json %q is not in the schema", typ.Name(), f.Name, name)
				continue
			}
			if d, _ := p["description"].(string); d == "" {
				t.Errorf("%s.%s: property %q has no description", typ.Name(), f.Name, name)
			}
			checkType(path+"."+name, f.Type, p)
		}
		for name := range props {
			if !goFields[name] {
				t.Errorf("%s: schema property %q is no field of %s", path, name, typ.Name())
			}
		}
		sort.Strings(required)
		sort.Strings(goRequired)
		if !slices.Equal(required, goRequired) {
			t.Errorf("%s (%s): schema requires %q, Go's non-omitempty fields are %q", path, typ.Name(), required, goRequired)
		}
	}

	checkType("", reflect.TypeOf(Report{}), root)
	if len(seen) < 6 {
		t.Errorf("walked %d struct types, want all 6", len(seen))
	}
}

func TestSchemaVersionConst(t *testing.T) {
	root := loadSchema(t)
	sv := root["properties"].(map[string]any)["schemaVersion"].(map[string]any)
	if sv["const"] != float64(SchemaVersion) {
		t.Errorf("schema's schemaVersion const is %v, the package writes %d", sv["const"], SchemaVersion)
	}
}

// TestWrittenReportsValidate: what Write produces validates against the
// schema, for a fully populated report and for sparse ones.
func TestWrittenReportsValidate(t *testing.T) {
	root := loadSchema(t)
	sparse := &Report{Command: "push", Images: []Image{{Name: "web"}}, Manifests: []ManifestFile{{File: "a.yaml"}}}
	tests := []struct {
		name string
		r    *Report
	}{
		{name: "full", r: fullReport()},
		{name: "new", r: New("build", "")},
		{name: "zero", r: &Report{}},
		{name: "sparse", r: sparse},
		{name: "failed", r: failedReport()},
		{name: "dry run", r: dryRunReport()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			if err := Write(path, tt.r); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "zero" {
				// The zero report has no command: the one thing the
				// schema wants that Write cannot make up.
				var doc map[string]any
				_ = json.Unmarshal(data, &doc)
				doc["command"] = "build"
				data, _ = json.Marshal(doc)
			}
			if errs := validateJSON(t, root, data); len(errs) > 0 {
				t.Errorf("written report does not validate:\n%s\n%s", strings.Join(errs, "\n"), data)
			}
		})
	}
}

// TestSchemaRejects shows that the schema (and the validator) do constrain:
// each document breaks one rule.
func TestSchemaRejects(t *testing.T) {
	root := loadSchema(t)
	full, err := json.Marshal(fullReport())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(doc map[string]any)
		want   string // in one of the errors
	}{
		{name: "other version", change: func(d map[string]any) { d["schemaVersion"] = 2 }, want: "schemaVersion"},
		{name: "version as string", change: func(d map[string]any) { d["schemaVersion"] = "1" }, want: "schemaVersion"},
		{name: "no command", change: func(d map[string]any) { delete(d, "command") }, want: "command"},
		{name: "no images", change: func(d map[string]any) { delete(d, "images") }, want: "images"},
		{name: "null images", change: func(d map[string]any) { d["images"] = nil }, want: "images"},
		{name: "unknown top-level field", change: func(d map[string]any) { d["password"] = "hunter2" }, want: "password"},
		{name: "unknown image field", change: func(d map[string]any) { img(d)["token"] = "x" }, want: "token"},
		{name: "bad digest", change: func(d map[string]any) { img(d)["digest"] = "latest" }, want: "digest"},
		{name: "bad platform key", change: func(d map[string]any) {
			img(d)["platformDigests"] = map[string]any{"amd64": digestAmd64}
		}, want: "platformDigests"},
		{name: "bad platform digest", change: func(d map[string]any) {
			img(d)["platformDigests"] = map[string]any{"linux/amd64": "x"}
		}, want: "platformDigests"},
		{name: "pushed without digest", change: func(d map[string]any) { img(d)["pushed"] = []any{"r/web:1"} }, want: "pushed"},
		{name: "negative bytes", change: func(d map[string]any) { img(d)["bytesUploaded"] = -1 }, want: "bytesUploaded"},
		{name: "fractional blobs", change: func(d map[string]any) { img(d)["blobsUploaded"] = 1.5 }, want: "blobsUploaded"},
		{name: "image without tags", change: func(d map[string]any) { delete(img(d), "tags") }, want: "tags"},
		{name: "tag not a string", change: func(d map[string]any) { img(d)["tags"] = []any{1} }, want: "tags"},
		{name: "edit line 0", change: func(d map[string]any) {
			d["manifests"].([]any)[0].(map[string]any)["edits"].([]any)[0].(map[string]any)["line"] = 0
		}, want: "line"},
		{name: "edit without new", change: func(d map[string]any) {
			delete(d["manifests"].([]any)[0].(map[string]any)["edits"].([]any)[0].(map[string]any), "new")
		}, want: "new"},
		{name: "git without dirty", change: func(d map[string]any) { delete(d["git"].(map[string]any), "dirty") }, want: "dirty"},
		{name: "negative seconds", change: func(d map[string]any) { d["stages"].([]any)[0].(map[string]any)["seconds"] = -1 }, want: "seconds"},
		{name: "success as string", change: func(d map[string]any) { d["success"] = "true" }, want: "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(full, &doc); err != nil {
				t.Fatal(err)
			}
			tt.change(doc)
			data, _ := json.Marshal(doc)
			errs := validateJSON(t, root, data)
			if len(errs) == 0 {
				t.Fatalf("document validates, want it rejected:\n%s", data)
			}
			if !strings.Contains(strings.Join(errs, "\n"), tt.want) {
				t.Errorf("errors do not mention %q:\n%s", tt.want, strings.Join(errs, "\n"))
			}
		})
	}
}

func img(doc map[string]any) map[string]any {
	return doc["images"].([]any)[0].(map[string]any)
}

// validateJSON checks data against the schema with the draft-07 keywords
// the report schema uses. It fails the test on a keyword it does not know,
// so that the schema cannot grow a rule this check would silently skip.
func validateJSON(t *testing.T, root map[string]any, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return []string{err.Error()}
	}
	v := &validator{t: t, root: root}
	v.validate("$", root, doc)
	return v.errs
}

type validator struct {
	t    *testing.T
	root map[string]any
	errs []string
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (v *validator) validate(path string, s map[string]any, x any) {
	v.t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		// In draft-07 $ref replaces its siblings; only annotations may sit
		// beside it.
		for k := range s {
			if k != "$ref" && k != "description" {
				v.t.Fatalf("schema at %s: %q beside $ref is ignored by draft-07", path, k)
			}
		}
		v.validate(path, resolve(v.t, v.root, map[string]any{"$ref": ref}), x)
		return
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "$schema", "$id", "title", "description", "examples", "default", "definitions":
		case "type":
			if !hasType(x, s["type"].(string)) {
				v.errorf(path, "is %s, want %s", jsonType(x), s["type"])
				return
			}
		case "const":
			if !jsonEqual(x, s["const"]) {
				v.errorf(path, "is %v, want %v", x, s["const"])
			}
		case "enum":
			found := false
			for _, e := range s["enum"].([]any) {
				found = found || jsonEqual(x, e)
			}
			if !found {
				v.errorf(path, "is %v, want one of %v", x, s["enum"])
			}
		case "properties", "required", "additionalProperties", "propertyNames":
			// Checked together below.
		case "items":
			if arr, ok := x.([]any); ok {
				for i, e := range arr {
					v.validate(fmt.Sprintf("%s[%d]", path, i), s["items"].(map[string]any), e)
				}
			}
		case "minItems":
			if arr, ok := x.([]any); ok && float64(len(arr)) < s["minItems"].(float64) {
				v.errorf(path, "has %d items, want at least %v", len(arr), s["minItems"])
			}
		case "minLength":
			if str, ok := x.(string); ok && float64(len([]rune(str))) < s["minLength"].(float64) {
				v.errorf(path, "is shorter than %v", s["minLength"])
			}
		case "pattern":
			if str, ok := x.(string); ok && !regexp.MustCompile(s["pattern"].(string)).MatchString(str) {
				v.errorf(path, "%q does not match %s", str, s["pattern"])
			}
		case "minimum":
			if n, ok := x.(json.Number); ok {
				f, _ := n.Float64()
				if f < s["minimum"].(float64) {
					v.errorf(path, "is %v, want at least %v", n, s["minimum"])
				}
			}
		default:
			v.t.Fatalf("schema at %s uses %q, which this validator does not know", path, k)
		}
	}
	obj, ok := x.(map[string]any)
	if !ok {
		return
	}
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				v.errorf(path, "required property %q is missing", r)
			}
		}
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if pn, ok := s["propertyNames"].(map[string]any); ok {
			v.validate(path+".(name "+k+")", pn, k)
		}
		if ps, ok := props[k].(map[string]any); ok {
			v.validate(path+"."+k, ps, obj[k])
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case nil:
		case bool:
			if !ap {
				v.errorf(path, "property %q is not allowed", k)
			}
		case map[string]any:
			v.validate(path+"."+k, ap, obj[k])
		}
	}
}

func hasType(x any, typ string) bool {
	switch typ {
	case "integer":
		n, ok := x.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	case "number":
		_, ok := x.(json.Number)
		return ok
	default:
		return jsonType(x) == typ
	}
}

func jsonType(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func jsonEqual(a, b any) bool {
	if n, ok := a.(json.Number); ok {
		f, err := n.Float64()
		bf, ok := b.(float64)
		return err == nil && ok && f == bf
	}
	return reflect.DeepEqual(a, b)
}

// ---- the reference ----

const docPath = "../../docs/report.md"

// TestDocExample: the example report in docs/report.md validates against
// the schema and reads, and the reference names every field.
func TestDocExample(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	_, rest, ok := strings.Cut(doc, "```json\n")
	if !ok {
		t.Fatalf("%s has no ```json example", docPath)
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s: unterminated example", docPath)
	}
	if errs := validateJSON(t, loadSchema(t), []byte(example)); len(errs) > 0 {
		t.Errorf("the example in %s does not validate:\n%s", docPath, strings.Join(errs, "\n"))
	}
	path := filepath.Join(t.TempDir(), "example.json")
	if err := os.WriteFile(path, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err != nil {
		t.Errorf("the example in %s does not read: %v", docPath, err)
	}

	var fields []string
	for _, typ := range []reflect.Type{reflect.TypeOf(Report{}), reflect.TypeOf(Git{}), reflect.TypeOf(Image{}), reflect.TypeOf(ManifestFile{}), reflect.TypeOf(Edit{}), reflect.TypeOf(Stage{})} {
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
		}
	}
	for _, f := range fields {
		if !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("%s does not describe `%s`", docPath, f)
		}
		// A successful release cannot show error and dryRun; findings are
		// verify's; promote alone writes source, attestations and referrers.
		if !promoteOnly[f] && f != "error" && f != "dryRun" && f != "findings" && !strings.Contains(example, `"`+f+`"`) {
			t.Errorf("the example in %s lacks %q", docPath, f)
		}
	}
}

var promoteOnly = map[string]bool{"source": true, "attestations": true, "referrers": true}
