#!/bin/bash
# hack/vm/in-guest.sh: what `npm run test:vm` runs inside its guest, as root, from the copy of
# the checkout at /nori, with results written to /results (the host's 9p share). It runs the
# README's set-up command, then the suites below once per cgroup driver, then critest when the
# host passed one in (.vm-tools/critest). The guest is ~10x slower at starting processes than
# the host and ~15x at pure CPU, so only the suites that exercise cgroups, containers,
# sandboxes, stats and streaming run here, with mocha's timeout raised for this guest only.
set -u
cd "$(dirname "$0")/../.."
R=${NORI_VM_RESULTS:-/results}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
t0=$(date +%s)
say() { echo "[guest +$(( $(date +%s) - t0 ))s] $*"; }
# shellcheck disable=SC1091
[ -f .vm-run.env ] && . ./.vm-run.env

SUITES=${NORI_VM_SUITES:-"dist/test/integration/cgroup_v2/*.test.js dist/test/integration/container/daemon.test.js dist/test/integration/sandbox/daemon.test.js dist/test/integration/stats/stats.test.js dist/test/integration/streaming/daemon.test.js"}
DRIVERS=${NORI_VM_DRIVERS:-"cgroupfs systemd"}

fstype=$(stat -fc %T /sys/fs/cgroup)
case "$fstype" in
cgroup2fs) mode="v2 (unified)" ;;
tmpfs) if [ -d /sys/fs/cgroup/unified ]; then mode="v1 (hybrid)"; else mode="v1 (legacy)"; fi ;;
*) mode="unknown ($fstype)" ;;
esac
info="kernel $(uname -r), systemd $(systemctl --version | awk 'NR==1{print $2}'), cgroup $mode, controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB"
echo "$info" >"$R/guest-info"
say "guest: $info"

say "hack/setup.sh --test (log: setup.log)"
if ! hack/setup.sh --test >"$R/setup.log" 2>&1; then
	tail -40 "$R/setup.log"
	echo '{"passed":0,"failed":1,"skipped":0}' >"$R/counts-setup.json"
	say "set-up failed"
	exit 1
fi
say "set-up done: node $(node --version), $(runc --version | head -1), conmon $(conmon --version | awk 'NR==1{print $3}')"

rc=0
for driver in $DRIVERS; do
	say "== integration suites with --cgroup-driver $driver"
	# shellcheck disable=SC2086
	NORI_TEST_CGROUP_DRIVER=$driver NORI_TEST_COUNTS="$R/counts-$driver.json" NORI_TEST_TIMEOUT_SCALE=${NORI_TEST_TIMEOUT_SCALE:-10} \
		npx --no-install mocha --config .mocharc.json --require hack/vm/mocha-timeouts.js --slow 60000 \
		--reporter test/reporter/closing-line.js $SUITES 2>&1 | tee "$R/tests-$driver.log"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	[ -f "$R/counts-$driver.json" ] || { echo '{"passed":0,"failed":1,"skipped":0}' >"$R/counts-$driver.json"; rc=1; }
	say "$driver done"
	# systemd's side of the run (scopes started and stopped, runc's and conmon's messages) for a failure's reader.
	journalctl -b --no-pager -o short-precise 2>/dev/null | tail -n 5000 >"$R/journal-$driver.log" || true
	# Nothing of the pods may be left behind between the two runs.
	left=$(find /sys/fs/cgroup -name '*nori*' -type d 2>/dev/null | grep -v 'nori-vm-run.service' | head -5)
	[ -z "$left" ] || say "cgroups left after $driver: $left"
done

# The user-namespace pods, the built-in network and the systemd unit: once, with the systemd
# driver (where most of their users are).
EXTRA=${NORI_VM_EXTRA_SUITES-"dist/test/integration/container/inside_userns.test.js dist/test/integration/network/builtin.test.js dist/test/integration/ops/service.test.js"}
if [ -n "$EXTRA" ]; then
	say "== user namespaces, built-in network, nori.service (--cgroup-driver systemd)"
	# shellcheck disable=SC2086
	NORI_TEST_CGROUP_DRIVER=systemd NORI_TEST_COUNTS="$R/counts-systemd-extra.json" NORI_TEST_TIMEOUT_SCALE=${NORI_TEST_TIMEOUT_SCALE:-10} \
		npx --no-install mocha --config .mocharc.json --require hack/vm/mocha-timeouts.js --slow 60000 \
		--reporter test/reporter/closing-line.js $EXTRA 2>&1 | tee "$R/tests-systemd-extra.log"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	[ -f "$R/counts-systemd-extra.json" ] || { echo '{"passed":0,"failed":1,"skipped":0}' >"$R/counts-systemd-extra.json"; rc=1; }
fi

if [ -x .vm-tools/critest ]; then
	hack/vm/critest-in-guest.sh "$R" || rc=1
fi
say "done"
exit $rc
