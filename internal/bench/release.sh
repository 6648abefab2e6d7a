#!/usr/bin/env bash
# Release benchmark: `slipway release` of a copy of examples/hello against
# the hand-run chain it replaces, in the same run, on the same warm
# buildkitd (started here, reached through BUILDKIT_HOST by both):
#
#   git rev-parse --short HEAD                    (the commit tag)
#   buildctl build --frontend dockerfile.v0 ... \
#     --output type=image,"name=REF,...",push=true,registry.insecure=true
#   cosign sign --key cosign.key --tlog-upload=false --allow-insecure-registry -y REPO@DIGEST
#   kubectl set image --local -f deploy/deployment.yaml -o yaml hello=REF@DIGEST
#
# Both push the same three tags and sign the same way; the chain pushes to
# a repository of its own (demo/hello-chain) so that neither side's runs
# move the other's tags. kubectl cannot read the kustomization in deploy/
# (it fails on the whole folder), so the chain bumps deployment.yaml only,
# where slipway also sets the kustomization's images: entry. Without
# kubectl the chain stops after cosign, and that is said.
#
# Each side runs once to warm up, then N times (default 3), the order
# alternating; between slipway runs deploy/ is restored (git checkout), so
# every run bumps 0.0.0 to the new reference. Best of N each and the ratio
# slipway / chain are printed (target <= 1.0).
#
# Env: BIN (folder with slipway, buildkitd, buildctl, registry, cosign),
# WORK (scratch folder); optional N, KUBECTL (default: kubectl on PATH;
# set but empty: the chain without kubectl).
# Needs runc, git and curl. Stops everything it starts.
set -euo pipefail
: "${BIN:?BIN must name the folder holding slipway and the tools}"
: "${WORK:?WORK must name a scratch folder}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
N="${N:-3}"
KUBECTL="${KUBECTL-$(command -v kubectl || true)}"

for tool in slipway buildkitd buildctl registry cosign; do
	[ -x "$BIN/$tool" ] || { echo "release bench: $BIN/$tool is missing (make tools build)" >&2; exit 1; }
done
for tool in runc git curl; do
	command -v "$tool" >/dev/null || { echo "release bench: $tool is missing" >&2; exit 1; }
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
	echo "release bench: $1 failed:" >&2
	tail -n 40 "$2" >&2
	exit 1
}

# --- a throwaway registry on a free loopback port ---------------------------
PORT=""
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "release bench: no free port" >&2; exit 1; }
REG="localhost:$PORT"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
EOF
"$BIN/registry" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 200); do
	curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
	kill -0 "$REG_PID" 2>/dev/null || fail "the registry" "$WORK/registry.log"
	sleep 0.05
done

# --- buildkitd with a root of its own, shared by both sides ------------------
SOCKDIR="$(mktemp -d /tmp/bench-release-bk.XXXXXX)" # short: socket paths are limited
export BUILDKIT_HOST="unix://$SOCKDIR/buildkitd.sock"
"$BIN/buildkitd" --root "$WORK/buildkit-root" --addr "$BUILDKIT_HOST" \
	--oci-worker=true --containerd-worker=false >"$WORK/buildkitd.log" 2>&1 &
BK_PID=$!
until "$BIN/buildctl" --addr "$BUILDKIT_HOST" debug workers >/dev/null 2>&1; do
	kill -0 "$BK_PID" 2>/dev/null || fail "buildkitd" "$WORK/buildkitd.log"
	sleep 0.02
done

# --- base images, the project, a key -----------------------------------------
go run ./internal/seed/cmd/seed -registry "$REG" >"$WORK/seed.out" 2>"$WORK/seed.err" || fail "seeding" "$WORK/seed.err"
BUSYBOX="$(sed -n 1p "$WORK/seed.out")"
GOLANG="$(sed -n 2p "$WORK/seed.out")"

HELLO="$WORK/hello"
rm -rf "$HELLO"
cp -r examples/hello "$HELLO"
sed -i "s#localhost:5000/demo#$REG/demo#g" "$HELLO"/deploy/*.yaml
export COSIGN_PASSWORD=bench REGISTRY="$REG" GO_IMAGE="$GOLANG" BASE_IMAGE="$BUSYBOX" VERSION=1.0.0
(
	cd "$HELLO"
	"$BIN/slipway" keygen >/dev/null
	git init -q -b main
	git add -A
	git -c user.name=bench -c user.email=bench@example.com commit -q -m hello
	git tag v1.0.0
)

# The chain pushes the tags slipway plans, to its own repository; the
# commit tag's length is taken from slipway's plan, the commit itself is
# looked up in each run as a script would.
(cd "$HELLO" && "$BIN/slipway" tags --progress quiet) >"$WORK/tags.out" 2>"$WORK/tags.err" || fail "slipway tags" "$WORK/tags.err"
COMMIT="$(git -C "$HELLO" rev-parse HEAD)"
SHORT_LEN=""
OTHER_TAGS=()
while read -r ref; do
	tag="${ref##*:}"
	if [ "$tag" = "${COMMIT:0:${#tag}}" ] && [ -z "$SHORT_LEN" ]; then
		SHORT_LEN=${#tag}
	else
		OTHER_TAGS+=("$tag")
	fi
done < <(grep -o "$REG/demo/hello:[^ ]*" "$WORK/tags.out")
[ -n "$SHORT_LEN" ] || { echo "release bench: no commit tag in slipway tags:" >&2; cat "$WORK/tags.out" >&2; exit 1; }
CHAIN_REPO="$REG/demo/hello-chain"

run_slipway() {
	(cd "$HELLO" && "$BIN/slipway" release --progress quiet) >"$WORK/slipway.out" 2>"$WORK/slipway.err"
}
run_chain() {
	local short names digest t epoch
	short="$(git -C "$HELLO" rev-parse --short="$SHORT_LEN" HEAD)"
	names="$CHAIN_REPO:$short"
	for t in "${OTHER_TAGS[@]}"; do names="$names,$CHAIN_REPO:$t"; done
	# The same reproducible image slipway makes: file times clamped to the
	# commit time (SOURCE_DATE_EPOCH with rewrite-timestamp).
	epoch="$(git -C "$HELLO" log -1 --format=%ct)"
	"$BIN/buildctl" --addr "$BUILDKIT_HOST" build --progress quiet \
		--frontend dockerfile.v0 --local context="$HELLO" --local dockerfile="$HELLO" \
		--opt build-arg:GO_IMAGE="$GOLANG" --opt build-arg:BASE_IMAGE="$BUSYBOX" --opt build-arg:VERSION=1.0.0 \
		--opt build-arg:SOURCE_DATE_EPOCH="$epoch" \
		--output "type=image,\"name=$names\",push=true,registry.insecure=true,rewrite-timestamp=true" \
		--metadata-file "$WORK/chain-meta.json" >"$WORK/chain.log" 2>&1 || return 1
	digest="$(grep -o '"containerimage.digest": *"sha256:[0-9a-f]*"' "$WORK/chain-meta.json" | grep -o 'sha256:[0-9a-f]*')"
	[ -n "$digest" ] || { echo "no digest in buildctl's metadata" >>"$WORK/chain.log"; return 1; }
	"$BIN/cosign" sign --key "$HELLO/cosign.key" --tlog-upload=false --allow-insecure-registry -y \
		"$CHAIN_REPO@$digest" >>"$WORK/chain.log" 2>&1 || return 1
	if [ -n "$KUBECTL" ]; then
		"$KUBECTL" set image --local -f "$HELLO/deploy/deployment.yaml" -o yaml \
			"hello=$CHAIN_REPO:$short@$digest" >"$WORK/chain-deployment.yaml" 2>>"$WORK/chain.log" || return 1
	fi
}
time_slipway() {
	local t0
	git -C "$HELLO" checkout -q -- deploy
	t0=$(now_ns)
	run_slipway || fail "slipway release" "$WORK/slipway.err"
	ms_since "$t0"
}
time_chain() {
	local t0
	t0=$(now_ns)
	run_chain || fail "the hand-run chain" "$WORK/chain.log"
	ms_since "$t0"
}

# Warm up: the first run builds from nothing and pushes every blob; the
# chain's then shares the daemon's cache.
cold_s=$(time_slipway)
git -C "$HELLO" diff --quiet -- deploy && { echo "release bench: slipway release left deploy/ as it was" >&2; exit 1; }
cold_c=$(time_chain)
if [ -n "$KUBECTL" ] && ! grep -q "image: $CHAIN_REPO:.*@sha256:" "$WORK/chain-deployment.yaml"; then
	echo "release bench: kubectl did not set the image:" >&2
	cat "$WORK/chain-deployment.yaml" >&2
	exit 1
fi

s_times=()
c_times=()
for i in $(seq "$N"); do
	if ((i % 2)); then
		s_times+=("$(time_slipway)")
		c_times+=("$(time_chain)")
	else
		c_times+=("$(time_chain)")
		s_times+=("$(time_slipway)")
	fi
done
s_best=$(printf '%s\n' "${s_times[@]}" | best)
c_best=$(printf '%s\n' "${c_times[@]}" | best)

chain_desc="buildctl build+push, cosign sign, kubectl set image"
if [ -z "$KUBECTL" ]; then
	chain_desc="buildctl build+push, cosign sign (kubectl is not available: the chain has no bump step)"
fi
echo "release of examples/hello on a warm buildkitd, best of $N:"
echo "  slipway release: ${s_best} ms; chain ($chain_desc): ${c_best} ms; ratio $(ratio "$s_best" "$c_best") (target <= 1.0)"
echo "  slipway runs: ${s_times[*]} (first, cold: $cold_s)"
echo "  chain runs:   ${c_times[*]} (first: $cold_c)"
