package logstream

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/containerd/console"
)

func TestMaskerMasksAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out)
	m.Add("hunter22", "ab", "line-one\nline-two\n", `q"uote`)
	for _, chunk := range []string{"pass=hun", "ter22 ok\n", "a prompt: ", "ab stays\n", "x line-two y\n", `{"m":"q\"uote"}` + "\n"} {
		if _, err := m.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "pass=*** ok\na prompt: ab stays\nx *** y\n" + `{"m":"***"}` + "\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

func TestMaskerHoldsBackOnlyAPossibleStart(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out)
	m.Add("secret-value")
	m.Write([]byte("Password: "))
	if out.String() != "Password: " {
		t.Errorf("a prompt was held back: %q", out.String())
	}
	m.Write([]byte("sec"))
	if strings.Contains(out.String(), "sec") {
		t.Errorf("the start of a secret was written: %q", out.String())
	}
	m.Write([]byte("ond"))
	m.Flush()
	if out.String() != "Password: second" {
		t.Errorf("got %q", out.String())
	}
}

func TestJSONLines(t *testing.T) {
	var out bytes.Buffer
	j := NewJSONLines(&out, nil)
	j.Write([]byte(`{"vertexes":[]}` + "\nslipway: warning: tag moved\nslipway: pushing web: denied\nhint: check the creden"))
	j.Write([]byte("tials\n"))
	j.Stage("push").Write([]byte("localhost/web sha256:ab: uploaded 1 MiB\n"))
	j.Write([]byte("no newline at the end"))
	j.Flush()
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		typ, _ := ev["type"].(string)
		if _, ok := ev["vertexes"]; ok {
			typ = "buildkit"
		}
		types = append(types, typ)
	}
	want := "buildkit warning error hint push message"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("types %q, want %q\n%s", got, want, out.String())
	}
}

func TestJSONLinesMasksBuildLogs(t *testing.T) {
	var out bytes.Buffer
	m := NewMasker(&out)
	m.Add("tok-secret")
	j := NewJSONLines(m, m.Mask)
	data, _ := json.Marshal([]byte("token is tok-secret\n"))
	j.Write([]byte(`{"logs":[{"vertex":"sha256:x","stream":1,"data":` + string(data) + `}]}` + "\n"))
	var st struct {
		Logs []struct{ Data []byte } `json:"logs"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || len(st.Logs) != 1 {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got := string(st.Logs[0].Data); got != "token is ***\n" {
		t.Errorf("log data %q", got)
	}
}

func TestFileIsAConsoleFile(t *testing.T) {
	var _ console.File = NewFile(NewMasker(io.Discard), os.Stderr)
}
