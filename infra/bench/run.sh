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

echo "== arm64 release build of every function" >&2
rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
PATH="$root/.venv/bin:$PATH" cargo lambda build --release --arm64 --bin api >&2
api_size_bytes="$(stat -c %s target/lambda/api/bootstrap)"
api_size="$(python3 -c "print('%.2f MB (%d bytes)' % ($api_size_bytes/1e6, $api_size_bytes))")"

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

## Binary size

| function | arm64 release binary | goal | how |
|---|---|---|---|
| api | $api_size | < 10 MB | \`cargo lambda build --release --arm64 --bin api\` (cargo-lambda and zig from .venv) |
MD
echo "BENCHMARKS.md rewritten" >&2
