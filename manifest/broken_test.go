package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestBrokenFiles: a file yaml.v3 cannot read is reported once, as
// FILE:LINE:COL: cannot parse YAML: <why>, at the place the parser stopped.
func TestBrokenFiles(t *testing.T) {
	tests := []struct {
		file      string
		line, col int
		why       string
	}{
		{"value-colon.yaml", 4, 15, "mapping values are not allowed in this context"},
		{"dedent.yaml", 5, 2, "did not find expected key"},
		{"open-quote.yaml", 8, 12, "found unexpected end of stream"},
		{"tab.yaml", 4, 1, "found character that cannot start any token"},
		{"second-doc.yaml", 12, 10, "mapping values are not allowed in this context"},
		{"missing-comma.json", 4, 28, "did not find expected ',' or '}'"},
		{"template.yaml", 7, 3, "could not find expected ':'"},
		{"unknown-alias.yaml", 8, 15, "unknown anchor 'img' referenced"},
		{"seq-indent.yaml", 8, 6, "did not find expected key"},
	}
	entries, _ := os.ReadDir("testdata/broken")
	if len(entries) != len(tests) {
		t.Errorf("testdata/broken holds %d files, the table %d", len(entries), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata/broken", tt.file)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Rewrite(path, src, goldenImages, Options{})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FileError", err)
			}
			want := fmt.Sprintf("%s:%d:%d: cannot parse YAML: %s", path, tt.line, tt.col, tt.why)
			if err.Error() != want || !errors.Is(err, errParse) {
				t.Errorf("err = %q\nwant  %q", err, want)
			}
		})
	}
}
