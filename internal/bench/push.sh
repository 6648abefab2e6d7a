#!/usr/bin/env bash
# Push benchmark: a ~600 MB two-layer image (300 MiB random, 300 MiB
# compressible, plain tar layers so every byte crosses the wire) pushed from
# an OCI layout to a fresh repository of a loopback distribution registry,
# `slipway push` against `crane push` (and `skopeo copy` when installed) of
# the same layout in the same run; then a no-op re-push; then a 2 GiB
# single-layer image, timed with its peak RSS. Each push gets a new, empty
# registry.
#
# The layout is written as slipway's store is: its index entry carries the
# image name "app" (org.opencontainers.image.ref.name), so slipway pushes it
# with `slipway push --store LAYOUT -f PROJECT/slipway.yaml`, the project
# naming the registry and the tag; crane pushes the same folder.
#
# Env: BIN (folder with slipway, registry and crane), WORK (scratch folder);
# optional ROUNDS (5), BIG_MB (2048), BIG_ROUNDS (1; each round pushes the
# big image once with each tool, so 3 gives a median at about 15 s a round).
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway, registry and crane}"
: "${WORK:?WORK must name a scratch folder}"
cd "$(dirname "$0")/../.."
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
ROUNDS="${ROUNDS:-5}"
BIG_MB="${BIG_MB:-2048}"
BIG_ROUNDS="${BIG_ROUNDS:-1}"

for tool in slipway registry crane; do
  [ -x "$BIN/$tool" ] || { echo "push bench: $BIN/$tool is missing (make tools)" >&2; exit 1; }
done
go build -o "$WORK/mkimage" ./internal/bench/mkimage

REG=""
REG_PID=""
start_registry() {
  local dir="$WORK/registry" port=""
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
  REG="127.0.0.1:$port"
  for _ in $(seq 400); do
    if curl -fsS "http://$REG/v2/" >/dev/null 2>&1; then return 0; fi
    sleep 0.025
  done
  echo "push bench: the registry did not start:" >&2
  cat "$dir/log" >&2
  exit 1
}
stop_registry() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=""
  fi
  rm -rf "$WORK/registry"
}
trap stop_registry EXIT

# ms CMD...: run CMD quietly, print its wall time in milliseconds.
ms() {
  local t0 t1
  t0=$(date +%s%N)
  if ! "$@" >/dev/null 2>"$WORK/last.err"; then
    echo "push bench: failed: $*" >&2
    cat "$WORK/last.err" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

# project DIR REGISTRY: a slipway project in DIR that pushes the image "app"
# to REGISTRY/app:bench. The tag is fixed, so no git repository is needed.
project() {
  mkdir -p "$1"
  cat >"$1/slipway.yaml" <<EOF
registry: $2
tags: [bench]
images:
  - name: app
EOF
}

# slipway_push LAYOUT PROJECT: push the store LAYOUT as PROJECT says.
slipway_push() {
  "$BIN/slipway" push --progress quiet --store "$1" -f "$2/slipway.yaml"
}

# median of the numbers given
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { awk -v m="$1" 'BEGIN {printf "%.2f s", m/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# peak_kb CMD...: run CMD, print its peak resident set in KiB.
peak_kb() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" >/dev/null 2>"$WORK/time.out" || { cat "$WORK/time.out" >&2; exit 1; }
    awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/time.out"
    return
  fi
  # No GNU time: sample the kernel's high-water mark until the process ends.
  "$@" >/dev/null 2>"$WORK/time.out" &
  local pid=$! hwm=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
    sleep 0.02
  done
  wait "$pid" || { cat "$WORK/time.out" >&2; exit 1; }
  echo "$hwm"
}

echo "building the 600 MB image..."
LAYOUT="$WORK/layout"
rm -rf "$LAYOUT"
"$WORK/mkimage" -out "$LAYOUT" -name app -random-mb 300 -compressible-mb 300 >/dev/null
cat "$LAYOUT"/blobs/sha256/* >/dev/null # warm the page cache for every tool alike
SKOPEO=""
if command -v skopeo >/dev/null 2>&1; then SKOPEO=skopeo; fi

crane_ms=() slip_ms=() skopeo_ms=() noop_ms=() crane_noop_ms=()
for round in $(seq "$ROUNDS"); do
  # Alternate who goes first.
  order="crane slipway"
  if [ $((round % 2)) -eq 0 ]; then order="slipway crane"; fi
  for tool in $order; do
    start_registry
    case $tool in
    crane)
      crane_ms+=("$(ms "$BIN/crane" push "$LAYOUT" "$REG/run$round/app:bench")")
      crane_noop_ms+=("$(ms "$BIN/crane" push "$LAYOUT" "$REG/run$round/app:bench")")
      ;;
    slipway)
      project "$WORK/project-$round" "$REG/run$round"
      slip_ms+=("$(ms slipway_push "$LAYOUT" "$WORK/project-$round")")
      noop_ms+=("$(ms slipway_push "$LAYOUT" "$WORK/project-$round")")
      ;;
    esac
    stop_registry
  done
  if [ -n "$SKOPEO" ]; then
    start_registry
    skopeo_ms+=("$(ms skopeo copy --dest-tls-verify=false "oci:$LAYOUT" "docker://$REG/run$round/app:bench")")
    stop_registry
  fi
done

c=$(median "${crane_ms[@]}")
s=$(median "${slip_ms[@]}")
n=$(median "${noop_ms[@]}")
cn=$(median "${crane_noop_ms[@]}")
echo "push of a 600 MB image to a fresh repository (median of $ROUNDS):"
echo "  crane push   $(secs "$c")   [${crane_ms[*]} ms]"
echo "  slipway      $(secs "$s")   [${slip_ms[*]} ms]   $(ratio "$s" "$c") x crane (target <= 1.0)"
if [ -n "$SKOPEO" ]; then
  k=$(median "${skopeo_ms[@]}")
  echo "  skopeo copy  $(secs "$k")   [${skopeo_ms[*]} ms]   slipway is $(ratio "$s" "$k") x skopeo"
else
  echo "  skopeo copy  not installed"
fi
echo "no-op re-push: slipway ${n} ms [${noop_ms[*]}]; crane ${cn} ms [${crane_noop_ms[*]}]; $(ratio "$n" "$cn") x crane (target <= 2.0)"

echo "building a ${BIG_MB} MiB single-layer image..."
rm -rf "$LAYOUT"
BIG="$WORK/big"
rm -rf "$BIG"
"$WORK/mkimage" -out "$BIG" -name app -random-mb "$BIG_MB" -compressible-mb 0 >/dev/null
cat "$BIG"/blobs/sha256/* >/dev/null
# Each tool pushes the big image BIG_ROUNDS times, alternating who goes
# first, each time to a new registry, timed and with its peak RSS.
big_crane_ms=() big_slip_ms=() big_crane_kb=() big_slip_kb=()
for round in $(seq "$BIG_ROUNDS"); do
  order="slipway crane"
  if [ $((round % 2)) -eq 0 ]; then order="crane slipway"; fi
  for tool in $order; do
    start_registry
    t0=$(date +%s%N)
    case $tool in
    crane)
      big_crane_kb+=("$(peak_kb "$BIN/crane" push "$BIG" "$REG/big/app:bench")")
      big_crane_ms+=($((($(date +%s%N) - t0) / 1000000)))
      ;;
    slipway)
      project "$WORK/project-big" "$REG/big"
      big_slip_kb+=("$(peak_kb "$BIN/slipway" push --progress quiet --store "$BIG" -f "$WORK/project-big/slipway.yaml")")
      big_slip_ms+=($((($(date +%s%N) - t0) / 1000000)))
      ;;
    esac
    stop_registry
  done
done
rm -rf "$BIG"
bc=$(median "${big_crane_ms[@]}")
bs=$(median "${big_slip_ms[@]}")
echo "push of one ${BIG_MB} MiB layer (median of $BIG_ROUNDS):"
echo "  crane push   $(secs "$bc")   [${big_crane_ms[*]} ms]"
echo "  slipway      $(secs "$bs")   [${big_slip_ms[*]} ms]   $(ratio "$bs" "$bc") x crane (target <= 1.0)"
sk=$(printf '%s\n' "${big_slip_kb[@]}" | sort -n | tail -1)
ck=$(printf '%s\n' "${big_crane_kb[@]}" | sort -n | tail -1)
echo "peak RSS pushing a ${BIG_MB} MiB layer: slipway $((sk / 1024)) MiB (target <= 40 MB); crane $((ck / 1024)) MiB"
