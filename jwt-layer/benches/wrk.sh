#!/usr/bin/env bash
# Requests per second over TCP, the way the issue measured them: the server on
# one core (`taskset -c 0`, a single-threaded runtime), wrk on another, 32
# connections, one token repeated; each variant in each round, median of the
# rounds. Prints a Markdown table: req/s, the ratio to bare axum of the same
# round, sent the same token (median of the per-round ratios), and the
# server's CPU time per request (from /proc, user + system) with what it adds
# to bare axum.
#
#   jwt-layer/benches/wrk.sh                 # everything (about 6 minutes)
#   ROUNDS=5 DURATION=10 jwt-layer/benches/wrk.sh
#   PARTS=layer jwt-layer/benches/wrk.sh     # only the layer table
#   PARTS=production jwt-layer/benches/wrk.sh
#   BEFORE=/path/to/older/wrk_server jwt-layer/benches/wrk.sh   # also `layer@before`
#
# BEFORE is a wrk_server built from another revision (copy examples/wrk_server.rs
# there): its layer variants run in the same rounds, as `<variant>@before`.
#
# Needs wrk, redis-server, curl and jq; Linux (taskset, /proc). Run it on an
# otherwise idle machine: anything else on the two cores shows in the figures.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
PARTS=${PARTS:-layer production}
ALGS=${ALGS:-HS256 RS256 ES256 EdDSA}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in wrk redis-server curl jq taskset; do
  command -v "$tool" >/dev/null || { echo "wrk.sh needs $tool" >&2; exit 1; }
done

cd "$ROOT"
cargo build --quiet --release -p jwt-layer --features issue --example wrk_server
cargo build --quiet --release -p examples --bin 14_production

# Starts `$@` on the server core; sets PID and URL (from its `listening on` line).
start() {
  taskset -c "$SERVER_CORE" "$@" >"$WORK/out" 2>/dev/null &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 200); do
    URL=$(sed -n 's/^listening on //p' "$WORK/out")
    [ -n "$URL" ] && return
    sleep 0.05
  done
  echo "server did not start: $*" >&2
  exit 1
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

# CPU time of PID so far, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One wrk run against URL with header $AUTH: prints "req/s cpu-µs-per-request".
measure() {
  local path=$1 warm before after out requests
  warm=(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d1s)
  [ -n "$AUTH" ] && warm+=(-H "$AUTH")
  "${warm[@]}" "$URL$path" >/dev/null
  before=$(ticks "$PID")
  local run=(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s")
  [ -n "$AUTH" ] && run+=(-H "$AUTH")
  out=$("${run[@]}" "$URL$path")
  after=$(ticks "$PID")
  if echo "$out" | grep -q "Non-2xx"; then
    echo "refusals in the run against $URL$path:" >&2
    echo "$out" >&2
    exit 1
  fi
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  echo "$(echo "$out" | awk '/Requests\/sec/ { print $2 }')" \
    "$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "%.2f", t / hz * 1e6 / n }')"
}

# Rows "name alg round req/s cpu" are appended to a file; the table is printed
# from them, each row against the baseline row ("name" or "name alg") of its round.
table() {
  local rows=$1 baseline=$2
  python3 - "$rows" "$baseline" <<'PY'
import collections, statistics, sys
rows, baseline = sys.argv[1], sys.argv[2]
data = collections.defaultdict(dict)
order = []
for line in open(rows):
    name, alg, rnd, rps, cpu = line.split()
    key = (name, alg)
    if key not in order:
        order.append(key)
    data[key][rnd] = (float(rps), float(cpu))
name, _, alg = baseline.partition(" ")
base = next(k for k in order if k[0] == name and (not alg or k[1] == alg))
print("| variant | alg | req/s | ratio to %s | CPU µs/request | added µs/request |" % name)
print("|---|---|---:|---:|---:|---:|")
for key in order:
    rounds = data[key]
    ratios = [rounds[r][0] / data[base][r][0] for r in rounds if r in data[base]]
    added = [rounds[r][1] - data[base][r][1] for r in rounds if r in data[base]]
    print("| %s | %s | %.0f | %.3f | %.2f | %.2f |" % (
        key[0], key[1],
        statistics.median(v[0] for v in rounds.values()),
        statistics.median(ratios),
        statistics.median(v[1] for v in rounds.values()),
        statistics.median(added)))
PY
}

if [[ " $PARTS " == *" layer "* ]]; then
  : >"$WORK/layer"
  for round in $(seq "$ROUNDS"); do
    for alg in $ALGS; do
      # `bare` gets the same request (the token included), so each ratio is
      # what authentication costs, not what a longer header costs hyper.
      variants="bare raw layer"
      [ "$alg" = HS256 ] && variants="bare raw layer layer-around layer-nocache"
      runs=""
      for variant in $variants; do
        runs="$runs $variant=$TARGET/release/examples/wrk_server"
        if [ -n "${BEFORE:-}" ] && [[ "$variant" == layer* ]]; then
          runs="$runs $variant@before=$BEFORE"
        fi
      done
      for run in $runs; do
        name=${run%%=*}
        start "${run#*=}" "${name%@before}" "$alg"
        AUTH="Authorization: Bearer $(sed -n 's/^token //p' "$WORK/out")"
        echo "$name $alg $round $(measure /)" >>"$WORK/layer"
        stop
      done
    done
    echo "round $round done" >&2
  done
  echo
  echo "## JwtLayer over TCP: one server core, $CONNECTIONS connections, one token repeated, median of $ROUNDS"
  echo
  for alg in $ALGS; do
    grep " $alg " "$WORK/layer" >"$WORK/layer-$alg"
    table "$WORK/layer-$alg" "bare $alg" | { [ "$alg" = "${ALGS%% *}" ] && cat || tail -n +3; }
  done
fi

if [[ " $PARTS " == *" production "* ]]; then
  # A private Redis on the client core (the server core stays the app's).
  REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$CLIENT_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$WORK" >/dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  : >"$WORK/production"
  for round in $(seq "$ROUNDS"); do
    for store in memory redis-no-cache redis; do
      env=(env -u REDIS_URL -u REVOCATION_CACHE_SECS PORT=0 DEV_KEYS=1 DEMO_ACCOUNTS=1 RUST_LOG=error)
      [ "$store" = redis ] && env+=(REDIS_URL="redis://127.0.0.1:$REDIS_PORT/")
      [ "$store" = redis-no-cache ] && env+=(REDIS_URL="redis://127.0.0.1:$REDIS_PORT/" REVOCATION_CACHE_SECS=0)
      start "${env[@]}" "$TARGET/release/14_production"
      ACCESS=$(curl -sf "$URL/auth/login" -H 'content-type: application/json' \
        -d '{"username":"alice","password":"wonderland"}' | jq -r .access_token)
      AUTH=""
      [ "$store" = memory ] && echo "health - $round $(measure /health)" >>"$WORK/production"
      AUTH="Authorization: Bearer $ACCESS"
      echo "api/me $store $round $(measure /api/me)" >>"$WORK/production"
      stop
    done
    echo "round $round done" >&2
  done
  echo
  echo "## 14_production over TCP: /api/me by store, one server core, $CONNECTIONS connections, median of $ROUNDS"
  echo
  table "$WORK/production" "api/me memory"
fi
