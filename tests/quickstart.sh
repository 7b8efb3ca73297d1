#!/usr/bin/env bash
# Runs the README's quickstart, exactly as written, against a fresh local stack.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=tests/local_stack.sh
. tests/local_stack.sh
start_local_stack
export HERALD="$STACK_BASE/api/v1"
export KEY="$STACK_ADMIN_KEY"

script="$(awk '/<!-- quickstart:begin -->/{on=1; next} /<!-- quickstart:end -->/{on=0} on && !/^```/' README.md)"
out="$(bash -euo pipefail -c "$script")"
echo "$out"

check() { grep -qF -- "$1" <<<"$out" || { echo "quickstart: expected output to contain: $1" >&2; exit 1; }; }
check '"layer":"platform"'
check '"layer":"tenant"'
check '"layer":"event"'
check '{"ok":true,"checked":"SNS GetSMSAttributes"}'
check '{"category":"invitation","channel":"email","source":"tenant","chain":["platform","tenant"]}'
check '{"category":"reminder","channel":"sms","source":"event","chain":["event"]}'
check '{"channel":"email","source":"tenant"}'
check '"status":422,"syntax_errors":[{"field":"text"'
check '{"identity":"acme.example","records":["spf","dmarc"]}'
check '{"category":"invitation","channel":"email","mode":"inherited"}'
check '{"code":"missing_template","pointer":"templates/invitation/sms"}'
check '{"form_version":1}'
check '{"status":"accepted","party_size":2,"source":"link"}'
check '{"accepted":1,"expected_attendance":2}'
check '{"channel":"email","written":"We will come! Is there a café nearby?"}'
check '[{"queue":"general","priority":"high"}]'
check '{"channel":"email","delivery":"queued"}'
check '{"ready":true}'
check '{"status":"queued"}'
check '{"status":"succeeded","snapshot_version":1}'
check '{"version":1,"active":true,"templates":2}'
check '{"encoding":"ucs2","units":'
check '{"status":"sent","delivery_state":"delivered","events":["sent","delivered"]}'
check '{"sent":1,"delivered":1,"delivery_rate":1'
check '{"hint":"m•••@example.com","source":"manual"}'
check 'one-click: 200'
check '[{"source":"one_click","changes":["unsubscribed:true"]}]'
check '{"action":"POST /api/v1/communication/contacts/{id}/preference-link","status":201}'
check '{"version":1}'
check '[{"key":"invite","status":"sent"},{"key":"nudge","status":"scheduled"}]'
check '[{"key":"nudge","change":"moved"}]'
echo "quickstart: 1 passed, 0 failed"
