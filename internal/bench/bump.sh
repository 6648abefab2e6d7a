#!/usr/bin/env bash
# Bump benchmark: 2,000 generated manifest files (a Deployment with an init
# container, the app and a sidecar, plus a Service; about 8 MB), the app's
# image set to a new tag. In the same run, best of N each, the order
# alternating:
#
#   read and plan:  slipway bump --set REPO=REF DIR -o -   and   --check
#                   vs the read floor (internal/bench/floor -mode read: plain
#                   Go reading every file, setting the tag, printing it);
#                   target <= 3 x the floor. kubectl set image --local -f DIR
#                   -o yaml is the anchor too when installed (target <= 0.2 x).
#   in place:       slipway bump --set REPO=REF DIR (every file replaced)
#                   vs the write floor (floor -mode write: the same bytes
#                   written back through a temporary file and a rename, file
#                   after file); target <= 1.15 x the floor.
#
# kubectl exits 1 on this input because the Services have no pod template;
# it still prints every Deployment, which is checked. No kubectl: no ratio
# against it.
#
# Env: BIN (folder holding slipway), WORK (scratch folder); optional N (runs
# per measure, default 5), FILES (default 2000), KUBECTL (default: kubectl
# on PATH; set but empty: measure without it).
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway}"
: "${WORK:?WORK must name a scratch folder}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-5}"
FILES="${FILES:-2000}"
SLIPWAY="$BIN/slipway"
KUBECTL="${KUBECTL-$(command -v kubectl || true)}"
[ -x "$SLIPWAY" ] || { echo "bump bench: $SLIPWAY is missing (make build)" >&2; exit 1; }

REPO=registry.example.com:5000/team/web
NEW="$REPO:2.0.0"
DIR="$WORK/manifests"
rm -rf "$DIR"
go run ./internal/bench/genmanifests -n "$FILES" -o "$DIR"
FLOOR="$WORK/floor"
go build -o "$FLOOR" ./internal/bench/floor
size="$(du -sh "$DIR" | cut -f1)"

now_ns() { date +%s%N; }
# best: the least of the numbers on stdin.
best() { sort -g | head -n1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms_since() { awk -v ns="$(($(now_ns) - $1))" 'BEGIN { printf "%.1f\n", ns / 1e6 }'; }

run_slipway() { "$SLIPWAY" bump --set "$REPO=$NEW" "$DIR" -o - >"$1" 2>"$WORK/slipway.err"; }
# kubectl's exit status is 1 for the Services; what it printed is checked.
run_kubectl() { "$KUBECTL" set image --local -f "$DIR" -o yaml "web=$NEW" >"$1" 2>"$WORK/kubectl.err" || true; }

time_slipway() {
	local t0
	t0=$(now_ns)
	if ! run_slipway /dev/null; then
		echo "bump bench: slipway failed:" >&2
		cat "$WORK/slipway.err" >&2
		exit 1
	fi
	ms_since "$t0"
}
time_kubectl() {
	local t0
	t0=$(now_ns)
	run_kubectl /dev/null
	ms_since "$t0"
}

# Warm up (page cache, binaries) and check that both did the job: every
# file's app image is the new one.
check_count() {
	local got
	got=$(grep -F "$NEW" "$2" | grep -c "image:" || true)
	if [ "$got" != "$FILES" ]; then
		echo "bump bench: $1 set $got images, want $FILES" >&2
		cat "$WORK/$1.err" >&2
		exit 1
	fi
}
run_slipway "$WORK/slipway.out" || { cat "$WORK/slipway.err" >&2; exit 1; }
check_count slipway "$WORK/slipway.out"
if [ -n "$KUBECTL" ]; then
	run_kubectl "$WORK/kubectl.out"
	check_count kubectl "$WORK/kubectl.out"
fi

time_cmd() { # NAME CMD...: runs CMD, prints its milliseconds
	local t0 name=$1
	shift
	local status=0
	t0=$(now_ns)
	"$@" >/dev/null 2>"$WORK/$name.err" || status=$?
	# --check exits 1 when files are out of date: that is the job done.
	if [ "$status" -ne 0 ] && ! [ "$name" = check ] || [ "$status" -gt 1 ]; then
		echo "bump bench: $name failed:" >&2
		cat "$WORK/$name.err" >&2
		exit 1
	fi
	ms_since "$t0"
}

s_times=()
c_times=()
r_times=()
k_times=()
for i in $(seq "$N"); do
	run_order=(read slipway check)
	[ -n "$KUBECTL" ] && run_order+=(kubectl)
	if ((i % 2 == 0)); then
		# Reverse the order every other run.
		rev=()
		for ((j = ${#run_order[@]} - 1; j >= 0; j--)); do rev+=("${run_order[j]}"); done
		run_order=("${rev[@]}")
	fi
	for m in "${run_order[@]}"; do
		case $m in
		read) r_times+=("$(time_cmd read "$FLOOR" -mode read -repo "$REPO" -tag 2.0.0 "$DIR")") ;;
		slipway) s_times+=("$(time_slipway)") ;;
		check) c_times+=("$(time_cmd check "$SLIPWAY" bump --check --set "$REPO=$NEW" "$DIR")") ;;
		kubectl) k_times+=("$(time_kubectl)") ;;
		esac
	done
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)
c_best=$(printf '%s\n' "${c_times[@]}" | best)
r_best=$(printf '%s\n' "${r_times[@]}" | best)

# In place: each run sets another tag, so each rewrites every file; the
# floor does the same writes.
p_times=()
f_times=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		p_times+=("$(time_cmd inplace "$SLIPWAY" bump --set "$REPO=$REPO:3.0.$i" "$DIR")")
		f_times+=("$(time_cmd floor "$FLOOR" -mode write -repo "$REPO" -tag "4.0.$i" "$DIR")")
	else
		f_times+=("$(time_cmd floor "$FLOOR" -mode write -repo "$REPO" -tag "4.0.$i" "$DIR")")
		p_times+=("$(time_cmd inplace "$SLIPWAY" bump --set "$REPO=$REPO:3.0.$i" "$DIR")")
	fi
done
p_best=$(printf '%s\n' "${p_times[@]}" | best)
f_best=$(printf '%s\n' "${f_times[@]}" | best)
# The last run (slipway's when N is even, the floor's when odd) set its tag
# in every file.
last="4.0.$N"
((N % 2)) || last="3.0.$N"
got=$(grep -lF "$REPO:$last" "$DIR"/*.yaml | wc -l)
[ "$got" = "$FILES" ] || { echo "bump bench: $got files hold $REPO:$last after the in-place runs, want $FILES" >&2; exit 1; }

echo "bump of $FILES files ($size), best of $N:"
echo "  read and plan: slipway bump -o -: ${s_best} ms, --check: ${c_best} ms; read floor (plain Go): ${r_best} ms; ratios $(ratio "$s_best" "$r_best") and $(ratio "$c_best" "$r_best") (target <= 3)"
if [ -n "$KUBECTL" ]; then
	k_best=$(printf '%s\n' "${k_times[@]}" | best)
	kv=$("$KUBECTL" version --client 2>/dev/null | head -n1 || true)
	echo "  vs kubectl set image --local -o yaml: ${k_best} ms ($kv); ratio $(ratio "$s_best" "$k_best") (target <= 0.2)"
	echo "  kubectl runs: ${k_times[*]}"
else
	echo "  kubectl is not available: no ratio against it (target <= 0.2 x kubectl)"
fi
echo "  in place ($FILES files replaced): slipway ${p_best} ms; write floor (temp file + rename, plain Go): ${f_best} ms; ratio $(ratio "$p_best" "$f_best") (target <= 1.15)"
echo "  runs: -o - ${s_times[*]}; --check ${c_times[*]}; read floor ${r_times[*]}; in place ${p_times[*]}; write floor ${f_times[*]}"
