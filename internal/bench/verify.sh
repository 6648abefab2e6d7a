#!/usr/bin/env bash
# Verify benchmark: 200 manifest files naming 50 distinct images (tags) of a
# loopback distribution registry,
#
#   slipway verify DIR                                  (every check)
#   for each distinct ref: crane digest REF; crane manifest REF   (the anchor)
#
# in the same run: the shell loop people write today, which does less (no
# platform, pinning or pull-policy check). Best of N runs each, the order
# alternating; target: slipway <= 0.3 x the loop.
#
# Env: BIN (folder with slipway, registry and crane), WORK (scratch folder);
# optional N (runs per measure, default 5), IMAGES (50), FILES (200).
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway, registry and crane}"
: "${WORK:?WORK must name a scratch folder}"
cd "$(dirname "$0")/../.."
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-5}"
IMAGES="${IMAGES:-50}"
FILES="${FILES:-200}"
for tool in slipway registry crane; do
  [ -x "$BIN/$tool" ] || { echo "verify bench: $BIN/$tool is missing (make tools)" >&2; exit 1; }
done

REG_PID=""
dir="$WORK/registry"
rm -rf "$dir" && mkdir -p "$dir"
for _ in $(seq 50); do
  port=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
done
cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
EOF
"$BIN/registry" serve "$dir/config.yml" >"$dir/log" 2>&1 &
REG_PID=$!
trap 'kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true' EXIT
REG="127.0.0.1:$port"
for _ in $(seq 400); do
  curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break
  sleep 0.025
done

# 50 small linux/amd64 images, one repository each.
go run ./internal/bench/mkimage -out "$WORK/layout" -random-mb 0 -compressible-mb 1 >/dev/null
refs=()
for i in $(seq "$IMAGES"); do
  ref="$REG/bench/app$i:1.0.$i"
  "$BIN/crane" push "$WORK/layout" "$ref" >/dev/null 2>"$WORK/push.err" || { cat "$WORK/push.err" >&2; exit 1; }
  refs+=("$ref")
done

# 200 Deployments, each naming one of the images (4 files per image).
M="$WORK/manifests"
rm -rf "$M" && mkdir -p "$M"
for f in $(seq "$FILES"); do
  ref="${refs[$(((f - 1) % IMAGES))]}"
  cat >"$M/app$f.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app$f
spec:
  template:
    spec:
      containers:
      - name: app
        image: $ref
        imagePullPolicy: Always
EOF
done

now_ns() { date +%s%N; }
best() { sort -g | head -n1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
ms_since() { awk -v ns="$(($(now_ns) - $1))" 'BEGIN { printf "%.1f\n", ns / 1e6 }'; }

# slipway exits 0: tags without digest are warnings.
run_slipway() { (cd "$WORK" && "$BIN/slipway" verify ${VERIFY_FLAGS:-} "$M") >"$WORK/slipway.out" 2>"$WORK/slipway.err"; }
run_loop() {
  local r
  for r in "${refs[@]}"; do
    "$BIN/crane" digest "$r" >/dev/null && "$BIN/crane" manifest "$r" >/dev/null || return 1
  done
}
time_it() {
  local t0
  t0=$(now_ns)
  if ! "$@"; then
    echo "verify bench: $1 failed:" >&2
    cat "$WORK/slipway.err" >&2 2>/dev/null || true
    exit 1
  fi
  ms_since "$t0"
}

# Warm up and check that slipway saw every use of every image.
run_slipway || { cat "$WORK/slipway.err" >&2; exit 1; }
got=$(grep -c ": warning pinned:" "$WORK/slipway.out" || true)
if [ "$got" != "$FILES" ]; then
  echo "verify bench: slipway reported $got findings, want $FILES" >&2
  cat "$WORK/slipway.err" >&2
  exit 1
fi
grep -q "$IMAGES images: 0 ok, $IMAGES warnings, 0 errors" "$WORK/slipway.err" || { cat "$WORK/slipway.err" >&2; exit 1; }
run_loop

s_times=()
c_times=()
for i in $(seq "$N"); do
  if ((i % 2)); then
    s_times+=("$(time_it run_slipway)")
    c_times+=("$(time_it run_loop)")
  else
    c_times+=("$(time_it run_loop)")
    s_times+=("$(time_it run_slipway)")
  fi
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)
c_best=$(printf '%s\n' "${c_times[@]}" | best)
echo "verify of $FILES manifests naming $IMAGES images, best of $N:"
echo "  slipway verify DIR: ${s_best} ms; crane digest + crane manifest loop: ${c_best} ms; ratio $(ratio "$s_best" "$c_best") (target <= 0.3)"
echo "  slipway runs: ${s_times[*]}"
echo "  crane runs: ${c_times[*]}"
