#!/usr/bin/env bash
# make bench: every benchmark, each printed as a ratio against the anchor
# tool (buildctl, crane, skopeo, kubectl, cosign) measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export BIN="${BIN:-$PWD/bin}"
export PATH="$BIN:$PATH"
WORK="$(mktemp -d /tmp/slipway-bench.XXXXXX)"
export WORK
trap 'rm -rf "$WORK"' EXIT
status=0
for b in build push bump release promote verify lint skip scan; do
  script="internal/bench/$b.sh"
  [ -f "$script" ] || continue
  echo "== $b"
  mkdir -p "$WORK/$b"
  if ! WORK="$WORK/$b" bash "$script"; then
    echo "bench $b failed" >&2
    status=1
  fi
done
exit $status
