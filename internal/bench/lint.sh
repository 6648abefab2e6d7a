#!/usr/bin/env bash
# Lint benchmark: slipway lint over both examples (three Dockerfiles with
# BuildKit's checks and slipway's rules, plus their manifests), no daemon
# running, against the anchor
#
#   buildctl build --frontend dockerfile.v0 --opt requestid=frontend.lint
#
# for the same three Dockerfiles on a running buildkitd (warm: one call
# first), in the same run. The anchor's base images are set to scratch
# through build arguments, as nothing may be pulled here. When that call
# does not work, the anchor is the in-process floor instead (BuildKit's
# linter called directly, internal/bench/lintfloor), and the line says so.
# Best of N runs each; target: slipway well under a second, and no slower
# than the daemon's lint.
#
# Env: BIN (folder with slipway, buildkitd, buildctl), WORK (scratch
# folder); optional N (default 5).
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway}"
: "${WORK:?WORK must name a scratch folder}"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo="$PWD"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-5}"
SLIPWAY="$BIN/slipway"
[ -x "$SLIPWAY" ] || { echo "lint bench: $SLIPWAY is missing (make build)" >&2; exit 1; }

now_ns() { date +%s%N; }
best() { sort -g | head -n1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms_since() { awk -v ns="$(($(now_ns) - $1))" 'BEGIN { printf "%.1f\n", ns / 1e6 }'; }

dockerfiles=(examples/hello examples/multi/api examples/multi/worker)

run_slipway() {
	for ex in examples/hello examples/multi; do
		# exit 1 would be a finding at error: the examples have none.
		(cd "$ex" && "$SLIPWAY" lint >/dev/null 2>"$WORK/slipway.err") || { cat "$WORK/slipway.err" >&2; return 1; }
	done
}

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "${sockdir:-}"
}
trap cleanup EXIT

anchor=""
if [ -x "$BIN/buildkitd" ] && [ -x "$BIN/buildctl" ] && command -v runc >/dev/null; then
	sockdir=$(mktemp -d /tmp/bench-lint.XXXXXX)
	addr="unix://$sockdir/buildkitd.sock"
	"$BIN/buildkitd" --root "$WORK/root" --addr "$addr" --oci-worker=true --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 500); do "$BIN/buildctl" --addr "$addr" debug workers >/dev/null 2>&1 && break; sleep 0.01; done
	run_buildctl() {
		for d in "${dockerfiles[@]}"; do
			"$BIN/buildctl" --addr "$addr" build --frontend dockerfile.v0 \
				--local context="$d" --local dockerfile="$d" \
				--opt build-arg:GO_IMAGE=scratch --opt build-arg:BASE_IMAGE=scratch \
				--opt requestid=frontend.lint >"$WORK/buildctl.out" 2>"$WORK/buildctl.err" || return 1
		done
	}
	if run_buildctl; then
		anchor="buildctl frontend.lint (running daemon)"
	else
		echo "lint bench: buildctl frontend.lint did not work, measuring against the in-process floor:" >&2
		head -5 "$WORK/buildctl.err" >&2
	fi
fi
if [ -z "$anchor" ]; then
	go build -o "$WORK/lintfloor" ./internal/bench/lintfloor
	anchor="in-process floor (BuildKit's linter called directly)"
fi

run_slipway || { echo "lint bench: slipway lint failed" >&2; exit 1; }
ours=() theirs=()
for i in $(seq "$N"); do
	t0=$(now_ns); run_slipway; ours+=("$(ms_since "$t0")")
	if [ -x "$WORK/lintfloor" ]; then
		theirs+=("$("$WORK/lintfloor" -n 1 "${dockerfiles[@]/%//Dockerfile}")")
	else
		t0=$(now_ns); run_buildctl; theirs+=("$(ms_since "$t0")")
	fi
done
o=$(printf '%s\n' "${ours[@]}" | best)
a=$(printf '%s\n' "${theirs[@]}" | best)
echo "lint of both examples, 3 Dockerfiles + manifests (best of $N): slipway lint ${o} ms (no daemon), $anchor ${a} ms, ratio $(ratio "$o" "$a") (target: slipway < 1000 ms)"
echo "  slipway runs: ${ours[*]}"
echo "  anchor runs:  ${theirs[*]}"
