package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Where is "FILE:LINE: OBJECT container NAME: REF", the place part of a
// finding's line; a reference from the command line is just REF.
func (f Finding) Where() string {
	var parts []string
	if f.File != "" {
		loc := f.File
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		parts = append(parts, loc)
	}
	obj := f.Object
	if f.Container != "" {
		obj = strings.TrimSpace(obj + " container " + f.Container)
	}
	if obj != "" {
		parts = append(parts, obj)
	}
	return strings.Join(append(parts, f.Reference), ": ")
}

// String is the finding's line: WHERE: ok, or WHERE: SEVERITY RULE: why.
func (f Finding) String() string {
	if f.Severity == OK {
		return f.Where() + ": ok"
	}
	return fmt.Sprintf("%s: %s %s: %s", f.Where(), f.Severity, f.Rule, f.Message)
}

// Summary is "N images: A ok, B warnings, C errors".
func (r *Result) Summary() string {
	return fmt.Sprintf("%s: %d ok, %s, %s", count(r.Images, "image"), r.OK, count(r.Warnings, "warning"), count(r.Errors, "error"))
}

func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// WriteText writes one line per finding.
func (r *Result) WriteText(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the result as one JSON document.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
