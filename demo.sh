#!/usr/bin/env bash
# The demo: the main job end to end on the embedded default — the amoCRM sandbox plus the
# sample BILLmanager data in examples/billmanager — in one command, offline.
set -euo pipefail
cd "$(dirname "$0")"
echo "== building (first time takes a few minutes)"
cargo build --quiet --workspace
work=$(mktemp -d)
sandbox_pid=""
cleanup() { [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
target/debug/sandbox --port 0 > "$work/sandbox.out" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q "authorization code" "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/sandbox.out" | head -n1)
code=$(sed -n 's/.*authorization code: *\([^ ]*\).*/\1/p' "$work/sandbox.out" | head -n1)
echo "== amoCRM sandbox at $url"
sed -e "s#https://mycompany.amocrm.ru#$url#" \
    -e 's#client_id = "00000000-0000-0000-0000-000000000000"#client_id = "sandbox-client-id"#' \
    -e 's#https://billing.example.com/amocrm/callback#https://example.com/amocrm/callback#' \
    -e "s#dir = \"billmanager\"#dir = \"$PWD/examples/billmanager\"#" \
    examples/rules.toml > "$work/rules.toml"
export AMOCRM_BIN_CONFIG="$work/rules.toml" AMOCRM_CLIENT_SECRET=sandbox-client-secret
bin=target/debug/amocrm-bin
echo; echo "== $bin auth --code <one-time code>"
$bin auth --code "$code"
echo; echo "== $bin backfill --since 2024-01-01"
$bin backfill --since 2024-01-01 || true
echo; echo "== $bin sync --entity lead --elid 404   (a second sync changes nothing)"
$bin sync --entity lead --elid 404
echo; echo "== $bin bindings list"
$bin bindings list
echo; echo "== what amoCRM now holds"
for kind in contacts companies leads; do
  echo "-- $kind"
  curl -fsS "$url/_sandbox/entities/$kind" 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    tags = ", ".join(t["name"] for t in (e.get("_embedded") or {}).get("tags", []))
    extra = f" price {e['"'"'price'"'"']}" if "price" in e else ""
    print(f"  #{e['"'"'id'"'"']} {e.get('"'"'name'"'"')}{extra} [{tags}]")' 2>/dev/null || echo "  (install curl and python3 to list them)"
done
