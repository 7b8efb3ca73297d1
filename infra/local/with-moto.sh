#!/usr/bin/env bash
# Runs a command with a fresh moto server on a free 127.0.0.1 port, exported as
# AWS_ENDPOINT_URL with dummy credentials; stops moto (by its PID) when the command ends.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
"$root/.venv/bin/python" "$root/infra/local/moto_server.py" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/herald-moto-$port.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto failed to start; see ${TMPDIR:-/tmp}/herald-moto-$port.log" >&2; exit 1; fi
  sleep 0.2
done
# HERALD_MOTO_PID lets benchmarks measure the emulator's own CPU time.
export HERALD_MOTO_PID="$moto_pid"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
"$@"
