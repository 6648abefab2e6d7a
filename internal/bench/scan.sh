#!/usr/bin/env bash
# Scan benchmark: `slipway scan` of the examples' images (examples/hello and
# examples/multi: hello, api for linux/amd64 and linux/arm64, worker), built
# into their stores here, against `trivy image --input` run by hand on the
# same platform images with the same flags and the same offline database,
# in the same run. The hand runs get their one-image OCI layouts prepared
# in advance (untimed); slipway makes its own in each run.
#
# Each side runs once to warm up, then N times (default 5), the order
# alternating. Best of N each and the ratio slipway / trivy are printed
# (target <= 1.1).
#
# Env: BIN (folder with slipway, trivy, buildkitd, buildctl, registry),
# WORK (scratch folder); optional N. Needs runc and curl.
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway and the tools}"
: "${WORK:?WORK must name a scratch folder}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-5}"

for tool in slipway trivy buildkitd buildctl registry; do
	[ -x "$BIN/$tool" ] || { echo "scan bench: $BIN/$tool is missing (make tools bin/trivy build)" >&2; exit 1; }
done
for tool in runc curl; do
	command -v "$tool" >/dev/null || { echo "scan bench: $tool is missing" >&2; exit 1; }
done

REG_PID=""
BK_PID=""
SOCKDIR=""
stop() {
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
fail() {
	echo "scan bench: $1 failed:" >&2
	tail -n 40 "$2" >&2
	exit 1
}

# --- a registry for the seeded base images, and a buildkitd ------------------
PORT=""
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "scan bench: no free port" >&2; exit 1; }
REG="localhost:$PORT"
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
YAML
"$BIN/registry" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 200); do
	curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || fail "the registry" "$WORK/registry.log"
	sleep 0.05
done
SOCKDIR="$(mktemp -d /tmp/bench-scan-bk.XXXXXX)"
export BUILDKIT_HOST="unix://$SOCKDIR/buildkitd.sock"
"$BIN/buildkitd" --root "$WORK/buildkit-root" --addr "$BUILDKIT_HOST" \
	--oci-worker=true --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
BK_PID=$!
until "$BIN/buildctl" --addr "$BUILDKIT_HOST" debug workers >/dev/null 2>&1; do
	kill -0 "$BK_PID" 2>/dev/null || fail "buildkitd" "$WORK/buildkitd.log"
	sleep 0.02
done
go run ./internal/seed/cmd/seed -registry "$REG" >"$WORK/seed.out" 2>"$WORK/seed.err" || fail "seeding" "$WORK/seed.err"
export REGISTRY="$REG" BASE_IMAGE="$(sed -n 1p "$WORK/seed.out")" GO_IMAGE="$(sed -n 2p "$WORK/seed.out")" VERSION=1.0.0
go run ./internal/bench/trivydb "$WORK/trivy-db" 2>"$WORK/trivydb.err" || fail "writing the database" "$WORK/trivydb.err"

# --- the examples, built, with scan: set -------------------------------------
for ex in hello multi; do
	rm -rf "${WORK:?}/$ex"
	cp -r "examples/$ex" "$WORK/$ex"
	printf '\nscan: {db: %s}\n' "$WORK/trivy-db" >>"$WORK/$ex/slipway.yaml"
	(
		cd "$WORK/$ex"
		git init -q -b main
		git add -A
		git -c user.name=bench -c user.email=bench@example.com commit -q -m "$ex"
		"$BIN/slipway" build --progress quiet
	) >"$WORK/build-$ex.log" 2>&1 || fail "slipway build of $ex" "$WORK/build-$ex.log"
done

# --- the hand runs' layouts: one per platform image, as slipway makes them ---
LAYOUTS=()
for ex in hello multi; do
	(cd "$WORK/$ex" && "$BIN/slipway" scan --format json --progress quiet) >"$WORK/scan-$ex.json" 2>"$WORK/scan-$ex.err" || fail "slipway scan of $ex" "$WORK/scan-$ex.err"
	for d in $(grep -o '"digest": "sha256:[0-9a-f]*"' "$WORK/scan-$ex.json" | grep -o 'sha256:[0-9a-f]*'); do
		hex=${d#sha256:}
		l="$WORK/layouts/$hex"
		mkdir -p "$l"
		printf '{"imageLayoutVersion":"1.0.0"}' >"$l/oci-layout"
		size=$(stat -c %s "$WORK/$ex/.slipway/store/blobs/sha256/$hex")
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}]}' "$d" "$size" >"$l/index.json"
		ln -sfn "$WORK/$ex/.slipway/store/blobs" "$l/blobs"
		LAYOUTS+=("$l")
	done
done
[ "${#LAYOUTS[@]}" -eq 4 ] || { echo "scan bench: ${#LAYOUTS[@]} platform images, want 4" >&2; exit 1; }

run_slipway() {
	local ex
	for ex in hello multi; do
		(cd "$WORK/$ex" && "$BIN/slipway" scan --progress quiet) >"$WORK/slipway.out" 2>"$WORK/slipway.err" || return 1
	done
}
run_trivy() {
	local l
	for l in "${LAYOUTS[@]}"; do
		"$BIN/trivy" image --input "$l" --format json --list-all-pkgs --output "$l/report.json" \
			--scanners vuln --quiet --no-progress --offline-scan --cache-backend memory \
			--skip-java-db-update --cache-dir "$WORK/trivy-db" --skip-db-update >"$WORK/trivy.log" 2>&1 || return 1
	done
}
time_slipway() {
	local t0
	t0=$(now_ns)
	run_slipway || fail "slipway scan" "$WORK/slipway.err"
	ms_since "$t0"
}
time_trivy() {
	local t0
	t0=$(now_ns)
	run_trivy || fail "trivy image --input" "$WORK/trivy.log"
	ms_since "$t0"
}

time_slipway >/dev/null
time_trivy >/dev/null
s_times=()
t_times=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		s_times+=("$(time_slipway)")
		t_times+=("$(time_trivy)")
	else
		t_times+=("$(time_trivy)")
		s_times+=("$(time_slipway)")
	fi
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)
t_best=$(printf '%s\n' "${t_times[@]}" | best)
echo "scan of the examples' 4 platform images (offline database), best of $N:"
echo "  slipway scan: ${s_best} ms; trivy image --input by hand: ${t_best} ms; ratio $(ratio "$s_best" "$t_best") (target <= 1.1)"
echo "  slipway runs: ${s_times[*]}"
echo "  trivy runs:   ${t_times[*]}"
