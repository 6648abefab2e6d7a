package manifest

import (
	"regexp"
	"strings"
	"testing"
)

// validTag is the distribution spec's tag grammar, written as a loop.
func TestValidTag(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	cases := []string{"", "v1", "1.2.3", "_x", ".x", "-x", "a-b_c.d", "a/b", "a:b", "a b", "é",
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), "A" + strings.Repeat("-", 127)}
	for _, s := range cases {
		if got, want := validTag(s), re.MatchString(s); got != want {
			t.Errorf("validTag(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValidTag(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	f.Add("v1.2.3")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validTag(s), re.MatchString(s); got != want {
			t.Errorf("validTag(%q) = %v, want %v", s, got, want)
		}
	})
}
