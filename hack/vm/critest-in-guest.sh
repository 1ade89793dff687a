#!/bin/bash
# hack/vm/critest-in-guest.sh RESULTS: critest (the binary the host passed in as
# .vm-tools/critest) inside the test:vm guest, against nori started by its systemd unit
# (nori.service, Delegate=yes) with the systemd cgroup driver. critest's images come from the
# registry the host named in CRITEST_REGISTRY (host:port, reached through qemu's NAT at
# 10.0.2.2), mirrored for registry.k8s.io, gcr.io, docker.io and quay.io. Writes
# counts-critest.json and critest.log.
set -u
R=$1
cd "$(dirname "$0")/../.."
say() { echo "[guest critest] $*"; }
FOCUS=${CRITEST_FOCUS:-'Container|Security Context|PodSandbox|Streaming'}
REG=${CRITEST_REGISTRY:-127.0.0.1:5000}
REG=${REG/127.0.0.1/10.0.2.2}
REG=${REG/localhost/10.0.2.2}

install -d /etc/nori/vm
{
	echo 'unqualified-search-registries = ["docker.io"]'
	for r in registry.k8s.io gcr.io k8s.gcr.io docker.io quay.io; do
		printf '\n[[registry]]\nlocation = "%s"\n\n[[registry.mirror]]\nlocation = "%s"\ninsecure = true\n' "$r" "$REG"
	done
	printf '\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG"
} >/etc/nori/vm/registries.conf
cat >/etc/nori/nori.toml <<TOML
cgroup-driver = "systemd"
registries-conf = "/etc/nori/vm/registries.conf"
TOML
systemctl daemon-reload
if ! systemctl start nori.service; then
	journalctl -u nori --no-pager | tail -30
	echo '{"passed":0,"failed":1,"skipped":0}' >"$R/counts-critest.json"
	exit 1
fi
say "nori.service $(systemctl show -p ActiveState --value nori), cgroup $(systemctl show -p ControlGroup --value nori), Delegate=$(systemctl show -p Delegate --value nori); focus: $FOCUS; registry $REG"
.vm-tools/critest --version | head -2
(cd /tmp && timeout "${CRITEST_TIMEOUT:-1500}" /nori/.vm-tools/critest --runtime-endpoint unix:///run/nori/nori.sock --image-endpoint unix:///run/nori/nori.sock \
	--ginkgo.no-color --ginkgo.focus="$FOCUS" --ginkgo.skip='HostNetwork|host network|public image with digest' \
	--ginkgo.junit-report="$R/critest-junit.xml") >"$R/critest.log" 2>&1
rc=$?
grep -E '^\s*\[(FAIL|PANICKED)\]' "$R/critest.log" | head -30
summary=$(grep -E '[0-9]+ Passed \| [0-9]+ Failed \| [0-9]+ Pending \| [0-9]+ Skipped' "$R/critest.log" | tail -n 1)
count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '[0-9]+'; }
if [ -n "$summary" ]; then
	echo "{\"passed\":$(count Passed),\"failed\":$(count Failed),\"skipped\":$(count Skipped)}" >"$R/counts-critest.json"
	say "$summary"
else
	echo '{"passed":0,"failed":1,"skipped":0}' >"$R/counts-critest.json"
	tail -20 "$R/critest.log"
fi
systemctl stop nori.service
journalctl -u nori --no-pager >"$R/nori-journal.log" 2>&1
left=$(find /sys/fs/cgroup -name '*nori*' -type d 2>/dev/null | grep -v 'nori.service$' | grep -v 'nori-vm-run.service' | head -5)
[ -z "$left" ] || say "cgroups left: $left"
exit $rc
