#!/usr/bin/env bash
# hack/vm/build-image.sh [--force]: builds (once) and caches the Debian 12 guest that
# `npm run test:vm` boots: systemd as PID 1, cgroup v2 unified, Debian's kernel, and every
# package nori and its tests need, so that each run only copies the checkout in.
#
# Everything comes from Debian (debootstrap from the same mirror apt uses) and from the npm
# registry (Node 20, through hack/install-node.sh, run inside the new root). Output, outside
# the repository, in $NORI_VM_CACHE (default /var/cache/nori-vm):
#   base.img         raw ext4 root filesystem (sparse, 8 GiB); runs boot a qcow2 overlay of it
#   vmlinuz, initrd  the guest's own kernel and initramfs, for qemu's direct kernel boot
#   .stamp           hash of this script, the guest files and setup.sh's package lists
# A run whose stamp matches does nothing. Takes ~5-10 minutes on this machine.
set -Eeuo pipefail
umask 022
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NORI_VM_CACHE:-/var/cache/nori-vm}
MIRROR=${NORI_VM_MIRROR:-http://deb.debian.org/debian}
FORCE=0
[ "${1:-}" = --force ] && FORCE=1
[ "$(id -u)" = 0 ] || { echo "build-image.sh: run as root (debootstrap, chroot)" >&2; exit 1; }

# The packages hack/setup.sh installs (runtime and test lists): read from it so the image follows it.
setup_pkgs() {
	# shellcheck disable=SC1090
	( eval "$(sed -n '/^PKGS=(/,/)/p; /^TEST_PKGS=(/,/)/p' "$ROOT/hack/setup.sh")"; echo "${PKGS[@]}" "${TEST_PKGS[@]}" )
}
# What a systemd node is made of, plus what the guest runner uses.
BASE_PKGS=(systemd-sysv udev linux-image-amd64 initramfs-tools kmod iproute2 procps dbus
	ca-certificates systemd-timesyncd e2fsprogs less nftables curl git)
read -r -a NORI_PKGS <<<"$(setup_pkgs)"
ALL_PKGS=("${BASE_PKGS[@]}" "${NORI_PKGS[@]}")

# The stamp leaves setup.sh's lists out: a package added there later is installed by setup.sh
# inside the guest (through the NAT); --force folds it into the image.
stamp=$( { cat "$0" "$HERE/guest/"* "$ROOT/hack/install-node.sh"; echo "${BASE_PKGS[*]}"; } | sha256sum | cut -c1-16)
if [ "$FORCE" = 0 ] && [ -f "$CACHE/.stamp" ] && [ "$(cat "$CACHE/.stamp")" = "$stamp" ] &&
	[ -f "$CACHE/base.img" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd" ]; then
	echo "== guest image is current ($CACHE/base.img)"
	exit 0
fi

for t in debootstrap mkfs.ext4; do
	command -v "$t" >/dev/null || { echo "== installing debootstrap"; apt-get install -y -qq --no-install-recommends debootstrap e2fsprogs >/dev/null; break; }
done

mkdir -p "$CACHE"
R=$CACHE/rootfs.build
cleanup() {
	for m in "$R/dev/pts" "$R/dev" "$R/proc" "$R/sys"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
	return 0
}
trap cleanup EXIT
cleanup
start=$(date +%s)
# A root that debootstrap finished (an earlier build stopped later on) is reused: the install
# below brings its packages up to the list.
if [ ! -f "$R/.debootstrapped" ]; then
	rm -rf "$R"
	echo "== debootstrap bookworm (minbase + ${#ALL_PKGS[@]} packages) into $R"
	debootstrap --variant=minbase --include="$(IFS=,; echo "${ALL_PKGS[*]}")" bookworm "$R" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -30 "$CACHE/debootstrap.log" >&2; exit 1; }
	touch "$R/.debootstrapped"
	echo "== debootstrap done in $(( $(date +%s) - start )) s"
fi

mount -t proc proc "$R/proc"
mount -t sysfs sys "$R/sys"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
cp /etc/resolv.conf "$R/etc/resolv.conf"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

# The host's own CA certificates (update-ca-certificates' local dir): the guest reaches the same
# mirrors through the same network, e.g. a TLS-inspecting proxy the host trusts.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	install -d "$R/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
	in_root update-ca-certificates >/dev/null 2>&1
fi
echo "== packages: ${#ALL_PKGS[@]} (what debootstrap did not bring yet)"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "${ALL_PKGS[@]}" >"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log" >&2; exit 1; }

echo "== Node 20 (hack/install-node.sh inside the guest root)"
install -m 0755 "$ROOT/hack/install-node.sh" "$R/tmp/install-node.sh"
in_root /tmp/install-node.sh
in_root npm config set --location=global cafile /etc/ssl/certs/ca-certificates.crt >/dev/null
rm -f "$R/tmp/install-node.sh"

echo "== guest configuration"
echo nori-vm >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nori-vm\n' >"$R/etc/hosts"
printf '/dev/vda / ext4 rw,discard,errors=remount-ro 0 1\n' >"$R/etc/fstab"
# qemu's user network: DHCP from 10.0.2.2, DNS at 10.0.2.3.
install -d "$R/etc/systemd/network"
printf '[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n' >"$R/etc/systemd/network/20-wired.network"
printf 'nameserver 10.0.2.3\n' >"$R/etc/resolv.conf"
in_root systemctl enable systemd-networkd.service >/dev/null 2>&1
# The serial getty hangs up anything else writing to ttyS0; the runner owns the console.
in_root systemctl mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1
in_root passwd -d root >/dev/null
install -m 0755 "$HERE/guest/nori-vm-run" "$R/usr/local/sbin/nori-vm-run"
install -m 0644 "$HERE/guest/nori-vm-run.service" "$R/etc/systemd/system/nori-vm-run.service"
in_root systemctl enable nori-vm-run.service >/dev/null 2>&1
# The test images (OCI layouts) are built from Debian's busybox inside the guest by setup.sh;
# the .deb they start from is fetched here once.
if [ -d /var/cache/nori-test-images/debs ]; then
	install -d "$R/var/cache/nori-test-images"
	cp -a /var/cache/nori-test-images/debs "$R/var/cache/nori-test-images/"
fi
in_root apt-get clean
rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/"*.bin

cp "$R/boot/"vmlinuz-* "$CACHE/vmlinuz.new"
cp "$R/boot/"initrd.img-* "$CACHE/initrd.new"
cleanup
echo "== mkfs.ext4 -d (8 GiB sparse)"
rm -f "$CACHE/base.img.new"
truncate -s 8G "$CACHE/base.img.new"
mkfs.ext4 -q -F -L nori-vm -d "$R" "$CACHE/base.img.new"
mv "$CACHE/base.img.new" "$CACHE/base.img"
mv "$CACHE/vmlinuz.new" "$CACHE/vmlinuz"
mv "$CACHE/initrd.new" "$CACHE/initrd"
rm -rf "$R"
echo "$stamp" >"$CACHE/.stamp"
echo "== guest image built in $(( $(date +%s) - start )) s: $CACHE/base.img"
