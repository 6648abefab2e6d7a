#!/usr/bin/env bash
# Promote benchmark: the ~600 MB two-layer image of the push benchmark,
# pushed to a loopback "staging" registry and signed there with cosign, then
# copied to a fresh "production" registry: `slipway promote` (image,
# signature, tags last, read back) against the chain users run today,
# `crane copy` of the digest followed by `cosign copy` (which adds the
# signatures), in the same run. Goal: slipway <= 1.0 x the chain's sum.
# Each copy gets a new, empty destination registry.
#
# Env: BIN (folder with slipway, registry, crane and cosign), WORK (scratch
# folder); optional ROUNDS (5).
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway, registry, crane and cosign}"
: "${WORK:?WORK must name a scratch folder}"
cd "$(dirname "$0")/../.."
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
ROUNDS="${ROUNDS:-5}"

for tool in slipway registry crane cosign; do
  [ -x "$BIN/$tool" ] || { echo "promote bench: $BIN/$tool is missing (make tools)" >&2; exit 1; }
done
go build -o "$WORK/mkimage" ./internal/bench/mkimage

# Registries by name: PID and address.
declare -A REG_PID REG_ADDR
start_registry() { # NAME
  local dir="$WORK/registry-$1" port=""
  rm -rf "$dir" && mkdir -p "$dir"
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  done
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$dir/data" "$port" >"$dir/config.yml"
  "$BIN/registry" serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID[$1]=$!
  REG_ADDR[$1]="127.0.0.1:$port"
  for _ in $(seq 400); do
    if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then return 0; fi
    sleep 0.025
  done
  echo "promote bench: the registry did not start:" >&2
  cat "$dir/log" >&2
  exit 1
}
stop_registry() { # NAME
  local pid="${REG_PID[$1]:-}"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    REG_PID[$1]=""
  fi
  rm -rf "$WORK/registry-$1"
}
cleanup() { for n in "${!REG_PID[@]}"; do stop_registry "$n"; done; }
trap cleanup EXIT

# ms CMD...: run CMD quietly, print its wall time in milliseconds.
ms() {
  local t0 t1
  t0=$(date +%s%N)
  if ! "$@" >/dev/null 2>"$WORK/last.err"; then
    echo "promote bench: failed: $*" >&2
    cat "$WORK/last.err" >&2
    exit 1
  fi
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { awk -v m="$1" 'BEGIN {printf "%.2f s", m/1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

export HOME="$WORK/home" DOCKER_CONFIG="$WORK/docker" COSIGN_PASSWORD=bench
mkdir -p "$HOME" "$DOCKER_CONFIG"
(cd "$WORK" && "$BIN/cosign" generate-key-pair >/dev/null 2>&1)

echo "building the 600 MB image, pushing it to staging and signing it..."
"$WORK/mkimage" -out "$WORK/layout" -random-mb 300 -compressible-mb 300 >/dev/null
start_registry staging
SRC="${REG_ADDR[staging]}/team/app"
"$BIN/crane" push "$WORK/layout" "$SRC:1.0" >/dev/null 2>&1
rm -rf "$WORK/layout"
DIGEST="$("$BIN/crane" digest "$SRC:1.0")"
"$BIN/cosign" sign --key "$WORK/cosign.key" --tlog-upload=false --allow-insecure-registry -y "$SRC@$DIGEST" >/dev/null 2>&1

slipway_promote() {
  (cd "$WORK" && "$BIN/slipway" promote --progress quiet --tag 1.0 "$SRC@$DIGEST" "$1")
}

crane_ms=() chain_ms=() slip_ms=()
for round in $(seq "$ROUNDS"); do
  order="chain slipway"
  if [ $((round % 2)) -eq 0 ]; then order="slipway chain"; fi
  for tool in $order; do
    start_registry prod
    DST="${REG_ADDR[prod]}/team/app"
    case $tool in
    chain)
      c=$(ms "$BIN/crane" copy "$SRC@$DIGEST" "$DST:1.0")
      k=$(ms "$BIN/cosign" copy --allow-insecure-registry --allow-http-registry -f "$SRC@$DIGEST" "$DST")
      crane_ms+=("$c")
      chain_ms+=("$((c + k))")
      ;;
    slipway)
      slip_ms+=("$(ms slipway_promote "$DST")")
      ;;
    esac
    # Both ends hold the image and its signature, by the same digests.
    [ "$("$BIN/crane" digest "$DST:1.0")" = "$DIGEST" ] || { echo "promote bench: $tool: wrong digest at the destination" >&2; exit 1; }
    "$BIN/crane" digest "$DST:sha256-${DIGEST#sha256:}.sig" >/dev/null
    stop_registry prod
  done
done

c=$(median "${crane_ms[@]}")
ch=$(median "${chain_ms[@]}")
s=$(median "${slip_ms[@]}")
echo "promote of a signed 600 MB image to a fresh registry (median of $ROUNDS):"
echo "  crane copy               $(secs "$c")   [${crane_ms[*]} ms]"
echo "  crane copy + cosign copy $(secs "$ch")   [${chain_ms[*]} ms]"
echo "  slipway promote          $(secs "$s")   [${slip_ms[*]} ms]   $(ratio "$s" "$ch") x the chain (target <= 1.0); $(ratio "$s" "$c") x crane copy alone"
