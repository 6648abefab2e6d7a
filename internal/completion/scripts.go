package completion

import (
	"fmt"
	"strings"
)

// Shells are the shells Script writes for.
var Shells = []string{"bash", "zsh", "fish"}

// Script returns the completion script of shell for the program prog. The
// script calls the program as typed on the command line, so that
// ./bin/prog completes as well as prog in PATH.
func Script(shell, prog string) (string, error) {
	var t string
	switch shell {
	case "bash":
		t = bashScript
	case "zsh":
		t = zshScript
	case "fish":
		t = fishScript
	default:
		return "", fmt.Errorf("no completion for shell %q (want one of %s)", shell, strings.Join(Shells, ", "))
	}
	fn := "_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, prog)
	return strings.NewReplacer("PROG", prog, "FUNC", fn).Replace(t), nil
}

// bash: the words are taken from COMP_LINE up to the cursor rather than
// COMP_WORDS, which bash splits at '=' and ':' (COMP_WORDBREAKS); answers
// then lose the part before the break, which bash keeps by itself.
const bashScript = `# bash completion for PROG
# Load it for this shell with:   source <(PROG completion bash)
# or for every shell with:       PROG completion bash > /etc/bash_completion.d/PROG
FUNC() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    local line="${COMP_LINE:0:COMP_POINT}"
    local -a words
    read -ra words <<< "$line"
    if [[ ${#words[@]} -eq 0 || "$line" =~ [[:space:]]$ ]]; then
        words+=("")
    fi
    local word="${words[${#words[@]}-1]}"
    local out
    out=$("${words[0]}" completion --complete -- "${words[@]:1}" 2>/dev/null) || return 0
    COMPREPLY=()
    local directive="" value
    while IFS= read -r value; do
        case "$value" in
        :*) directive="${value#:}" ;;
        *)
            value="${value%%$'\t'*}"
            if [[ "$word" != "$cur" ]]; then
                value="${value#"${word%"$cur"}"}"
            fi
            COMPREPLY+=("$value")
            ;;
        esac
    done <<< "$out"
    case "$directive" in
    files)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
        ;;
    dirs)
        compopt -o filenames 2>/dev/null
        mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
        ;;
    esac
    return 0
}
complete -F FUNC PROG
`

const zshScript = `#compdef PROG
# zsh completion for PROG
# Load it for this shell with:   source <(PROG completion zsh)   (after compinit)
# or put it in a folder of $fpath as _PROG.
FUNC() {
    local out directive="" l
    local -a cands
    out=$("${words[1]}" completion --complete -- "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    for l in "${(@f)out}"; do
        case "$l" in
        :*) directive="${l#:}" ;;
        *$'\t'*) cands+=("${${l%%$'\t'*}//:/\\:}:${l#*$'\t'}") ;;
        *) cands+=("${l//:/\\:}") ;;
        esac
    done
    local ret=1
    if (( ${#cands} )); then
        _describe -t values PROG cands && ret=0
    fi
    case "$directive" in
    files) _files && ret=0 ;;
    dirs) _files -/ && ret=0 ;;
    esac
    return ret
}
if [[ "${funcstack[1]}" == "FUNC" ]]; then
    FUNC "$@"
else
    compdef FUNC PROG
fi
`

const fishScript = `# fish completion for PROG
# Load it for this shell with:   PROG completion fish | source
# or for every shell with:       PROG completion fish > ~/.config/fish/completions/PROG.fish
function FUNC
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l directive
    for l in ($tokens[1] completion --complete -- $tokens[2..-1] "$cur" 2>/dev/null)
        switch $l
            case ':*'
                set directive (string sub -s 2 -- $l)
            case '*'
                printf '%s\n' $l
        end
    end
    switch "$directive"
        case files
            __fish_complete_path "$cur"
        case dirs
            __fish_complete_directories "$cur"
    end
end
complete -c PROG -f -a '(FUNC)'
`
