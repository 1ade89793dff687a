#!/usr/bin/env bash
# Generate src/gen/api.ts from proto/api.proto with protoc + ts-proto.
#   hack/gen-proto.sh          regenerate src/gen/
#   hack/gen-proto.sh --check  regenerate into a temp dir; exit 1 and print the diff if src/gen is stale
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PROTOC="${PROTOC:-protoc}"
PLUGIN="$ROOT/node_modules/.bin/protoc-gen-ts_proto"

# Why these options:
#  outputServices=generic-definitions
#                          RuntimeServiceDefinition/ImageServiceDefinition: plain data (name,
#                          fullName, per method its request/response message types) that
#                          src/cri/edge.ts serves on nori's own HTTP/2 server. Unlike the
#                          grpc-js output it imports nothing: that output loaded @grpc/grpc-js
#                          (≈ 70 ms) at every daemon start for client classes only tools use.
#  env=node                bytes fields are Buffer (what grpc-js hands us anyway).
#  forceLong=bigint        int64/uint64 as bigint. CRI timestamps are Unix *nanoseconds*
#                          (~1.8e18 today, far above 2^53 ~ 9.0e15): as number they would lose
#                          ~256 ns of precision and ts-proto's decoders throw on them outright.
#  useOptionals=messages   message-typed fields are `field?: T` (unset == absent on the wire);
#                          scalars, repeated and map fields stay required so encode never sees
#                          undefined there.
#  esModuleInterop=true    matches tsconfig.
OPTS=(
  outputServices=generic-definitions
  env=node
  forceLong=bigint
  useOptionals=messages
  esModuleInterop=true
)

usage() { echo "usage: $0 [--check]" >&2; exit 2; }

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) usage ;;
esac
[[ $# -le 1 ]] || usage

command -v "$PROTOC" >/dev/null || { echo "gen-proto: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[[ -x "$PLUGIN" ]] || { echo "gen-proto: $PLUGIN missing (run npm install)" >&2; exit 1; }

generate() {
  local out="$1"
  mkdir -p "$out"
  # Paths relative to proto/ so the generated header names "api.proto", independent of checkout.
  "$PROTOC" \
    --proto_path=proto \
    --plugin=protoc-gen-ts_proto="$PLUGIN" \
    --ts_proto_out="$out" \
    --ts_proto_opt="$(IFS=,; echo "${OPTS[*]}")" \
    api.proto
}

if ! $check; then
  generate src/gen
  echo "gen-proto: wrote src/gen/api.ts"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
generate "$tmp"
if diff -u --label src/gen/api.ts --label regenerated/api.ts src/gen/api.ts "$tmp/api.ts"; then
  echo "gen-proto: src/gen is up to date"
else
  echo "gen-proto: src/gen/api.ts is stale; run hack/gen-proto.sh" >&2
  exit 1
fi
