package completion

import (
	"regexp"
	"strings"
	"sync"
)

var (
	parenthetical = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\([^)]*\)`) })
	valueWord     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9+._-]*$`) })
)

// ValuesFromUsage reads the fixed set of values a flag's help text lists
// after its last colon, as in "progress output: auto, tty, plain or quiet"
// (parenthetical remarks aside). It returns nil when the text lists none,
// so that free-form flags offer nothing.
func ValuesFromUsage(usage string) []string {
	u := parenthetical().ReplaceAllString(usage, "")
	i := strings.LastIndex(u, ": ")
	if i < 0 {
		return nil
	}
	list := strings.TrimSpace(u[i+2:])
	head, last, ok := strings.Cut(list, " or ")
	if !ok {
		return nil
	}
	var out []string
	for _, v := range append(strings.Split(head, ","), last) {
		v = strings.TrimSpace(v)
		if !valueWord().MatchString(v) {
			return nil
		}
		out = append(out, v)
	}
	return out
}
