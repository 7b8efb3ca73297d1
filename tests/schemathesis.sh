#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document: schemathesis (pinned in .venv) against a fresh
# local stack, as a tenant administrator of a seeded tenant. Passes when no answer is a 5xx,
# no answer breaks the documented schema, and at least 2,000 requests were made. (Revoking and
# rotating keys are left out: the fuzzer would revoke its own key and test nothing after.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
work="$(mktemp -d)"
log="$work/stack.log"
# The fuzzer's requests come from one key far faster than a tenant's rate limit allows.
HERALD_API_RATE_PER_KEY=0 HERALD_PORT="$port" ./target/debug/herald-local >"$log" 2>&1 &
stack_pid=$!
trap 'kill -TERM "$stack_pid" 2>/dev/null || true; wait "$stack_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  grep -q '^HERALD_ADMIN_KEY=' "$log" && break
  kill -0 "$stack_pid" 2>/dev/null || { cat "$log"; echo "the local stack exited" >&2; exit 1; }
  sleep 0.2
done
base="http://127.0.0.1:$port"
admin="$(sed -n 's/^HERALD_ADMIN_KEY=//p' "$log")"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
call() { curl -fsS -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }
tenant="$(call "$admin" -X POST "$base/api/v1/tenants" -d '{"name":"Fuzzed"}' | json "['id']")"
key="$(call "$admin" -X POST "$base/api/v1/api-keys?tenant_id=$tenant" \
  -d '{"name":"fuzzer","role":"tenant_admin"}' | json "['secret']")"
call "$key" -X POST "$base/api/v1/events" -d '{"name":"Fuzz gala","starts_at":"2027-05-01T18:00:00","ends_at":"2027-05-01T23:00:00","time_zone":"Europe/Paris","default_locale":"fr-FR"}' >/dev/null

"$root/.venv/bin/st" run "$base/api/v1/openapi.json" --url "$base" \
  -H "Authorization: Bearer $key" \
  --exclude-operation-id revoke_api_key --exclude-operation-id rotate_api_key \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples 30 --workers 2 --seed 20261122 --no-shrink \
  --request-timeout 60 --max-failures 20 \
  --report har --report-har-path "$work/run.har" \
  --output-truncate true
requests="$(python3 -c "import json; print(len(json.load(open('$work/run.har'))['log']['entries']))")"
echo "schemathesis: $requests requests"
[ "$requests" -ge 2000 ] || { echo "schemathesis made only $requests requests (want at least 2,000)" >&2; exit 1; }
