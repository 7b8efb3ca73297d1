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

echo "== Handlebars.js: the same template under Node" >&2
(cd infra/bench/handlebars && npm ci --no-audit --no-fund --silent >&2)
hbs_json="$(node infra/bench/handlebars/bench.js)"
hbs="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("median %.2f µs (%s, Node %s)" % (d["median_us"], d["engine"], d["node"]))' "$hbs_json")"
ratio="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.2f" % (float(sys.argv[2]) / d["median_us"]))' "$hbs_json" "$render_us")"

echo "== arm64 release build of every function" >&2
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
PATH="$root/.venv/bin:$PATH" cargo lambda build --release --arm64 --bin api --bin wizard >&2
size_of() {
  local bytes
  bytes="$(stat -c %s "target/lambda/$1/bootstrap")"
  python3 -c "print('%.2f MB (%d bytes)' % ($bytes/1e6, $bytes))"
}
api_size="$(size_of api)"
wizard_size="$(size_of wizard)"

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
| api | $api_size | < 10 MB | \`cargo lambda build --release --arm64 --bin api --bin wizard\` (cargo-lambda and zig from .venv) |
| wizard | $wizard_size | < 10 MB | same build |
MD
echo "BENCHMARKS.md rewritten" >&2
