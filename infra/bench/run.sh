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

# shellcheck source=infra/deploy/lambda-build.sh
. infra/deploy/lambda-build.sh
echo "== arm64 release build of every function" >&2
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
lambda_build --arm64 --lambda-dir target/lambda-arm64 --bin hello --bin api --bin wizard --bin sender --bin tracker --bin crm-sync --bin console --bin inbound >&2

echo "== cold starts: the same functions (and hello world) built the same way for this machine (x86_64)" >&2
lambda_build --x86-64 --lambda-dir target/lambda-x86_64 --bin hello --bin api --bin wizard --bin sender --bin tracker --bin crm-sync --bin console --bin inbound >&2
cold_json="$("$root/.venv/bin/python" infra/bench/coldstart.py target/lambda-x86_64 40 hello api wizard sender tracker crm-sync console inbound)"
# AwsTrustStore=system as on Lambda: one certificate bundle, and a certificate directory without
# certificates (this machine's holds ~150 more files, which Lambda's image does not).
bundle="$(python3 -c 'import ssl; print(ssl.get_default_verify_paths().cafile)')"
no_certs="$(mktemp -d)"
cold_bundle_json="$("$root/.venv/bin/python" infra/bench/coldstart.py --env HERALD_AWS_TRUST_STORE=system --env "SSL_CERT_FILE=$bundle" --env "SSL_CERT_DIR=$no_certs" target/lambda-x86_64 40 hello api wizard sender tracker crm-sync console inbound)"
rmdir "$no_certs"
functions_table="$(python3 - "$cold_json" "$cold_bundle_json" <<'PY'
import json, os, sys
d = json.loads(sys.argv[1])["binaries"]
b = json.loads(sys.argv[2])["binaries"]
for name in ["hello", "api", "wizard", "sender", "tracker", "crm-sync", "console", "inbound"]:
    arm = os.path.getsize("target/lambda-arm64/%s/bootstrap" % name)
    size_goal = "" if name == "hello" else (" (goal < 10 MB)" if arm < 10e6 else " (goal < 10 MB: **over**)")
    label = "hello world (lambda_runtime, the baseline)" if name == "hello" else name
    cells = []
    for c in (d[name], b[name]):
        goal = "" if name == "hello" else (", met" if c["ratio"] <= 1.5 else ", **missed**")
        cells.append("%.2f ms (p90 %.2f): %.2f×%s" % (c["median_ms"], c["p90_ms"], c["ratio"], goal))
    print("| %s | %.2f MB%s | %s | %s |" % (label, arm / 1e6, size_goal, cells[0], cells[1]))
PY
)"

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
print("PUTS=%d" % ops.get("PutItem", 0))
print("GETS=%d" % ops.get("GetItem", 0))
PY
)"
eval "$tracking"

# The 10,000-guest campaign takes 25 to 40 minutes on the emulator: run with
# HERALD_BENCH_CAMPAIGN=1; otherwise its section is carried over from the last run that did.
if [ "${HERALD_BENCH_CAMPAIGN:-}" = 1 ]; then
echo "== a 10,000-guest campaign on the local stack (its own emulator; debug build, as make test)" >&2
bench10k="$(infra/local/with-moto.sh cargo test -p herald-api --test campaigns -- --ignored benchmark_a_campaign_to_10k_guests --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
campaign="$(python3 - "$bench10k" "$(date -u +%Y-%m-%d)" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print("Measured %s." % sys.argv[2])
print()
print("| figure | result |")
print("|---|---|")
m = d["messages"]
print("| wall time, send → sent | %.1f s (%.0f messages/s) |" % (d["wall_seconds"], m / d["wall_seconds"]))
print("| Herald's CPU time (API, sender, tracker, pollers: this process) | %.1f s (%.0f%% of the wall time) |" % (d["herald_cpu_seconds"], 100 * d["herald_cpu_seconds"] / d["wall_seconds"]))
print("| the emulator's CPU time (moto, one Python process) | %.1f s (%.0f%% of the wall time) |" % (d["emulator_cpu_seconds"], 100 * d["emulator_cpu_seconds"] / d["wall_seconds"]))
print("| DynamoDB requests of the send path | %d (%.3f per message): %s |" % (d["dynamodb_requests"], d["dynamodb_requests"] / m, ", ".join("%s %d" % kv for kv in d["dynamodb_by_operation"].items())))
print("| SQS requests of the send path | %d (%.4f per message) |" % (d["sqs_requests"], d["sqs_requests"] / m))
PY
)"
else
campaign="$(python3 - <<'PY'
import re
text = open("BENCHMARKS.md").read()
m = re.search(r"<!-- campaign-10k -->\n(.*?)<!-- /campaign-10k -->", text, re.S)
print(m.group(1).strip() if m else "Not measured yet: run `HERALD_BENCH_CAMPAIGN=1 make bench`.")
PY
)"
fi

echo "== a CRM sync of 10,000 contacts against the HubSpot fake (its own emulator)" >&2
crm10k="$(infra/local/with-moto.sh cargo test -p herald-api --test crm -- --ignored benchmark_a_crm_sync --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
crm="$(python3 - "$crm10k" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print("| pull: search requests for %d contacts | %d (the least HubSpot's 200-a-page search allows: %d); %.1f s |" % (d["contacts"], d["pull_searches"], d["pull_minimum"], d["pull_seconds"]))
print("| push: batch update requests for %d contacts | %d (the least its 100-a-batch update allows: %d), plus %d search; %.1f s |" % (d["contacts"], d["push_batch_updates"], d["push_minimum"], d["push_run_searches"], d["push_seconds"]))
PY
)"

echo "== criterion: a 50-step journey's step times" >&2
cargo bench -p herald --bench journeys -- --warm-up-time 2 --measurement-time 5 >&2
journey_times="$(estimate target/criterion/journey_step_times/50_steps/new/estimates.json)"
journey_check="$(estimate target/criterion/check_journey/50_steps/new/estimates.json)"

echo "== journeys: AWS requests to activate 10 steps and to move them (its own emulator)" >&2
journey_requests="$(infra/local/with-moto.sh cargo test -p herald-api --test journeys -- activating --nocapture 2>/dev/null | grep -E '^JOURNEY ' | sed 's/^JOURNEY //')"
journey_activate="$(grep '^activate' <<<"$journey_requests" | sed 's/^activate 10 steps: //')"
journey_move="$(grep '^move' <<<"$journey_requests" | sed 's/^move 10 pending steps: //')"

echo "== the OpenAPI document's size (its own emulator)" >&2
openapi_bytes="$(infra/local/with-moto.sh cargo test -p herald-api --test openapi -- quarter --nocapture 2>/dev/null | sed -n 's/^OPENAPI document: \([0-9]*\) bytes$/\1/p')"

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

echo "== load test of the API's read paths over HTTP (its own emulator)" >&2
load_json="$(infra/local/with-moto.sh cargo test -p herald-api --test load -- --ignored --nocapture 2>/dev/null | sed -n 's/^BENCH //p')"
load="$(python3 - "$load_json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
names = {"configuration": "`GET /api/v1/events/{id}/configuration` (the resolved configuration)",
         "message_status": "`GET /api/v1/communication/messages/{id}` (a message's status)"}
for key, label in names.items():
    r = d[key]
    print("| %s | %d in %.1f s: **%.0f requests/s** | %.1f ms | %.1f ms | %.1f ms | %d | %.1f | %.0f%% / %.0f%% |" % (
        label, r["requests"], r["wall_seconds"], r["per_second"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["errors"],
        r["dynamodb_requests_per_call"], 100 * r["emulator_cpu_seconds"] / r["wall_seconds"], 100 * r["herald_cpu_seconds"] / r["wall_seconds"]))
PY
)"

echo "== fault injection (the suite's tests, then the 2,000-guest outage on its own emulator)" >&2
# A failing fault test still prints its counts: they are recorded, and the bench goes on.
faults="$( { infra/local/with-moto.sh cargo test -p herald-api --test faults -- --nocapture 2>/dev/null; infra/local/with-moto.sh cargo test -p herald-api --test faults -- --ignored --nocapture 2>/dev/null || true; } | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r"FAULT (.*?): (sent \d+, duplicated \d+, lost \d+)(.*)", line.strip())
    if m:
        print("| %s | %s | %s |" % (m.group(1), m.group(2), m.group(3).lstrip("; ")))
')"

echo "== criterion: the date filters in five languages (CLDR through ICU4X)" >&2
dates_bench="$(estimate target/criterion/datetime_long_in_five_languages/new/estimates.json)"

echo "== RSVP: DynamoDB requests of the page and of an answer (its own emulator)" >&2
rsvp_line="$(infra/local/with-moto.sh cargo test -p herald-api --test rsvp -- a_guest_answers --nocapture 2>/dev/null | grep '^RSVP requests:')"
rsvp_page="$(sed -n 's/.*page \([0-9]*\).*/\1/p' <<<"$rsvp_line")"
rsvp_answer="$(sed -n 's/.*answer \([0-9]*\).*/\1/p' <<<"$rsvp_line")"

echo "== transactional messages during a 2,000-guest campaign (its own emulator, about 3 minutes)" >&2
priority="$(infra/local/with-moto.sh cargo test -p herald-api --test priority -- --ignored --nocapture 2>/dev/null | sed -n 's/^PRIORITY //p')"
priority_rows="$(python3 - "$priority" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print("| wait from the POST's answer to the provider's call (%d messages, one every 0.5 s) | p50 %d ms, p95 %d ms, max %d ms (missing %d) | p95 < 2 s |" % (d["transactional"], d["p50_ms"], d["p95_ms"], d["max_ms"], d["missing"]))
print("| the campaign (%d guests, provider at %d/s) | sent %d, duplicated %d, lost %d in %.1f s | every guest once |" % (d["guests"], d["rate"], d["sent"], d["duplicated"], d["lost"], d["wall_seconds"]))
print("| the provider's rate | at most %d calls in a second, %d in 10 s | ≤ %d, ≤ %d |" % (d["most_calls_in_1s"], d["most_calls_in_10s"], d["rate"] + 1, d["rate"] * 10 + 1))
PY
)"

echo "== console: DynamoDB requests of the polled pages, and bytes per page (the browser test)" >&2
console_requests="$(infra/local/with-moto.sh cargo test -p herald-api --test console the_polled -- --nocapture 2>/dev/null | sed -n 's/^console page \([^:]*\): \([0-9]*\) DynamoDB requests \(.*\)$/| \1 | \2 | \3 |/p')"
console_bytes="$(tests/browser.sh 2>/dev/null | sed -n 's/^BYTES //p' | python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "{}")
for name, n in sorted(d.items(), key=lambda kv: -kv[1]):
    print("| %s | %.1f KB%s |" % (name, n / 1024, "" if n <= 100 * 1024 else " (**over**)"))
')"

echo "== criterion: the inbound function's CPU per email" >&2
cargo bench -p herald-inbound --bench inbound -- --warm-up-time 2 --measurement-time 5 >&2
inbound_cpu="$(estimate target/criterion/inbound_email_20kb/new/estimates.json)"

echo "== conversations: DynamoDB requests per inbound message and per search (its own emulator)" >&2
conv_lines="$(infra/local/with-moto.sh cargo test -p herald-api --test conversations -- dynamodb_requests --nocapture 2>/dev/null | grep '^DYNAMODB ')"
conv_message="$(sed -n 's/^DYNAMODB per inbound message: //p' <<<"$conv_lines")"
conv_search="$(sed -n 's/^DYNAMODB per search: //p' <<<"$conv_lines")"

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

## Functions: binary size and cold start

Each function's arm64 release binary (\`cargo lambda build --release --arm64\`, cargo-lambda and
zig from .venv; \`make deploy-build\` makes the same) and its cold start measured locally: from
process start to its first request to the Lambda runtime API, which it makes once its
configuration is read and its SDK clients are built exactly as in production
(\`infra/bench/coldstart.py\`: the function's environment from template.yaml, a stand-in runtime
API on 127.0.0.1; 40 starts each, interleaved, after one unmeasured start). This machine is
x86_64, so the cold starts are of the same sources built the same way for it (\`--x86-64\`),
next to a hello-world lambda_runtime function (infra/bench/hello) built in the same run. The
ratio is the figure; the goal is 1.5× hello world.

Two columns: as deployed by default (\`AwsTrustStore=amazon\`: the AWS clients trust Amazon
Trust Services' five roots, compiled in), and with \`AwsTrustStore=system\`, the image's whole
store, here one bundle of about 150 certificates as the provided.al2023 image holds
(/etc/pki/tls/certs/ca-bundle.crt; \`SSL_CERT_FILE\`).

| function | arm64 binary | cold start, median, and ratio (as deployed) | the same with \`AwsTrustStore=system\` (one bundle, as on Lambda) |
|---|---|---|---|
$functions_table

Where the time goes (perf, strace, and timers in the api's \`main\`; 2026-11-22 and 2026-12-05).
Causes found and removed:
- the api built its whole OpenAPI document at start, because utoipa-axum derives the Router
  from it (about 20 ms): the Router is built from each handler's path and methods alone, the
  document on its first request;
- position-independent binaries, whose ~65,000 relative relocations (the api's) the dynamic
  loader applied before \`main\` (about 2 ms): release builds are \`-C relocation-model=static\`
  (infra/deploy/lambda-build.sh);
- the AWS SDK's default HTTPS client built a TLS connector, parsing every trusted root, each
  time a service client was created, and once more at the first request: seven times in a
  function with six clients. One connector is built per process and shared by every client
  (\`herald::aws::AwsHttpClient\`);
- the system's ~150 root certificates read and decoded from PEM at every start (about 0.9 ms):
  the AWS clients trust Amazon Trust Services' five roots, to which every AWS endpoint chains
  (the second column is the cost of the whole store);
- the SDK's default credential and region chains built an STS client and an IMDS client,
  although Lambda gives both in the environment, where those chains look first (about 0.3 ms):
  they are named directly when set;
- clients that most invocations never use are built on first use (\`herald::aws::LazyClient\`):
  SES and SNS everywhere (an email job needs no SNS, an SMS job no SES), and the api's SQS, KMS
  and Scheduler clients. Each costs about 0.1 ms the first time, mostly its crate parsing its
  endpoint partitions, paid by the first request that needs it;
- the api's 23 route groups were Routers merged into one and wrapped by three layers, route by
  route; they are now added to one Router wrapped by one layer (about 0.13 ms).

What remains over hello world, in the api (timers in \`main\`, release build): its Router about
0.27 ms (about 150 handlers, each boxed, layered and given the state), the DynamoDB client
about 0.11 ms (its endpoint partitions), the SDK configuration and the TLS connector about
0.1 ms, logging 0.05 ms, the providers' HTTP client 0.04 ms, and the page faults of a larger
binary. The other functions build no Router.

## Sending

| figure | result | goal | how |
|---|---|---|---|
| the sender's CPU per message, I/O excluded: consent, suppression and channel decision, rendering the standard email, building the SES request | median $sender_cpu | < 20 µs | \`cargo bench -p herald-sender --bench sender\` (criterion) |
| DynamoDB requests per delivered message on the send path (provider calls not counted) | $dynamo_per_msg, asserted ≤ 0.12 | ≤ 0.12 | \`functions/api/tests/campaigns.rs\` (1,000 guests, SDK interceptor on the sender's clients; run by make test) |
| SQS requests per delivered message on the send path | $sqs_per_msg, asserted ≤ 0.05 | ≤ 0.05 | same test |

## Journeys

| figure | result | goal | how |
|---|---|---|---|
| the step times of a 50-step journey (mixed anchors, offsets and clock times, Europe/Paris) | median $journey_times | < 50 µs | \`cargo bench -p herald --bench journeys\` (criterion) |
| the checks of a 50-step journey (times recomputed) | median $journey_check | | same |
| activating a 10-step journey | $journey_activate | one Scheduler call per step | \`functions/api/tests/journeys.rs\` (SDK interceptors; run by make test) |
| moving an event with 10 pending steps | $journey_move | one Scheduler call per step, issued concurrently; < 1 s on AWS | same |

On AWS a move is four round trips in sequence: the event, snapshot and occurrences read at
once; each step's UpdateSchedule then its record (ten steps at a time); the mark cleared. At
AWS's usual 10 to 30 ms a request that is well under a second; the emulator's own time is in
the row above.

## The OpenAPI document

| figure | result | goal | how |
|---|---|---|---|
| the served document's size | $openapi_bytes bytes (1,202,350 before issue 20: every operation inlined eleven error answers) | at most a quarter of before | \`functions/api/tests/openapi.rs\` (run by make test) |

## Tracking

| figure | result | goal | how |
|---|---|---|---|
| DynamoDB write requests per ingested event | $(python3 -c "print('%.3f' % ($WRITES / 10000))"): one conditional PutItem per new event ($PUTS for 10,000 events), which keeps an event delivered to two invocations at once from counting twice (BatchWriteItem takes no conditions, and DynamoDB bills each batched item the same write unit), plus $(python3 -c "print('%.3f' % (($WRITES - $PUTS) / 10000))") per event besides ($UPDATES counter UpdateItem, $BATCHWRITES BatchWriteItem of suppressions), asserted ≤ 0.3; reads: $BATCHGETS BatchGetItem | one write unit per event; ≤ 0.3 besides | \`functions/api/tests/tracking.rs\` (10,000 SES events in the tracker's batches of 1,000, SDK interceptor; run by make test) |
| the tracker's CPU for a batch of 100 SES events in SNS notifications, AWS calls excluded (parse, deduplicate, key, plan items and suppressions, tally counters) | median $tracker_cpu: $tracker_eps events per CPU-second | | \`cargo bench -p herald-tracker --bench ingest\` (criterion) |

### AWS requests by service

Measured by SDK interceptors in the tests above (DynamoDB, SQS); the others follow from the code
path and do not depend on the machine.

| | DynamoDB | SQS | SES | SNS | KMS |
|---|---|---|---|---|---|
| per delivered message (send path, 1,000-guest campaign) | $dynamo_per_msg | $sqs_per_msg | 1 SendEmail per email (SMS: 1 SNS Publish or 1 HTTP call) | 0 | 0 (a provider's secrets are decrypted once per instance and cached) |
| per tracked event (10,000 SES events) | $(python3 -c "print('%.3f writes + %.4f reads' % ($WRITES / 10000, ($BATCHGETS + $GETS) / 10000))") ($GETS GetItem: the tenant's key, once per instance; vouching for a sealed event reads nothing more) | 1.2: SNS's SendMessage delivering the event (billed to the queue's owner), and 0.2 (Lambda's ReceiveMessage and DeleteMessageBatch, 10 records a request); the tracker itself sends none (ChangeMessageVisibility only for reports nobody vouches for yet) | 0 | 1 Publish, by SES to Herald's topic | 1 Decrypt per tenant per tracker instance (the seal key), 0 per event |

$(python3 infra/bench/cost.py "$WRITES" "$UPDATES")

### A 10,000-guest campaign

A 10,000-guest campaign (7,000 by email, 3,000 by SMS) end to end on the local stack (run by
\`HERALD_BENCH_CAMPAIGN=1 make bench\`: 25 to 40 minutes):
\`infra/local/with-moto.sh cargo test -p herald-api --test campaigns -- --ignored benchmark_a_campaign_to_10k_guests --nocapture\`.
Herald runs in one process here (debug build); the emulator is one single-threaded Python
process, so when its CPU time is close to the wall time, the emulator is the limit.

<!-- campaign-10k -->
$campaign
<!-- /campaign-10k -->

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

## API under load

\`infra/local/with-moto.sh cargo test -p herald-api --test load -- --ignored --nocapture\`: the API's
Router served over HTTP on 127.0.0.1 (debug build, as \`make run\`), 2,000 GETs per path from 16
concurrent clients (reqwest, keep-alive), every answer checked. The last column is the
emulator's CPU time and Herald's (this process: the API and the clients) over the run's wall
time: when the emulator's is near 100%, the single-threaded emulator is the bottleneck and the
latency is mostly its time.

| read path | requests | p50 | p99 | max | errors | DynamoDB requests per call | emulator / Herald CPU |
|---|---|---|---|---|---|---|---|
$load

## RSVP

| figure | result | goal | how |
|---|---|---|---|
| DynamoDB requests to show a guest's RSVP page | $rsvp_page (one BatchGetItem of event, guest, tenant, wizard and CRM connection; the link key is cached per instance) | ≤ 2 | \`functions/api/tests/rsvp.rs\` (SDK interceptor; asserted, run by make test) |
| DynamoDB requests to take an answer from the page (the confirmation queued, the webhook emitted) | $rsvp_answer | ≤ 6 | same |

## Console

DynamoDB requests of the pages that poll (the session and its key are one BatchGetItem; with
the API's rate limits on, each page adds the key's one UpdateItem):
\`infra/local/with-moto.sh cargo test -p herald-api --test console the_polled -- --nocapture\`
(asserted ≤ 5 by make test, the rate limits off).

| page | DynamoDB requests | by operation |
|---|---|---|
$console_requests

Bytes per page: the HTML, the stylesheet and htmx (uncompressed; goal under 100 KB), from
\`tests/browser.sh\` (the browser test's \`BYTES\` line).

| page | bytes |
|---|---|
$console_bytes

## Conversations

| figure | result | goal | how |
|---|---|---|---|
| the inbound function's CPU per email: a 20 KB multipart reply parsed (mail-parser), its written part cut from the history, read for keywords, planned against 10 rules, folded into search words | median $inbound_cpu | < 300 µs | \`cargo bench -p herald-inbound --bench inbound\` (criterion) |
| DynamoDB requests per inbound SMS (a known contact, the conversation's second message) | $conv_message | | \`functions/api/tests/conversations.rs\` (SDK interceptor; asserted ≤ 11 by make test) |
| DynamoDB requests per search (\`GET /communication/conversations?q=…\`; with the API's rate limits on, one UpdateItem more) | $conv_search | | same |

$(cat infra/bench/conversations_cost.md)

## Transactional messages during a campaign

One email provider held to 20 messages/s carries a 2,000-guest campaign and, while it sends,
20 transactional messages (RSVP confirmations) one every 0.5 s. \`infra/local/with-moto.sh
cargo test -p herald-api --test priority -- --ignored --nocapture\` (debug build, the local
stack). Before the transactional lane (measured 2026-12-06 on the tree before it) the
confirmations queued behind the campaign and waited p50 47,958 ms, p95 49,668 ms, max 51,979
ms.

| figure | result | goal |
|---|---|---|
$priority_rows

## Dates in every language

| figure | result | how |
|---|---|---|
| a long date and time in en-GB, fr-FR, de-DE, it-IT and ja-JP (five formats), the texts remembered as during a campaign | median $dates_bench | \`cargo bench -p herald --bench render\` (criterion) |

The render of the standard email (above) includes its time filters; the binaries' sizes are
in "Functions: binary size and cold start".

## Fault injection

\`functions/api/tests/faults.rs\` (the first five run by \`make test\`, the AWS outage by \`make
bench\`; the counts below from this run). Sent: guests reached (for events: counted);
duplicated: a guest reached twice, or an event counted twice; lost: a guest never reached, or
an event never counted. After recovery only 0 and 0 pass. In the AWS outage each job records
what the providers took through it (the sender tries those writes again for 20 s, and a
failed health report or gate read no longer stops a job between a send and its record), so
nothing is left for a retake to settle ("settled by Send events 0, resent after a retake 0").

| fault | counts | what else it counted |
|---|---|---|
$faults

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
