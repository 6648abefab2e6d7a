#!/usr/bin/env bash
# Bump benchmark: 2,000 generated manifest files (a Deployment with an init
# container, the app and a sidecar, plus a Service; about 8 MB), the app's
# image set to a new tag by
#
#   slipway bump --set REPO=REF DIR -o -
#   kubectl set image --local -f DIR -o yaml web=REF     (the anchor)
#
# in the same run. Both read every file and print the result on stdout, so
# -o - is the like-for-like comparison (kubectl cannot write files back).
# kubectl exits 1 on this input because the Services have no pod template;
# it still prints every Deployment, which is checked. slipway's in-place
# bump (read, rewrite and replace all 2,000 files) is timed as well, for
# information. Best of N runs each, the order alternating; target: slipway
# <= 0.2 x kubectl. No anchor when kubectl is not installed: then only
# slipway's times are printed.
#
# Env: BIN (folder holding slipway), WORK (scratch folder); optional N (runs
# per measure, default 5), FILES (default 2000), KUBECTL (default: kubectl
# on PATH; set but empty: measure without the anchor).
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

s_times=()
k_times=()
for i in $(seq "$N"); do
	if [ -z "$KUBECTL" ]; then
		s_times+=("$(time_slipway)")
	elif ((i % 2)); then
		s_times+=("$(time_slipway)")
		k_times+=("$(time_kubectl)")
	else
		k_times+=("$(time_kubectl)")
		s_times+=("$(time_slipway)")
	fi
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)

# In place: each run sets another tag, so each rewrites every file.
p_times=()
for i in $(seq "$N"); do
	t0=$(now_ns)
	if ! "$SLIPWAY" bump --set "$REPO=$REPO:3.0.$i" "$DIR" >/dev/null 2>"$WORK/slipway.err"; then
		echo "bump bench: slipway (in place) failed:" >&2
		cat "$WORK/slipway.err" >&2
		exit 1
	fi
	p_times+=("$(ms_since "$t0")")
done
p_best=$(printf '%s\n' "${p_times[@]}" | best)

echo "bump of $FILES files ($size), best of $N:"
if [ -n "$KUBECTL" ]; then
	k_best=$(printf '%s\n' "${k_times[@]}" | best)
	kv=$("$KUBECTL" version --client 2>/dev/null | head -n1 || true)
	echo "  slipway bump --set ... -o -: ${s_best} ms; kubectl set image --local -o yaml: ${k_best} ms ($kv); ratio $(ratio "$s_best" "$k_best") (target <= 0.2)"
	echo "  kubectl runs: ${k_times[*]}"
else
	echo "  slipway bump --set ... -o -: ${s_best} ms; kubectl is not available: no anchor, no ratio (target <= 0.2 x kubectl)"
fi
echo "  slipway runs: ${s_times[*]}"
echo "  slipway bump --set ... in place ($FILES files replaced): ${p_best} ms (runs: ${p_times[*]})"
