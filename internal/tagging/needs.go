package tagging

import (
	"text/template"
	"text/template/parse"
)

// Needs are the costlier git facts a set of tag templates reads.
type Needs struct {
	// Git: a template reads a fact that comes from git (all but .BuildNumber).
	Git bool
	// Describe: a template reads .Describe, which makes git walk history.
	Describe bool
	// Dirty: a template reads .Dirty or a fact of the commit, so Render's
	// "-dirty" rule applies and the work tree's status must be known.
	Dirty bool
}

// commitFacts are the facts that name the commit (Render's "-dirty" rule).
var commitFacts = map[string]bool{
	"Commit": true, "ShortCommit": true, "Describe": true, "Tag": true, "Version": true,
	"Major": true, "Minor": true, "Patch": true, "Prerelease": true, "Date": true, "Timestamp": true,
}

// TemplateNeeds reports which costly facts the templates may read. It looks
// at every field a template names, in any branch, so it may say yes for a
// fact an execution never reaches, never no for one it does. A template
// that does not parse needs everything (Render reports its error).
func TemplateNeeds(templates []string) Needs {
	var n Needs
	for _, text := range templates {
		t, err := template.New("tag").Funcs((&renderState{}).funcs()).Parse(text)
		if err != nil || t.Tree == nil {
			return Needs{Git: true, Describe: true, Dirty: true}
		}
		for _, tt := range t.Templates() {
			if tt.Tree != nil {
				walkFields(tt.Tree.Root, func(field string) {
					n.Git = n.Git || field == "Branch" || field == "Dirty" || commitFacts[field]
					n.Describe = n.Describe || field == "Describe"
					n.Dirty = n.Dirty || field == "Dirty" || commitFacts[field]
				})
			}
		}
	}
	return n
}

// walkFields calls fn with the first field name of every .Field, $.Field
// and (x).Field in the tree under node.
func walkFields(node parse.Node, fn func(string)) {
	switch n := node.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkFields(c, fn)
			}
		}
	case *parse.ActionNode:
		walkFields(n.Pipe, fn)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				walkFields(c, fn)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkFields(a, fn)
		}
	case *parse.FieldNode:
		for _, id := range n.Ident {
			fn(id)
		}
	case *parse.VariableNode:
		for _, id := range n.Ident[1:] {
			fn(id)
		}
	case *parse.ChainNode:
		walkFields(n.Node, fn)
		for _, id := range n.Field {
			fn(id)
		}
	case *parse.IfNode:
		walkFields(n.Pipe, fn)
		walkFields(n.List, fn)
		walkFields(n.ElseList, fn)
	case *parse.WithNode:
		walkFields(n.Pipe, fn)
		walkFields(n.List, fn)
		walkFields(n.ElseList, fn)
	case *parse.RangeNode:
		walkFields(n.Pipe, fn)
		walkFields(n.List, fn)
		walkFields(n.ElseList, fn)
	case *parse.TemplateNode:
		walkFields(n.Pipe, fn)
	}
}
