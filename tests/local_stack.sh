# Sourced by the scripts that test against a fresh local stack (quickstart, fuzz, browser):
# `start_local_stack [VAR=value ...]` starts ./target/debug/herald-local on a free port of
# 127.0.0.1 (with those variables in its environment), waits for it to print its admin key,
# and sets STACK_BASE (http://127.0.0.1:port), STACK_ADMIN_KEY and STACK_LOG. It is stopped by
# its PID when the calling script exits. `call KEY CURL-ARGS...` calls the API with a key and
# JSON; `json PATH` prints a field of the JSON on its input (`json "['id']"`).

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
call() { curl -fsS -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }

start_local_stack() {
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  STACK_LOG="$(mktemp)"
  env "$@" HERALD_PORT="$port" ./target/debug/herald-local >"$STACK_LOG" 2>&1 &
  STACK_PID=$!
  trap 'kill -TERM "$STACK_PID" 2>/dev/null || true; wait "$STACK_PID" 2>/dev/null || true; rm -f "$STACK_LOG"' EXIT
  for _ in $(seq 1 300); do
    grep -q '^HERALD_ADMIN_KEY=' "$STACK_LOG" && break
    kill -0 "$STACK_PID" 2>/dev/null || { cat "$STACK_LOG"; echo "the local stack exited" >&2; exit 1; }
    sleep 0.2
  done
  STACK_BASE="http://127.0.0.1:$port"
  STACK_ADMIN_KEY="$(sed -n 's/^HERALD_ADMIN_KEY=//p' "$STACK_LOG")"
  [ -n "$STACK_ADMIN_KEY" ] || { cat "$STACK_LOG"; echo "no admin key printed" >&2; exit 1; }
}
