package logstream

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
)

// JSONLines passes lines that are JSON objects through and turns every
// other line into one: {"type": T, "message": TEXT}, where T is "error",
// "warning", "hint", "debug", or the stage a line belongs to ("push",
// "sign", "bump") when known, else "message". So that with --progress
// rawjson each line of stderr is one JSON object. Call Flush at the end.
type JSONLines struct {
	mu      sync.Mutex
	w       io.Writer
	mask    func([]byte) []byte
	partial []byte
}

// NewJSONLines writes JSON lines to w. mask, when not nil, is applied to
// the decoded output of build steps (BuildKit's "logs" carry it base64).
func NewJSONLines(w io.Writer, mask func([]byte) []byte) *JSONLines {
	return &JSONLines{w: w, mask: mask}
}

// Stage returns a writer whose plain lines are events of that stage.
func (j *JSONLines) Stage(stage string) io.Writer { return &stageWriter{j: j, stage: stage} }

type stageWriter struct {
	j       *JSONLines
	stage   string
	partial []byte
}

func (s *stageWriter) Write(p []byte) (int, error) {
	return s.j.write(&s.partial, s.stage, p)
}

func (j *JSONLines) Write(p []byte) (int, error) { return j.write(&j.partial, "", p) }

func (j *JSONLines) write(partial *[]byte, stage string, p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	*partial = append(*partial, p...)
	for {
		i := bytes.IndexByte(*partial, '\n')
		if i < 0 {
			break
		}
		line := (*partial)[:i]
		if err := j.emit(line, stage); err != nil {
			return 0, err
		}
		*partial = (*partial)[i+1:]
	}
	return len(p), nil
}

func (j *JSONLines) emit(line []byte, stage string) error {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	if bytes.HasPrefix(line, []byte("{")) && json.Valid(line) {
		if j.mask != nil && bytes.Contains(line, []byte(`"logs"`)) {
			line = j.maskLogs(line)
		}
		_, err := j.w.Write(append(append([]byte{}, line...), '\n'))
		return err
	}
	text := string(line)
	typ := stage
	switch {
	case strings.HasPrefix(text, "slipway: warning: "):
		typ, text = "warning", strings.TrimPrefix(text, "slipway: warning: ")
	case strings.HasPrefix(text, "slipway: debug: "):
		typ, text = "debug", strings.TrimPrefix(text, "slipway: debug: ")
	case strings.HasPrefix(text, "slipway: "):
		typ, text = "error", strings.TrimPrefix(text, "slipway: ")
	case strings.HasPrefix(text, "hint: "):
		typ, text = "hint", strings.TrimPrefix(text, "hint: ")
	case typ == "":
		typ = "message"
	}
	b, err := json.Marshal(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{typ, text})
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(b, '\n'))
	return err
}

// Flush emits a last line that had no line break.
func (j *JSONLines) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.partial) == 0 {
		return nil
	}
	err := j.emit(j.partial, "")
	j.partial = nil
	return err
}

// maskLogs masks the decoded data of a BuildKit status's logs.
func (j *JSONLines) maskLogs(line []byte) []byte {
	var st map[string]json.RawMessage
	if json.Unmarshal(line, &st) != nil {
		return line
	}
	var logs []map[string]json.RawMessage
	if json.Unmarshal(st["logs"], &logs) != nil {
		return line
	}
	for _, l := range logs {
		var data []byte // base64 in JSON, as encoding/json writes []byte
		if json.Unmarshal(l["data"], &data) != nil {
			continue
		}
		if masked, err := json.Marshal(j.mask(data)); err == nil {
			l["data"] = masked
		}
	}
	enc, err := json.Marshal(logs)
	if err != nil {
		return line
	}
	st["logs"] = enc
	out, err := json.Marshal(st)
	if err != nil {
		return line
	}
	return out
}
