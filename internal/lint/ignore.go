package lint

import (
	"bufio"
	"bytes"
	"strings"
)

// ignoreMark starts a comment that turns rules off for its line and the
// line below: "# slipway:ignore RULE[,RULE]".
const ignoreMark = "slipway:ignore"

// ignores maps a line number to the rules a slipway:ignore comment on it names.
type ignores map[int]map[string]bool

// readIgnores finds slipway:ignore comments in data, whole-line or at the
// end of a line, in Dockerfiles and YAML alike (both comment with #).
func readIgnores(data []byte) ignores {
	if !bytes.Contains(data, []byte(ignoreMark)) {
		return nil
	}
	out := ignores{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		i := strings.Index(line, "#")
		if i < 0 {
			continue
		}
		rest := strings.TrimSpace(line[i+1:])
		if !strings.HasPrefix(rest, ignoreMark) {
			// The mark may follow other comment text on a YAML line: "# keep # slipway:ignore x".
			j := strings.Index(rest, "# "+ignoreMark)
			if j < 0 {
				continue
			}
			rest = rest[j+2:]
		}
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ignoreMark))
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		for _, r := range strings.Split(fields[0], ",") {
			if r = strings.TrimSpace(r); r != "" {
				if out[n] == nil {
					out[n] = map[string]bool{}
				}
				out[n][r] = true
			}
		}
	}
	return out
}

// ignored reports whether rule is turned off at line: by a comment on the
// line itself or on the line above.
func (ig ignores) ignored(rule string, line int) bool {
	return ig[line][rule] || ig[line-1][rule]
}

// filter drops the findings an ignore comment turns off; only lets
// through rules of the given source (nil: any).
func (ig ignores) filter(fs []Finding, source string) []Finding {
	if len(ig) == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if (source == "" || f.Source == source) && ig.ignored(f.Rule, f.Line) {
			continue
		}
		out = append(out, f)
	}
	return out
}
