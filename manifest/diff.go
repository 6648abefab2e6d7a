package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Diff writes a unified diff (3 lines of context) of every changed file,
// in file order, naming each file by its path on both sides (patch -p0).
func (c *Changes) Diff(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i := range c.Files {
		f := &c.Files[i]
		if f.Changed() {
			unified(bw, f.Path, f.Old, f.New)
		}
	}
	return bw.Flush()
}

const diffContext = 3

// splitLines cuts b after each '\n'; the last line may lack one.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

type diffOp struct {
	kind byte // ' ', '-', '+'
	a, b int  // line index in old (for ' ' and '-') and new (for ' ' and '+')
}

func unified(w *bufio.Writer, name string, old, new []byte) {
	a, b := splitLines(old), splitLines(new)
	ops := diffLines(a, b)
	fmt.Fprintf(w, "--- %s\n+++ %s\n", name, name)
	// Find runs of changes and print each with its context, merging runs
	// whose context would touch.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j + 1
			} else if j-end >= 2*diffContext {
				break
			}
		}
		stop := min(end+diffContext, len(ops))
		writeHunk(w, ops[start:stop], a, b)
		i = stop
	}
}

func writeHunk(w *bufio.Writer, ops []diffOp, a, b []string) {
	aStart, bStart, aCount, bCount := -1, -1, 0, 0
	for _, o := range ops {
		if o.kind != '+' {
			if aStart < 0 {
				aStart = o.a
			}
			aCount++
		}
		if o.kind != '-' {
			if bStart < 0 {
				bStart = o.b
			}
			bCount++
		}
	}
	// An empty side names the line before the hunk.
	if aStart < 0 {
		aStart = ops[0].a
	} else {
		aStart++
	}
	if bStart < 0 {
		bStart = ops[0].b
	} else {
		bStart++
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aStart, aCount), hunkRange(bStart, bCount))
	for _, o := range ops {
		line := ""
		switch o.kind {
		case '+':
			line = b[o.b]
		default:
			line = a[o.a]
		}
		w.WriteByte(o.kind)
		w.WriteString(line)
		if len(line) == 0 || line[len(line)-1] != '\n' {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(start, count int) string {
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}

// maxEditDistance bounds the work of diffLines; beyond it the rest of the
// files is shown as replaced, which is correct if not minimal.
const maxEditDistance = 2000

// diffLines returns the edit script from a to b: Myers' O(ND) algorithm
// after trimming the common prefix and suffix. ' ' and '-' ops carry the
// index in a, '+' ops the index in b; every op carries both positions.
func diffLines(a, b []string) []diffOp {
	ids := map[string]int{}
	id := func(ls []string) []int {
		out := make([]int, len(ls))
		for i, l := range ls {
			v, ok := ids[l]
			if !ok {
				v = len(ids)
				ids[l] = v
			}
			out[i] = v
		}
		return out
	}
	x, y := id(a), id(b)
	var ops []diffOp
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		ops = append(ops, diffOp{' ', pre, pre})
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	ops = append(ops, myers(x[pre:len(x)-suf], y[pre:len(y)-suf], pre, pre)...)
	for i := suf; i > 0; i-- {
		ops = append(ops, diffOp{' ', len(x) - i, len(y) - i})
	}
	return ops
}

func myers(x, y []int, xoff, yoff int) []diffOp {
	n, m := len(x), len(y)
	replace := func() []diffOp {
		ops := make([]diffOp, 0, n+m)
		for i := range n {
			ops = append(ops, diffOp{'-', xoff + i, yoff})
		}
		for j := range m {
			ops = append(ops, diffOp{'+', xoff + n, yoff + j})
		}
		return ops
	}
	if n == 0 || m == 0 {
		return replace()
	}
	maxD := min(n+m, maxEditDistance)
	off := maxD + 1
	v := make([]int, 2*off+1) // v[off+k]: furthest x on diagonal k
	// trace[d] is v[-d-1..d+1] before step d.
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				px = v[off+k+1]
			} else {
				px = v[off+k-1] + 1
			}
			py := px - k
			for px < n && py < m && x[px] == y[py] {
				px++
				py++
			}
			v[off+k] = px
			if px >= n && py >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		return replace()
	}
	var rev []diffOp
	px, py := n, m
	for d := found; d > 0; d-- {
		w := trace[d]
		at := func(k int) int { return w[k+d+1] }
		k := px - py
		pk := k - 1
		if k == -d || k != d && at(k-1) < at(k+1) {
			pk = k + 1
		}
		sx := at(pk)
		sy := sx - pk
		// The snake after the move ends at (px, py).
		mx, my := sx+1, sy
		if pk == k+1 {
			mx, my = sx, sy+1
		}
		for px > mx && py > my {
			px--
			py--
			rev = append(rev, diffOp{' ', xoff + px, yoff + py})
		}
		if pk == k+1 {
			rev = append(rev, diffOp{'+', xoff + sx, yoff + sy})
		} else {
			rev = append(rev, diffOp{'-', xoff + sx, yoff + sy})
		}
		px, py = sx, sy
	}
	for px > 0 && py > 0 {
		px--
		py--
		rev = append(rev, diffOp{' ', xoff + px, yoff + py})
	}
	ops := make([]diffOp, len(rev))
	for i, o := range rev {
		ops[len(rev)-1-i] = o
	}
	return ops
}
