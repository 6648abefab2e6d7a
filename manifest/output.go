package manifest

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteFiles writes every file's new bytes to w, as one stream: YAML
// documents separated by "---", each file ending in a line break.
func (c *Changes) WriteFiles(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, f := range c.Files {
		if i > 0 && !strings.HasSuffix(strings.ToLower(f.Path), ".json") {
			bw.WriteString("---\n")
		}
		bw.Write(f.New)
		if len(f.New) > 0 && f.New[len(f.New)-1] != '\n' {
			bw.WriteString("\n")
		}
	}
	return bw.Flush()
}

// WriteEdits writes one line per edit that changed a value,
// FILE:LINE: OBJECT[ CONTAINER][ FIELD]: OLD -> NEW, naming files with
// show. The field is named unless it is a container's image; an added
// field's old value reads "(unset)".
func (c *Changes) WriteEdits(w io.Writer, show func(string) string) error {
	bw := bufio.NewWriter(w) // a line an edit: one write, not thousands
	for _, e := range c.Edits() {
		if e.Old == e.New {
			continue
		}
		old := e.Old
		if old == "" {
			old = "(unset)" // a field bump added, such as imagePullPolicy
		}
		fmt.Fprintf(bw, "%s:%d: %s%s%s: %s -> %s\n", show(e.File), e.Line, e.Object, suffix(e.Container), suffix(fieldName(e.Field)), old, e.New)
	}
	return bw.Flush()
}

// fieldName is the last part of a field path, "" for a container's image.
func fieldName(field string) string {
	last := field[strings.LastIndex(field, ".")+1:]
	if last == "image" || strings.HasPrefix(last, "image[") {
		return ""
	}
	return last
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}
