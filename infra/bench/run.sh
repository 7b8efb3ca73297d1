#!/usr/bin/env bash
# `make bench`: runs every benchmark and rewrites BENCHMARKS.md with the figures, the commands
# that produced them, the date and the machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

echo "== criterion: resolver" >&2
cargo bench -p herald --bench resolver -- --warm-up-time 2 --measurement-time 5 >&2
estimate() { # criterion's median estimate in µs
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); m=e["median"]; print("%.2f µs (95%% CI %.2f–%.2f µs)" % (m["point_estimate"]/1000, m["confidence_interval"]["lower_bound"]/1000, m["confidence_interval"]["upper_bound"]/1000))' "$1"
}
resolver="$(estimate target/criterion/resolve_event_config_full/new/estimates.json)"

echo "== criterion: rendering the standard email" >&2
cargo bench -p herald --bench render -- --warm-up-time 2 --measurement-time 5 >&2
render="$(estimate target/criterion/render_standard_email/new/estimates.json)"
compile_render="$(estimate target/criterion/compile_and_render_standard_email/new/estimates.json)"
render_us="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"]/1000)' target/criterion/render_standard_email/new/estimates.json)"

echo "== criterion: the sender's CPU per message" >&2
cargo bench -p herald-sender --bench sender -- --warm-up-time 2 --measurement-time 5 >&2
sender_cpu="$(estimate target/criterion/sender_cpu_per_message/new/estimates.json)"

echo "== criterion: the tracker's CPU per batch of 100 events" >&2
cargo bench -p herald-tracker --bench ingest -- --warm-up-time 2 --measurement-time 5 >&2
tracker_cpu="$(estimate target/criterion/tracker_batch_of_100_events/new/estimates.json)"
tracker_eps="$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["median"]["point_estimate"]; print("%.0f" % (100 / (m / 1e9)))' target/criterion/tracker_batch_of_100_events/new/estimates.json)"

echo "== Handlebars.js: the same template under Node" >&2
(cd infra/bench/handlebars && npm ci --no-audit --no-fund --silent >&2)
hbs_json="$(node infra/bench/handlebars/bench.js)"
hbs="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("median %.2f µs (%s, Node %s)" % (d["median_us"], d["engine"], d["node"]))' "$hbs_json")"
ratio="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.2f" % (float(sys.argv[2]) / d["median_us"]))' "$hbs_json" "$render_us")"

echo "== arm64 release build of every function" >&2
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
PATH="$root/.venv/bin:$PATH" cargo lambda build --release --arm64 --bin api --bin wizard --bin sender --bin tracker --bin crm-sync >&2
size_of() {
  local bytes
  bytes="$(stat -c %s "target/lambda/$1/bootstrap")"
  python3 -c "print('%.2f MB (%d bytes)' % ($bytes/1e6, $bytes))"
}
api_size="$(size_of api)"
wizard_size="$(size_of wizard)"
sender_size="$(size_of sender)"
tracker_size="$(size_of tracker)"

echo "== send-path requests per message over a 1,000-guest campaign (its own emulator)" >&2
thousand="$(infra/local/with-moto.sh cargo test -p herald-api --test campaigns -- --ignored thousand_guest --nocapture 2>/dev/null | grep -E '^(send path|by operation):')"
per_msg() { # $1: DynamoDB or SQS
  python3 - "$1" "$thousand" <<'PY'
import re, sys
kind, text = sys.argv[1], sys.argv[2]
m = re.search(r"(\d+) %s requests \(([0-9.]+) per message\)" % kind, text)
print("%s (%s requests)" % (m.group(2), m.group(1)))
PY
}
dynamo_per_msg="$(per_msg DynamoDB)"
sqs_per_msg="$(per_msg SQS)"

echo "== DynamoDB requests of 10,000 ingested events (its own emulator)" >&2
events10k="$(infra/local/with-moto.sh cargo test -p herald-api --test tracking -- ten_thousand --nocapture 2>/dev/null | grep -E '^10,000 events:')"
tracking="$(python3 - "$events10k" <<'PY'
import re, sys
text = sys.argv[1]
writes = int(re.search(r"(\d+) DynamoDB write requests", text).group(1))
ops = dict((k, int(v)) for k, v in re.findall(r'"(\w+)": (\d+)', text))
print("WRITES=%d" % writes)
print("UPDATES=%d" % ops.get("UpdateItem", 0))
print("BATCHGETS=%d" % ops.get("BatchGetItem", 0))
print("BATCHWRITES=%d" % ops.get("BatchWriteItem", 0))
PY
)"
eval "$tracking"

echo "== a 10,000-guest campaign on the local stack (its own emulator; debug build, as make test)" >&2
bench10k="$(infra/local/with-moto.sh cargo test -p herald-api --test campaigns -- --ignored benchmark_a_campaign_to_10k_guests --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
campaign="$(python3 - "$bench10k" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
m = d["messages"]
print("| wall time, send → sent | %.1f s (%.0f messages/s) |" % (d["wall_seconds"], m / d["wall_seconds"]))
print("| Herald's CPU time (API, sender, tracker, pollers: this process) | %.1f s (%.0f%% of the wall time) |" % (d["herald_cpu_seconds"], 100 * d["herald_cpu_seconds"] / d["wall_seconds"]))
print("| the emulator's CPU time (moto, one Python process) | %.1f s (%.0f%% of the wall time) |" % (d["emulator_cpu_seconds"], 100 * d["emulator_cpu_seconds"] / d["wall_seconds"]))
print("| DynamoDB requests of the send path | %d (%.3f per message): %s |" % (d["dynamodb_requests"], d["dynamodb_requests"] / m, ", ".join("%s %d" % kv for kv in d["dynamodb_by_operation"].items())))
print("| SQS requests of the send path | %d (%.4f per message) |" % (d["sqs_requests"], d["sqs_requests"] / m))
PY
)"

echo "== a CRM sync of 10,000 contacts against the HubSpot fake (its own emulator)" >&2
crm10k="$(infra/local/with-moto.sh cargo test -p herald-api --test crm -- --ignored benchmark_a_crm_sync --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
crm="$(python3 - "$crm10k" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print("| pull: search requests for %d contacts | %d (the least HubSpot's 200-a-page search allows: %d); %.1f s |" % (d["contacts"], d["pull_searches"], d["pull_minimum"], d["pull_seconds"]))
print("| push: batch update requests for %d contacts | %d (the least its 100-a-batch update allows: %d), plus %d search; %.1f s |" % (d["contacts"], d["push_batch_updates"], d["push_minimum"], d["push_run_searches"], d["push_seconds"]))
PY
)"

echo "== criterion: signing a webhook delivery" >&2
cargo bench -p herald --bench webhooks -- --warm-up-time 2 --measurement-time 5 >&2
wh_sign1="$(estimate target/criterion/webhook_sign_one_secret/new/estimates.json)"
wh_sign2="$(estimate target/criterion/webhook_sign_two_secrets/new/estimates.json)"
wh_verify="$(estimate target/criterion/webhook_verify/new/estimates.json)"

echo "== webhook delivery throughput against a local receiver (its own emulator)" >&2
wh_json="$(infra/local/with-moto.sh cargo test -p herald-api --test outgoing_webhooks -- --ignored benchmark_webhook_delivery_throughput --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
webhooks="$(python3 - "$wh_json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print("| %d deliveries end to end: queued (%d SendMessageBatch requests, %.1f s), delivered by the sender's deliverer, signed and verified, attempts recorded | %.1f s: %.0f deliveries/s |" % (d["deliveries"], d["sqs_send_batches"], d["emit_seconds"], d["wall_seconds"], d["per_second"]))
print("| the same %d signed POSTs from the deliverer's HTTP client alone, 10 at a time (no SQS, no DynamoDB) | %.2f s: %.0f deliveries/s |" % (d["deliveries"], d["http_seconds"], d["http_per_second"]))
PY
)"

machine="$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
today="$(date -u +%Y-%m-%d)"

cat > BENCHMARKS.md <<MD
# Benchmarks

Rewritten by \`make bench\` (infra/bench/run.sh). Last run: $today, on $machine.

## Configuration resolution

| figure | result | goal | how |
|---|---|---|---|
| pure resolver, full event configuration (10 categories × 3 channels of templates at 3 layers, providers, brand, compliance) | median $resolver | < 50 µs | \`cargo bench -p herald --bench resolver\` (criterion) |
| DynamoDB requests to read an event's whole configuration | 2 (one BatchGetItem of 97 known keys, one Query of the tenant's providers) | ≤ 2 | asserted by \`functions/api/tests/round_trip.rs\` with an SDK interceptor; machine-independent |
| DynamoDB requests of \`GET /api/v1/events/{id}/configuration\` | 3 (the API-key GetItem + the 2 above) | | same test |

## Rendering

The standard email (infra/bench/fixtures): about 5 KB of HTML layout with brand, ten
variables, a loop over five schedule items with a time filter, and the three compliance blocks.

| figure | result | goal | how |
|---|---|---|---|
| Herald (minijinja), compiled once, one render | median $render | < 15 µs | \`cargo bench -p herald --bench render\` |
| Herald, compile + render | median $compile_render | | same bench |
| Handlebars.js, compiled once, one render | $hbs | | \`node infra/bench/handlebars/bench.js\` (handlebars pinned in package-lock.json), same run |
| ratio Herald / Handlebars.js | $ratio | | |

## Binary size

| function | arm64 release binary | goal | how |
|---|---|---|---|
| api | $api_size | < 10 MB | \`cargo lambda build --release --arm64 --bin api --bin wizard --bin sender --bin tracker --bin crm-sync\` (cargo-lambda and zig from .venv) |
| wizard | $wizard_size | < 10 MB | same build |
| sender | $sender_size | < 10 MB | same build |
| tracker | $tracker_size | < 10 MB | same build |

## Sending

| figure | result | goal | how |
|---|---|---|---|
| the sender's CPU per message, I/O excluded: consent, suppression and channel decision, rendering the standard email, building the SES request | median $sender_cpu | < 20 µs | \`cargo bench -p herald-sender --bench sender\` (criterion) |
| DynamoDB requests per delivered message on the send path (provider calls not counted) | $dynamo_per_msg, asserted ≤ 0.12 | ≤ 0.12 | \`functions/api/tests/campaigns.rs\` (1,000 guests, SDK interceptor on the sender's clients; run by make test) |
| SQS requests per delivered message on the send path | $sqs_per_msg, asserted ≤ 0.05 | ≤ 0.05 | same test |

## Tracking

| figure | result | goal | how |
|---|---|---|---|
| DynamoDB write requests per ingested event | $(python3 -c "print('%.3f' % ($WRITES / 10000))") ($WRITES for 10,000 events: $BATCHWRITES BatchWriteItem, $UPDATES UpdateItem; and $BATCHGETS BatchGetItem reads), asserted ≤ 0.3 | ≤ 0.3 | \`functions/api/tests/tracking.rs\` (10,000 SES events in the tracker's batches of 1,000, SDK interceptor; run by make test) |
| the tracker's CPU for a batch of 100 SES events in SNS notifications, AWS calls excluded (parse, deduplicate, key, plan items and suppressions, tally counters) | median $tracker_cpu: $tracker_eps events per CPU-second | | \`cargo bench -p herald-tracker --bench ingest\` (criterion) |

$(python3 infra/bench/cost.py "$WRITES" "$UPDATES")

A 10,000-guest campaign (7,000 by email, 3,000 by SMS) end to end on the local stack:
\`infra/local/with-moto.sh cargo test -p herald-api --test campaigns -- --ignored benchmark_a_campaign_to_10k_guests --nocapture\`.
Herald runs in one process here (debug build); the emulator is one single-threaded Python
process, so when its CPU time is close to the wall time, the emulator is the limit.

| figure | result |
|---|---|
$campaign

## CRM sync

A sync of 10,000 HubSpot contacts against the local fake (created as contacts), then engagement
pushed for all of them:
\`infra/local/with-moto.sh cargo test -p herald-api --test crm -- --ignored benchmark_a_crm_sync --nocapture\`.
The times are the emulator's (one Python process writing 10,000 contacts, their links and
addresses, then 10,000 conditional outbox deletes).

| figure | result |
|---|---|
$crm

## Outgoing webhooks

Signing (criterion, \`cargo bench -p herald --bench webhooks\`): a 600-byte \`message.delivered\`
payload, HMAC-SHA256 of \`id.timestamp.body\`.

| figure | result |
|---|---|
| \`webhook-signature\` with one secret | median $wh_sign1 |
| with two secrets (the 24 hours after a rotation) | median $wh_sign2 |
| a receiver's verification | median $wh_verify |

Delivery throughput against the local receiver, which verifies every signature:
\`infra/local/with-moto.sh cargo test -p herald-api --test outgoing_webhooks -- --ignored benchmark_webhook_delivery_throughput --nocapture\`.
Each delivery costs one SQS message (sent ten to a request), one POST and one DynamoDB
BatchWriteItem (the attempt and the message's state); the end-to-end figure is bounded by the
emulator (SQS receives and deletes, the BatchWriteItems), the HTTP-only figure by this machine.

| figure | result |
|---|---|
$webhooks

Reading the 10,000-guest run: when the emulator's CPU time is close to the wall time, moto is
the limit and Herald's own share is its CPU time. The send path's requests per message can be
higher here than in the 1,000-guest run because moto stretches each delivery job: a job past
the local stack's send budget (120 s; 30 s in Lambda) leaves the rest to a fresh copy of
itself, which claims, reads and records again. At SES's and DynamoDB's speed a job of 100
sends in a few seconds and never reaches the budget. (moto also answers a Query by walking
its whole table, and every email adds the local stack's Send and Delivery events: SNS
publishes, SQS deliveries and the tracker's writes.)
MD
echo "BENCHMARKS.md rewritten" >&2
