#!/usr/bin/env bash
# Benchmarks of the builder, each against its anchor run in the same invocation:
#
#  1. spawn-to-ready of the private buildkitd: builder.Connect (start, wait
#     until it lists its workers) vs a buildkitd started by the shell and
#     polled with `buildctl debug workers`, as buildctl-daemonless.sh does;
#  2. `slipway build` (BIN/slipway, given the daemon with --buildkit-host)
#     vs `buildctl build` of the same Dockerfile on the same warm daemon,
#     both exporting an OCI layout (tar=false), after the same one-file
#     edit. slipway builds a project made here: a slipway.yaml with one
#     image whose context is the benchmark's, a fixed tag (no git), and
#     --store in the scratch folder.
#
# Best of N runs each, printed with the ratio (target: within 5%).
# Env: BIN (folder with slipway, buildkitd and buildctl; default <repo>/bin),
#      WORK (scratch folder; default a new temp folder, removed at the end),
#      N (runs per measure; default 7), MB (context size; default 32).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$repo/bin}
N=${N:-7}
MB=${MB:-32}
own_work=0
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/slipway-bench-build.XXXXXX)
	own_work=1
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

for p in slipway buildkitd buildctl; do
	if [ ! -x "$BIN/$p" ]; then
		echo "build.sh: $BIN/$p missing (run make tools)" >&2
		exit 1
	fi
done
if ! command -v runc >/dev/null; then
	echo "build.sh: runc missing (apt-get install -y runc)" >&2
	exit 1
fi

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$own_work" = 1 ]; then
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

now_ns() { date +%s%N; }

# min of the numbers on stdin
best() { sort -g | head -n1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo "building bench programs..." >&2
(cd "$repo" && go build -o "$WORK/daemonready" ./internal/bench/daemonready)

# --- 1. spawn-to-ready ------------------------------------------------------
# Both start buildkitd on a root that has been used once (as a cache root
# is), so neither pays for first-time setup.
ready_root="$WORK/ready-root"
anchor_root="$WORK/anchor-root"
"$WORK/daemonready" -n 1 -root "$ready_root" -buildkitd "$BIN/buildkitd" >/dev/null

anchor_ready_ms() {
	local sockdir start pid t
	sockdir=$(mktemp -d /tmp/bench-bk.XXXXXX)
	start=$(now_ns)
	"$BIN/buildkitd" --root "$anchor_root" --addr "unix://$sockdir/buildkitd.sock" \
		--oci-worker=true --containerd-worker=false >"$sockdir/log" 2>&1 &
	pid=$!
	until "$BIN/buildctl" --addr "unix://$sockdir/buildkitd.sock" debug workers >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$sockdir/log" >&2
			return 1
		fi
		sleep 0.005
	done
	t=$(( ($(now_ns) - start) / 1000 ))
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	rm -rf "$sockdir"
	awk -v us="$t" 'BEGIN { printf "%.1f\n", us / 1000 }'
}
anchor_ready_ms >/dev/null

anchor_times=()
for _ in $(seq "$N"); do
	anchor_times+=("$(anchor_ready_ms)")
done
anchor_best=$(printf '%s\n' "${anchor_times[@]}" | best)
ours=$("$WORK/daemonready" -n "$N" -root "$ready_root" -buildkitd "$BIN/buildkitd")
ours_best=$(sed -n 's/.*ready_best_ms=\([0-9.]*\).*/\1/p' <<<"$ours")
echo "daemon spawn-to-ready (best of $N): builder.Connect ${ours_best} ms, shell+buildctl ${anchor_best} ms, ratio $(ratio "$ours_best" "$anchor_best")  [$ours]"

# --- 2. build vs buildctl on one warm daemon ----------------------------------
sockdir=$(mktemp -d /tmp/bench-bk.XXXXXX)
addr="unix://$sockdir/buildkitd.sock"
"$BIN/buildkitd" --root "$WORK/build-root" --addr "$addr" \
	--oci-worker=true --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
pids+=($!)
until "$BIN/buildctl" --addr "$addr" debug workers >/dev/null 2>&1; do sleep 0.01; done

ctx="$WORK/context"
mkdir -p "$ctx/data"
# MB of incompressible data in 1 MB files, and a file each run edits; the
# edit comes first in the Dockerfile, so every edit rebuilds, compresses and
# exports the data layer as well.
for i in $(seq "$MB"); do
	head -c 1048576 /dev/urandom >"$ctx/data/blob$i"
done
cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY edit.txt /edit.txt
COPY data/ /data/
EOF
proj="$WORK/project"
mkdir -p "$proj"
cat >"$proj/slipway.yaml" <<EOF
registry: localhost:5000/bench
tags: [bench]
images:
  - name: app
    context: $ctx
EOF

# Each tool's stderr goes to its log; a failing run shows the log and
# stops the benchmark (rather than being timed).
run_buildctl() {
	(cd "$ctx" && "$BIN/buildctl" --addr "$addr" build --progress quiet \
		--frontend dockerfile.v0 --local context=. --local dockerfile=. \
		--output "type=oci,dest=$WORK/buildctl-out,tar=false" 2>>"$WORK/buildctl.log") ||
		{ tail -n 20 "$WORK/buildctl.log" >&2; return 1; }
}
run_ours() {
	(cd "$ctx" && "$BIN/slipway" build --progress quiet --buildkit-host "$addr" \
		--store "$WORK/store" -f "$proj/slipway.yaml" >/dev/null 2>>"$WORK/slipway.log") ||
		{ tail -n 20 "$WORK/slipway.log" >&2; return 1; }
}
timed_ms() {
	local start
	start=$(now_ns)
	"$@" || return 1
	awk -v us="$(( ($(now_ns) - start) / 1000 ))" 'BEGIN { printf "%.1f\n", us / 1000 }'
}

# Warm up: both tools once, so that the daemon has the context and layers.
echo 0 >"$ctx/edit.txt"
run_buildctl
run_ours

ctl_times=()
our_times=()
for i in $(seq "$N"); do
	# Each run gets an edit of its own, so each does the full work; which
	# tool goes first alternates.
	if ((i % 2)); then
		echo "ctl-$i" >"$ctx/edit.txt"
		ctl_times+=("$(timed_ms run_buildctl)")
		echo "ours-$i" >"$ctx/edit.txt"
		our_times+=("$(timed_ms run_ours)")
	else
		echo "ours-$i" >"$ctx/edit.txt"
		our_times+=("$(timed_ms run_ours)")
		echo "ctl-$i" >"$ctx/edit.txt"
		ctl_times+=("$(timed_ms run_buildctl)")
	fi
done
ctl_best=$(printf '%s\n' "${ctl_times[@]}" | best)
our_best=$(printf '%s\n' "${our_times[@]}" | best)
echo "build after an edit (rebuilds a ${MB} MB layer) (best of $N): slipway build ${our_best} ms, buildctl ${ctl_best} ms, ratio $(ratio "$our_best" "$ctl_best") (target <= 1.05)"
echo "  slipway runs:  ${our_times[*]}"
echo "  buildctl runs: ${ctl_times[*]}"

# Fully cached rebuild: the context is as the last run left it.
ctl_times=()
our_times=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		ctl_times+=("$(timed_ms run_buildctl)")
		our_times+=("$(timed_ms run_ours)")
	else
		our_times+=("$(timed_ms run_ours)")
		ctl_times+=("$(timed_ms run_buildctl)")
	fi
done
ctl_best=$(printf '%s\n' "${ctl_times[@]}" | best)
our_best=$(printf '%s\n' "${our_times[@]}" | best)
echo "cached rebuild (best of $N): slipway build ${our_best} ms, buildctl ${ctl_best} ms, ratio $(ratio "$our_best" "$ctl_best") (target <= 1.05)"
rm -rf "$sockdir"
