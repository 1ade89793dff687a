#!/usr/bin/env bash
# hack/test.sh (npm test): typecheck and build, generated-code check, import-cycle check, then
# unit and integration tests in one mocha run. The last line is "N passed, N failed, N skipped".
# Integration tests need root and the packages hack/setup.sh --test installs.
set -uo pipefail
cd "$(dirname "$0")/.."

fail() { echo "hack/test.sh: $*" >&2; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

echo "== typecheck + build"
npm run --silent build:ts || fail "TypeScript build failed"
# Rebuild the addon and helpers when one is missing or a native source is newer than it.
native_stale() {
	local out
	for out in nori_native.node nori-reaper nori-exec; do
		[ -f "native/build/Release/$out" ] || return 0
		[ -z "$(find native/src native/exec native/*.c native/binding.gyp -newer "native/build/Release/$out" 2>/dev/null | head -1)" ] || return 0
	done
	return 1
}
if native_stale; then npm run --silent build:native || fail "native build failed"; fi
echo "== generated code is up to date"
bash hack/gen-proto.sh --check || fail "src/gen differs from what proto/ generates: run npm run gen:proto"
echo "== no import cycles"
npx --no-install madge --circular --warning --extensions ts src >/tmp/nori-madge.$$ 2>&1 || { cat /tmp/nori-madge.$$; rm -f /tmp/nori-madge.$$; fail "import cycles in src/"; }
rm -f /tmp/nori-madge.$$

suites=('dist/test/unit/**/*.test.js')
left_out=0
if [ "$(id -u)" = 0 ]; then
	suites+=('dist/test/integration/**/*.test.js')
else
	# the closing line counts what is left out as skipped (a dry run lists the tests, runs none)
	left_out=$(npx --no-install mocha --config .mocharc.json --dry-run --reporter json 'dist/test/integration/**/*.test.js' 2>/dev/null |
		node -e "let s='';process.stdin.on('data',(d)=>(s+=d)).on('end',()=>{try{console.log(JSON.parse(s).stats.tests)}catch{console.log(0)}})")
	echo "== not root: ${left_out:-0} integration tests skipped"
fi
counts=$(mktemp)
NORI_TEST_SKIPPED_OUTSIDE=${left_out:-0} NORI_TEST_COUNTS=$counts npx --no-install mocha --config .mocharc.json --reporter test/reporter/closing-line.js "${suites[@]}"
rc=$?
passed=$(node -e "try{console.log(JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')).passed)}catch{console.log(0)}" "$counts")
rm -f "$counts"
if [ "${passed:-0}" = 0 ] && [ $rc = 0 ]; then
	echo "hack/test.sh: no test ran" >&2
	exit 1
fi
exit $rc
