#!/usr/bin/env bash
# Installs the Debian packages slipway's tests and demo need, when absent:
# runc (BuildKit's OCI worker), rootlesskit and uidmap (buildkitd when not
# root), busybox-static (the offline base image), containerd (a node runtime
# that verify's verdicts are checked against), zsh, fish and tmux (the shell
# completion tests). Idempotent and quick.
set -euo pipefail
want=(runc rootlesskit uidmap busybox-static containerd zsh fish tmux)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "slipway: missing Debian packages: ${missing[*]}" >&2
  echo "hint: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
