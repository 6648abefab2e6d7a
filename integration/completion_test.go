package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-build/slipway/internal/testenv"
)

// completionProject is a folder with a slipway.yaml of two images, a
// manifest folder and PATH holding the binary under its own name (the
// scripts register completion for "slipway").
func completionProject(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	cfg := "registry: registry.example.com/team\nimages:\n  - name: web\n  - name: worker\n"
	if err := os.WriteFile(filepath.Join(dir, "slipway.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "web.yaml"), []byte("kind: Pod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(testenv.Slipway(t), filepath.Join(bin, "slipway")); err != nil {
		t.Fatal(err)
	}
	return dir, bin + string(os.PathListSeparator) + os.Getenv("PATH")
}

// TestCompletionBash loads the script into bash, finds the function that
// `complete -p slipway` registered and calls it the way readline does,
// with COMP_WORDS split at bash's word breaks.
func TestCompletionBash(t *testing.T) {
	dir, path := completionProject(t)
	script := `
source <(slipway completion bash) || exit 3
spec=$(complete -p slipway) || exit 4
fn=${spec#*-F }; fn=${fn%% *}
comp() { # LINE WORD...: the line to the cursor, and bash's words of it
    COMP_LINE=$1; COMP_POINT=${#1}; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    COMPREPLY=()
    "$fn" slipway "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s|' "${COMPREPLY[@]}"; echo
}
echo "spec=$spec"
comp 'slipway rel' slipway rel
comp 'slipway ' slipway ''
comp 'slipway release --pi' slipway release --pi
comp 'slipway release --pin ' slipway release --pin ''
comp 'slipway --progress=r' slipway --progress = r
comp 'slipway --progress=' slipway --progress =
comp 'slipway build ' slipway build ''
comp 'slipway build web w' slipway build web w
comp 'slipway bump dep' slipway bump dep
comp 'slipway completion ' slipway completion ''
`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"spec=complete -F _slipway slipway",
		"release|",
		"", // every command: checked below
		"--pin|",
		"tag|digest|tag+digest|",
		"rawjson|",
		"=auto|=tty|=plain|=rawjson|=quiet|",
		"web|worker|",
		"worker|",
		"deploy|",
		"bash|zsh|fish|",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if i == 2 {
			// Every command `slipway help` lists, whoever added it.
			help, err := exec.Command(testenv.Slipway(t), "help").Output()
			if err != nil {
				t.Fatal(err)
			}
			_, list, _ := strings.Cut(string(help), "Commands:\n")
			list, _, _ = strings.Cut(list, "\n\n")
			n := 0
			for _, l := range strings.Split(list, "\n") {
				if f := strings.Fields(l); len(f) > 0 {
					n++
					if !strings.Contains("|"+lines[i], "|"+f[0]+"|") {
						t.Errorf("commands %q lack %q", lines[i], f[0])
					}
				}
			}
			if n < 10 {
				t.Errorf("help lists only %d commands:\n%s", n, help)
			}
			continue
		}
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

// TestCompletionFish asks fish's own completion engine (complete -C).
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		if testenv.Required() {
			t.Fatal("fish not installed (tools/system-packages.sh installs it)")
		}
		t.Skip("fish not installed")
	}
	dir, path := completionProject(t)
	check := func(line string, want ...string) {
		t.Helper()
		cmd := exec.Command("fish", "--no-config", "-c", "slipway completion fish | source; complete -C "+shellQuote(line))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			v, _, _ := strings.Cut(l, "\t")
			got = append(got, v)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("complete -C %q = %q, want %q", line, got, want)
		}
	}
	check("slipway rel", "release")
	check("slipway release --pin t", "tag", "tag+digest")
	check("slipway --progress=r", "--progress=rawjson")
	check("slipway build ", "web", "worker")
	check("slipway bump dep", "deploy/")
	check("slipway completion f", "fish")
}

// TestCompletionZsh types into an interactive zsh in tmux and reads the
// screen: compinit, the script, then TAB. (tmux trims the spaces that
// end a line, so the screen shows no space after a completed word.)
func TestCompletionZsh(t *testing.T) {
	for _, p := range []string{"zsh", "tmux"} {
		if _, err := exec.LookPath(p); err != nil {
			if testenv.Required() {
				t.Fatalf("%s not installed (tools/system-packages.sh installs it)", p)
			}
			t.Skip(p + " not installed")
		}
	}
	dir, path := completionProject(t)
	home := t.TempDir()
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("tmux", append([]string{"-S", sock}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+path, "HOME="+home, "ZDOTDIR="+home, "TERM=xterm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-x", "160", "-y", "40", "zsh", "-f")
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
	// waitFor polls the screen until it shows want (the shell answers
	// asynchronously); a bounded number of tries, not a timing assertion.
	waitFor := func(want string) {
		t.Helper()
		var screen string
		for i := 0; i < 100; i++ {
			screen = tmux("capture-pane", "-p")
			if strings.Contains(screen, want) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("screen never showed %q:\n%s", want, screen)
	}
	tmux("send-keys", "PS1='%% '; autoload -Uz compinit && compinit -u -D && source <(slipway completion zsh) && echo LOADED", "Enter")
	waitFor("\nLOADED")
	type step struct{ typed, want string }
	for _, s := range []step{
		{"slipway rel\t", "% slipway release"},
		{"slipway release --pin tag+\t", "% slipway release --pin tag+digest"},
		{"slipway build wor\t", "% slipway build worker"},
		{"slipway --progress=raw\t", "% slipway --progress=rawjson"},
		{"slipway bump dep\t", "% slipway bump deploy/"},
	} {
		tmux("send-keys", "-l", s.typed)
		waitFor(s.want)
		tmux("send-keys", "C-u")
	}
	tmux("send-keys", "-l", "slipway completion \t")
	waitFor("bash")
	waitFor("fish")
	tmux("send-keys", "C-u")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
