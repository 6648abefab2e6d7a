package project

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a project file, at a position.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Problems is every problem found in one load; as an error it is a bad
// configuration (exit code 2).
type Problems struct {
	File  string
	Items []Problem
}

func (ps *Problems) add(file string, line, col int, msg string) {
	ps.Items = append(ps.Items, Problem{File: file, Line: line, Col: col, Msg: msg})
}

func (ps *Problems) err() error {
	if len(ps.Items) == 0 {
		return nil
	}
	sort.SliceStable(ps.Items, func(i, j int) bool {
		a, b := ps.Items[i], ps.Items[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return ps
}

func (ps *Problems) Error() string {
	lines := make([]string, len(ps.Items))
	for i, p := range ps.Items {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Summary is a one-line description for the first line of an error report.
func (ps *Problems) Summary() string {
	if len(ps.Items) == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", len(ps.Items))
}

// ExitCode marks a configuration error for the CLI.
func (ps *Problems) ExitCode() int { return 2 }
