#!/usr/bin/env bash
# Skip benchmark: a 20-image project in which one image's context changed
# since the last release. `slipway release` (unchanged images skipped:
# their new tags go to the images the registry holds) against
# `slipway release --no-skip` (every image built and pushed), in the same
# run, on the same warm buildkitd (started here, reached through
# BUILDKIT_HOST) and registry.
#
# Before every timed run one image's context gets a new file and a commit,
# so each run has exactly one changed image. Each side runs once to warm
# up, then N times (default 3), the order alternating. Best of N each and
# the ratio skip / no-skip are printed (goal <= 0.25).
#
# Env: BIN (folder with slipway, buildkitd, buildctl, registry), WORK
# (scratch folder); optional N, IMAGES (default 20).
# Needs runc, git and curl. Stops everything it starts.
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway and the tools}"
: "${WORK:?WORK must name a scratch folder}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-3}"
IMAGES="${IMAGES:-20}"

for tool in slipway buildkitd buildctl registry; do
	[ -x "$BIN/$tool" ] || { echo "skip bench: $BIN/$tool is missing (make tools build)" >&2; exit 1; }
done
for tool in runc git curl; do
	command -v "$tool" >/dev/null || { echo "skip bench: $tool is missing" >&2; exit 1; }
done

REG_PID=""
BK_PID=""
SOCKDIR=""
stop() { # stop PID: TERM, then KILL after 10 s
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	[ -z "$BK_PID" ] || stop "$BK_PID"
	[ -z "$REG_PID" ] || stop "$REG_PID"
	[ -z "$SOCKDIR" ] || rm -rf "$SOCKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
best() { sort -g | head -n1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms_since() { awk -v ns="$(($(now_ns) - $1))" 'BEGIN { printf "%.0f\n", ns / 1e6 }'; }
fail() { # fail WHAT LOG
	echo "skip bench: $1 failed:" >&2
	tail -n 40 "$2" >&2
	exit 1
}

# --- a throwaway registry on a free loopback port ---------------------------
PORT=""
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "skip bench: no free port" >&2; exit 1; }
cat >"$WORK/registry.yml" <<EOC
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
EOC
"$BIN/registry" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 200); do
	curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || fail "the registry" "$WORK/registry.log"
	sleep 0.05
done

# --- buildkitd with a root of its own, shared by both sides ------------------
SOCKDIR="$(mktemp -d /tmp/bench-skip-bk.XXXXXX)" # short: socket paths are limited
export BUILDKIT_HOST="unix://$SOCKDIR/buildkitd.sock"
"$BIN/buildkitd" --root "$WORK/buildkit-root" --addr "$BUILDKIT_HOST" \
	--oci-worker=true --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
BK_PID=$!
until "$BIN/buildctl" --addr "$BUILDKIT_HOST" debug workers >/dev/null 2>&1; do
	kill -0 "$BK_PID" 2>/dev/null || fail "buildkitd" "$WORK/buildkitd.log"
	sleep 0.02
done

# --- the project: IMAGES images, each FROM scratch with a context of its own -
PROJ="$WORK/project"
mkdir -p "$PROJ"
{
	echo "registry: 127.0.0.1:$PORT/bench"
	echo "images:"
	for i in $(seq -w 1 "$IMAGES"); do
		echo "  - {name: img$i, context: img$i}"
	done
} >"$PROJ/slipway.yaml"
for i in $(seq -w 1 "$IMAGES"); do
	d="$PROJ/img$i"
	mkdir -p "$d/src"
	printf 'FROM scratch\nCOPY src/ /app/\n' >"$d/Dockerfile"
	for f in $(seq 1 20); do
		head -c 4096 /dev/urandom >"$d/src/file$f.bin"
	done
done
git -C "$PROJ" init -q -b main
git -C "$PROJ" add -A
git -C "$PROJ" -c user.name=bench -c user.email=bench@example.com commit -q -m project

touch_one() { # a new line in a file of img01's context, committed (runs in $(...): no counter in the shell)
	echo "change $(now_ns)" >>"$PROJ/img01/src/change.txt"
	git -C "$PROJ" add -A >/dev/null
	git -C "$PROJ" -c user.name=bench -c user.email=bench@example.com commit -q -m change >/dev/null
}
time_release() { # time_release [--no-skip]
	local t0
	touch_one
	t0=$(now_ns)
	(cd "$PROJ" && "$BIN/slipway" release --progress quiet --report "$WORK/report.json" "$@") \
		>"$WORK/release.out" 2>"$WORK/release.err" || fail "slipway release $*" "$WORK/release.err"
	ms_since "$t0"
}
count_skipped() { grep -o '"skipped": *true' "$WORK/report.json" | wc -l; }

# Warm up: the first release builds and pushes everything.
time_release --no-skip >/dev/null
time_release >/dev/null
skipped=$(count_skipped)
[ "$skipped" -eq $((IMAGES - 1)) ] || { echo "skip bench: $skipped images skipped, want $((IMAGES - 1))" >&2; exit 1; }

s_times=()
n_times=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		s_times+=("$(time_release)")
		n_times+=("$(time_release --no-skip)")
	else
		n_times+=("$(time_release --no-skip)")
		s_times+=("$(time_release)")
	fi
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)
n_best=$(printf '%s\n' "${n_times[@]}" | best)
echo "skip: $IMAGES images, one changed: release ${s_best} ms (runs: ${s_times[*]}), release --no-skip ${n_best} ms (runs: ${n_times[*]})"
echo "skip: ratio release / release --no-skip = $(ratio "$s_best" "$n_best") (goal <= 0.25)"
