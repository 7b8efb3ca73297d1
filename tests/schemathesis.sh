#!/usr/bin/env bash
# Checks the API against its own OpenAPI document, on a fresh local stack: the document the
# stack serves is valid OpenAPI 3.1 (openapi-spec-validator), then schemathesis (both pinned in
# .venv) fuzzes every operation with every check it has, as a tenant administrator of a seeded
# tenant, with a second tenant's administrator as the peer its object-level authorization check
# tries (tests/schemathesis.toml: the checks, and the few operations one of them skips, and why).
# Passes when every check passes and at least 2,000 requests were made. (Revoking and rotating
# keys are left out: the fuzzer would revoke its own key and test nothing after.)
#
# ST_EXTRA (words): more `st run` options, e.g. ST_EXTRA='--include-operation-id create_event'
# to try one operation (the request floor then fails the run).
set -euo pipefail
read -r -a extra <<<"${ST_EXTRA:-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
# shellcheck source=tests/local_stack.sh
. tests/local_stack.sh
# The fuzzer's requests come from one key far faster than a tenant's rate limit allows.
start_local_stack HERALD_API_RATE_PER_KEY=0
trap 'kill -TERM "$STACK_PID" 2>/dev/null || true; wait "$STACK_PID" 2>/dev/null || true; rm -f "$STACK_LOG"; rm -rf "$work"' EXIT
base="$STACK_BASE"
admin="$STACK_ADMIN_KEY"
tenant_admin_key() {
  local tenant
  tenant="$(call "$admin" -X POST "$base/api/v1/tenants" -d "{\"name\":\"$1\"}" | json "['id']")"
  call "$admin" -X POST "$base/api/v1/api-keys?tenant_id=$tenant" \
    -d '{"name":"fuzzer","role":"tenant_admin"}' | json "['secret']"
}
key="$(tenant_admin_key Fuzzed)"
peer="$(tenant_admin_key Peer)"
for k in "$key" "$peer"; do
  call "$k" -X POST "$base/api/v1/events" -d '{"name":"Fuzz gala","starts_at":"2027-05-01T18:00:00","ends_at":"2027-05-01T23:00:00","time_zone":"Europe/Paris","default_locale":"fr-FR"}' >/dev/null
done

# The document the stack serves is valid OpenAPI 3.1.
curl -fsS "$base/api/v1/openapi.json" -o "$work/openapi.json"
"$root/.venv/bin/openapi-spec-validator" "$work/openapi.json"

# The two keys, as Web Fuzzing Commons users: the first makes the requests; the checks try the
# other's key on what the first created.
cat >"$work/auth.json" <<EOF
{"auth": [
  {"name": "tenant", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $key"}]},
  {"name": "peer", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $peer"}]}
]}
EOF
{
  cat "$root/tests/schemathesis.toml"
  printf '\n[auth.wfc]\npath = "%s"\npeers = ["tenant", "peer"]\n' "$work/auth.json"
} >"$work/schemathesis.toml"

# schemathesis_hooks: a workaround for a CPython 3.11 bug that the workers' threads meet.
PYTHONPATH="$root/tests" SCHEMATHESIS_HOOKS=schemathesis_hooks \
  "$root/.venv/bin/st" --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
  --url "$base" \
  --exclude-operation-id revoke_api_key --exclude-operation-id rotate_api_key \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples 30 --workers 2 --seed 20261122 --no-shrink \
  --request-timeout 60 --max-failures 20 \
  --report har --report-har-path "$work/run.har" \
  --output-truncate true "${extra[@]}"
requests="$(python3 -c "import json; print(len(json.load(open('$work/run.har'))['log']['entries']))")"
echo "schemathesis: $requests requests"
[ "$requests" -ge 2000 ] || { echo "schemathesis made only $requests requests (want at least 2,000)" >&2; exit 1; }
