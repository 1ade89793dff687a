#!/usr/bin/env bash
# hack/vm/test-vm.sh (npm run test:vm): nori's integration suites on a real cgroup v2 + systemd
# node. Builds (once, cached) a Debian 12 guest from Debian packages (hack/vm/build-image.sh),
# boots it with qemu (KVM when /dev/kvm is usable, else TCG software emulation), copies this
# checkout in on a second disk, and inside runs `hack/setup.sh --test` and then the suites of
# hack/vm/in-guest.sh once with the cgroupfs driver and once with the systemd driver (plus
# critest when CRITEST names a binary). Results come back on a 9p share; the guest console is
# echoed here. The last line is "N passed, N failed, N skipped" over both drivers.
#
# Env: NORI_VM_CACHE (default /var/cache/nori-vm), NORI_VM_MEM (MiB, default 4096),
#      NORI_VM_CPUS (default 2), NORI_VM_EXTRA_SUITES (run once with the systemd driver; "" for none), NORI_VM_SUITES (space-separated dist/ globs, overrides the list
#      in in-guest.sh), NORI_VM_DRIVERS (default "cgroupfs systemd"), CRITEST (a critest binary),
#      CRITEST_FOCUS (ginkgo focus regexp; default Container, Security Context, PodSandbox,
#      Streaming), CRITEST_REGISTRY (host:port of a registry with critest's images, default
#      127.0.0.1:5000), CRITEST_TIMEOUT (seconds, default 1500), NORI_TEST_TIMEOUT_SCALE (default 10), NORI_VM_TIMEOUT (seconds, default 3300),
#      NORI_VM_ACCEL (kvm|tcg, default: kvm when the CPU has vmx/svm and /dev/kvm is usable),
#      NORI_VM_KEEP=1 keeps the run directory.
# The whole script is one compound command: bash reads it all before running, so editing this
# file while a run is going cannot change what that run does.
{
set -Eeuo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${NORI_VM_CACHE:-/var/cache/nori-vm}
t0=$(date +%s)
say() { echo "== [test:vm +$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "test:vm: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, loop-free image builds, qemu)"

if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-img >/dev/null; then
	say "installing qemu (Debian's qemu-system-x86, qemu-utils)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null; } ||
		fail "cannot install qemu-system-x86"
fi
"$HERE/build-image.sh" || fail "guest image build failed"

RUN=$(mktemp -d /var/tmp/nori-vm-run.XXXXXX)
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	if [ "${NORI_VM_KEEP:-0}" = 1 ]; then echo "test:vm: run directory kept: $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
mkdir -p "$RUN/src" "$RUN/results"

say "copying the checkout (tracked and untracked files, node_modules, and the build: setup.sh inside rebuilds only what is stale)"
(cd "$ROOT" && git ls-files -z -co --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$RUN/src")
# node_modules and the build: under emulation npm ci and the build would take most of the hour.
# Same Debian, glibc and Node 20 ABI inside, so they run as they are.
for d in node_modules dist native/build; do
	[ -d "$ROOT/$d" ] && mkdir -p "$RUN/src/$(dirname "$d")" && cp -a "$ROOT/$d" "$RUN/src/$d"
done
# setup.sh runs npm ci when package-lock.json is newer than node_modules/.package-lock.json: a
# fresh checkout or worktree (new mtimes) trips that even when node_modules matches the lock, and
# npm ci under TCG takes most of the run. When every locked package is installed at its locked
# version and integrity, mark the copy's node_modules current; otherwise the guest runs npm ci.
if [ -f "$RUN/src/node_modules/.package-lock.json" ] && node -e '
	const fs = require("fs");
	const lock = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).packages;
	const have = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).packages;
	const stale = Object.keys(lock).filter((k) => k !== "" && !(lock[k].optional && !have[k]) &&
		(!have[k] || have[k].version !== lock[k].version || have[k].integrity !== lock[k].integrity));
	process.exit(stale.length === 0 ? 0 : 1);' "$ROOT/package-lock.json" "$RUN/src/node_modules/.package-lock.json"; then
	touch "$RUN/src/node_modules/.package-lock.json"
fi
# What the guest should run: read by in-guest.sh.
{
	[ -n "${NORI_VM_SUITES:-}" ] && printf 'NORI_VM_SUITES=%q\n' "$NORI_VM_SUITES"
	[ -n "${NORI_VM_DRIVERS:-}" ] && printf 'NORI_VM_DRIVERS=%q\n' "$NORI_VM_DRIVERS"
	[ -n "${NORI_VM_EXTRA_SUITES+x}" ] && printf 'NORI_VM_EXTRA_SUITES=%q\n' "$NORI_VM_EXTRA_SUITES"
	[ -n "${CRITEST_FOCUS:-}" ] && printf 'CRITEST_FOCUS=%q\n' "$CRITEST_FOCUS"
	[ -n "${CRITEST_REGISTRY:-}" ] && printf 'CRITEST_REGISTRY=%q\n' "$CRITEST_REGISTRY"
	[ -n "${CRITEST_TIMEOUT:-}" ] && printf 'CRITEST_TIMEOUT=%q\n' "$CRITEST_TIMEOUT"
	[ -n "${NORI_TEST_TIMEOUT_SCALE:-}" ] && printf 'NORI_TEST_TIMEOUT_SCALE=%q\n' "$NORI_TEST_TIMEOUT_SCALE"
	true
} >"$RUN/src/.vm-run.env"
if [ -n "${CRITEST:-}" ]; then
	[ -x "$CRITEST" ] || fail "CRITEST=$CRITEST is not an executable"
	mkdir -p "$RUN/src/.vm-tools"
	cp "$CRITEST" "$RUN/src/.vm-tools/critest"
fi
size_mb=$(( $(du -sm "$RUN/src" | cut -f1) + 2048 ))
truncate -s "${size_mb}M" "$RUN/checkout.img"
mkfs.ext4 -q -F -L nori-src -d "$RUN/src" "$RUN/checkout.img"
rm -rf "$RUN/src"
qemu-img create -q -f qcow2 -b "$CACHE/base.img" -F raw "$RUN/root.qcow2"

# KVM only with hardware virtualization (vmx/svm): a /dev/kvm without it (e.g. a paravirtual
# "kvm-pvm" module in a cloud VM) cannot boot a stock Debian kernel. NORI_VM_ACCEL overrides.
accel=tcg cpu=max
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm cpu=host; fi
case "${NORI_VM_ACCEL:-}" in kvm) accel=kvm cpu=host ;; tcg) accel=tcg cpu=max ;; esac
say "booting the guest (accel $accel, ${NORI_VM_CPUS:-2} CPUs, ${NORI_VM_MEM:-4096} MiB)"
touch "$RUN/console.log"
timeout "${NORI_VM_TIMEOUT:-3300}" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" \
	-m "${NORI_VM_MEM:-4096}" -smp "${NORI_VM_CPUS:-2}" -display none -monitor none -no-reboot \
	-serial "file:$RUN/console.log" \
	-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd" \
	-append "root=/dev/vda rw console=ttyS0 quiet loglevel=3 systemd.show_status=false systemd.unified_cgroup_hierarchy=1 panic=-1" \
	-drive "file=$RUN/root.qcow2,if=virtio,format=qcow2,cache=unsafe" \
	-drive "file=$RUN/checkout.img,if=virtio,format=raw,cache=unsafe" \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
	-virtfs "local,path=$RUN/results,mount_tag=results,security_model=none,id=results" \
	</dev/null >"$RUN/qemu.err" 2>&1 &
QEMU_PID=$!
# The guest console, live (its runner writes to ttyS0).
tail -n +1 -f --pid="$QEMU_PID" "$RUN/console.log" | sed -u 's/\r$//'
wait "$QEMU_PID" || true
QEMU_PID=
R=$RUN/results
finished=1
[ -f "$R/rc" ] || { finished=0; cat "$RUN/qemu.err" >&2; echo "test:vm: the guest did not finish (timeout or boot failure; see the console above)" >&2; }

passed=0 failed=0 skipped=0
for f in "$R"/counts-*.json; do
	[ -f "$f" ] || continue
	read -r p fl s < <(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(c.passed,c.failed,c.skipped)' "$f")
	say "$(basename "$f" .json | sed 's/^counts-//'): $p passed, $fl failed, $s skipped"
	passed=$((passed + p)) failed=$((failed + fl)) skipped=$((skipped + s))
done
[ -f "$R/guest-info" ] && say "guest: $(cat "$R/guest-info")"
if [ "${NORI_VM_KEEP:-0}" = 1 ]; then say "logs: $R"; fi
{ [ "$finished" = 1 ] && [ "$(cat "$R/rc")" = 0 ]; } || failed=$((failed > 0 ? failed : 1))
[ $((passed + failed)) -gt 0 ] || failed=1
say "total $(( $(date +%s) - t0 )) s (accel $accel)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
exit
}
