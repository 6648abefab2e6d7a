#!/usr/bin/env bash
# make demo: slipway's main job end to end, offline, on built-in defaults.
#
# Starts a throwaway registry on 127.0.0.1, seeds it with base images made
# on this machine (busybox from Debian, the local Go toolchain), makes a
# throwaway signing key, runs `slipway release` on a copy of
# examples/hello (build with a private buildkitd, push, sign, bump), shows
# the manifest diff and verifies the signature with the cosign CLI. Stops
# everything it started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${BIN:-$ROOT/bin}"
WORK="$(mktemp -d /tmp/slipway-demo.XXXXXX)"
REG_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 20000))
  if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "demo: no free port found" >&2; exit 1; }
REG="localhost:$PORT"

say "starting a throwaway registry on $REG"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
YAML
"$BIN/registry" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
  port_free "$PORT" || break
  sleep 0.05
done

say "seeding base images made on this machine (busybox-static, the local Go toolchain)"
(cd "$ROOT" && go run ./internal/seed/cmd/seed -registry "$REG") >"$WORK/seed.out"
BUSYBOX="$(sed -n 1p "$WORK/seed.out")"
GOLANG="$(sed -n 2p "$WORK/seed.out")"
echo "  $BUSYBOX" >&2
echo "  $GOLANG" >&2

say "copying examples/hello into a fresh git repository"
cp -r "$ROOT/examples/hello" "$WORK/hello"
cd "$WORK/hello"
# The example's manifests name localhost:5000, where its images usually
# go; point them at this run's registry, as a real project's already are.
sed -i "s#localhost:5000/demo#$REG/demo#g" deploy/*.yaml

say "slipway keygen (a throwaway cosign key pair; cosign.pub is committed, cosign.key is ignored)"
export COSIGN_PASSWORD=demo
"$BIN/slipway" keygen
git init -q -b main
git add -A
git -c user.name=demo -c user.email=demo@example.com commit -q -m "hello"
git tag v1.0.0

say "slipway tags"
export REGISTRY="$REG" GO_IMAGE="$GOLANG" BASE_IMAGE="$BUSYBOX" VERSION=1.0.0
"$BIN/slipway" tags

say "slipway release --dry-run (the plan and the manifest diff; nothing is built or written)"
"$BIN/slipway" release --dry-run

say "slipway release"
"$BIN/slipway" release --progress "${PROGRESS:-plain}" --report "$WORK/report.json"

say "the manifest diff (git diff)"
git --no-pager diff

say "cosign verify (the cosign CLI, public key only)"
DIGEST="$(grep -m1 '"digest"' "$WORK/report.json" | sed 's/.*"\(sha256:[0-9a-f]*\)".*/\1/')"
# Offline, cosign warns that it cannot reach the public trust root; keep
# its output for when verification fails.
if ! "$BIN/cosign" verify --key cosign.pub --insecure-ignore-tlog --allow-insecure-registry \
  "$REG/demo/hello@$DIGEST" >"$WORK/cosign.out" 2>&1; then
  cat "$WORK/cosign.out" >&2
  exit 1
fi
echo "Verified OK: $REG/demo/hello@$DIGEST" >&2

say "done: built, pushed, signed, bumped and verified; stopping the registry"
