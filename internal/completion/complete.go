// Package completion answers shell completion requests for a command line
// described by a Spec, and writes the bash, zsh and fish scripts that ask
// for them. The scripts call the program back (PROG completion --complete
// -- WORDS...), so the answer always comes from the program's own command
// table: a command or flag added to the program completes without a new
// script.
package completion

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Spec is a program's command line.
type Spec struct {
	// Globals are flags every command accepts.
	Globals  []Flag
	Commands []Command
}

// Command is one subcommand.
type Command struct {
	Name, Summary string
	Flags         []Flag
	// Args says what positional arguments are.
	Args ArgKind
	// Values are the fixed positional values (ArgValues).
	Values []string
}

// ArgKind is what a positional argument or flag value completes to.
type ArgKind int

// What arguments complete to.
const (
	ArgNone   ArgKind = iota // nothing to offer
	ArgFiles                 // file and folder names
	ArgDirs                  // folder names
	ArgImages                // image names from the project file
	ArgValues                // a fixed set (Values)
)

// Flag is one flag.
type Flag struct {
	Name, Short, Usage string
	// TakesValue is false for boolean flags.
	TakesValue bool
	// Value is what the flag's value completes to; Values the fixed set.
	Value  ArgKind
	Values []string
	Hidden bool
}

// Candidate is one completion with a description for shells that show one.
type Candidate struct {
	Value, Description string
}

// Result is the answer to one request: candidates, and whether the shell
// should complete file or folder names itself.
type Result struct {
	Candidates []Candidate
	// Files asks for file names, Dirs for folder names, both matching the
	// word being completed.
	Files, Dirs bool
}

// Images returns the image names of the project file and folder given on
// the command line (file may be "" for the default); nil when unknown.
type Images func(file, dir string) []string

// Complete answers a request: words are the command line after the program
// name, the last one being the word under the cursor ("" after a space).
func Complete(spec Spec, words []string, images Images) Result {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	prior := words[:len(words)-1]

	var cmd *Command
	var file, dir string
	var pending *Flag // a flag waiting for its value
	dashdash := false
	for _, w := range prior {
		if pending != nil {
			switch pending.Name {
			case "file":
				file = w
			case "chdir":
				dir = w
			}
			pending = nil
			continue
		}
		if !dashdash && w == "--" {
			dashdash = true
			continue
		}
		if !dashdash && strings.HasPrefix(w, "-") && w != "-" {
			name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := lookup(spec, cmd, name, !strings.HasPrefix(w, "--"))
			if f == nil || !f.TakesValue {
				continue
			}
			if hasVal {
				switch f.Name {
				case "file":
					file = val
				case "chdir":
					dir = val
				}
				continue
			}
			if !strings.HasPrefix(w, "--") && len(name) > 1 {
				continue // -fFILE
			}
			pending = f
			continue
		}
		if cmd == nil {
			cmd = findCommand(spec, w)
			if cmd == nil {
				return Result{}
			}
		}
	}

	if pending != nil {
		return value(*pending, "", cur, file, dir, images)
	}
	if !dashdash && strings.HasPrefix(cur, "-") {
		if strings.HasPrefix(cur, "--") && strings.Contains(cur, "=") {
			name, partial, _ := strings.Cut(cur[2:], "=")
			f := lookup(spec, cmd, name, false)
			if f == nil || !f.TakesValue {
				return Result{}
			}
			return value(*f, "--"+name+"=", partial, file, dir, images)
		}
		return Result{Candidates: flagCandidates(spec, cmd, cur)}
	}
	if cmd == nil {
		var out []Candidate
		for _, c := range spec.Commands {
			if strings.HasPrefix(c.Name, cur) {
				out = append(out, Candidate{c.Name, c.Summary})
			}
		}
		return Result{Candidates: out}
	}
	switch cmd.Args {
	case ArgFiles:
		return Result{Files: true}
	case ArgDirs:
		return Result{Dirs: true}
	case ArgImages:
		var out []Candidate
		if images != nil {
			for _, n := range images(file, dir) {
				if strings.HasPrefix(n, cur) && !contains(prior, n) {
					out = append(out, Candidate{Value: n, Description: "image"})
				}
			}
		}
		return Result{Candidates: out}
	case ArgValues:
		return Result{Candidates: matching(cmd.Values, "", cur)}
	}
	return Result{}
}

func value(f Flag, prefix, cur, file, dir string, images Images) Result {
	switch f.Value {
	case ArgFiles:
		return Result{Files: true}
	case ArgDirs:
		return Result{Dirs: true}
	case ArgValues:
		return Result{Candidates: matching(f.Values, prefix, cur)}
	case ArgImages:
		if images == nil {
			return Result{}
		}
		return Result{Candidates: matching(images(file, dir), prefix, cur)}
	}
	return Result{}
}

func matching(vals []string, prefix, cur string) []Candidate {
	var out []Candidate
	for _, v := range vals {
		if strings.HasPrefix(v, cur) {
			out = append(out, Candidate{Value: prefix + v})
		}
	}
	return out
}

func findCommand(spec Spec, name string) *Command {
	for i := range spec.Commands {
		if spec.Commands[i].Name == name {
			return &spec.Commands[i]
		}
	}
	return nil
}

// lookup finds a flag of the command (or a global one) by long name, or
// by its one-letter short name when short is set (the first letter of a
// group like -fv).
func lookup(spec Spec, cmd *Command, name string, short bool) *Flag {
	var sets [][]Flag
	if cmd != nil {
		sets = append(sets, cmd.Flags)
	}
	sets = append(sets, spec.Globals)
	for _, set := range sets {
		for i := range set {
			f := &set[i]
			if short {
				if f.Short != "" && strings.HasPrefix(name, f.Short) {
					return f
				}
			} else if f.Name == name {
				return f
			}
		}
	}
	return nil
}

func flagCandidates(spec Spec, cmd *Command, cur string) []Candidate {
	var flags []Flag
	if cmd != nil {
		flags = append(flags, cmd.Flags...)
	}
	flags = append(flags, spec.Globals...)
	seen := map[string]bool{}
	var out []Candidate
	for _, f := range flags {
		if f.Hidden || seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		if n := "--" + f.Name; strings.HasPrefix(n, cur) {
			out = append(out, Candidate{n, f.Usage})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Write prints a result in the form the scripts read: one candidate a
// line as VALUE<TAB>DESCRIPTION, then a line ":files", ":dirs" or ":".
func (r Result) Write(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Candidates {
		desc := strings.Join(strings.Fields(c.Description), " ")
		if desc != "" {
			fmt.Fprintf(&b, "%s\t%s\n", c.Value, desc)
		} else {
			fmt.Fprintln(&b, c.Value)
		}
	}
	switch {
	case r.Files:
		b.WriteString(":files\n")
	case r.Dirs:
		b.WriteString(":dirs\n")
	default:
		b.WriteString(":\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
