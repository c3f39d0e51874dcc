#!/usr/bin/env bash
# Before and after, on this machine, in one run: the chat scenario at
# 500 msg/s (server CPU per million deliveries, latency) and the reminder
# burst (5,000 jobs due over 10 s on the in-memory store), for two builds,
# interleaved A B A B … over ROUNDS rounds. The same generator (the newer
# cms-loadtest) drives both servers, so only the server differs.
#
#   loadtests/compare.sh BEFORE_BIN_DIR BEFORE_REMINDER_BENCH AFTER_BIN_DIR AFTER_REMINDER_BENCH
#
# Each BIN_DIR holds a release cms-server (AFTER_BIN_DIR also cms-loadtest).
# A reminder bench given as `-` skips the reminder burst; CHAT_ARGS adds
# arguments to the chat run (e.g. `--find-max --p99-ms 50`).
# Prints one JSON line per run, tagged with its build and round.
set -euo pipefail
cd "$(dirname "$0")/.."

BEFORE=$1 BEFORE_REM=$2 AFTER=$3 AFTER_REM=$4
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-500}
SECS=${SECS:-15}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT=${PORT:-4710}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
export CMS_AUTH_SECRET=compare-secret CMS_LOG_FILTER=warn
export CMS_SOCKET_RATE_PER_SECOND=1000 CMS_SOCKET_RATE_BURST=1000
# The load comes from a few loopback addresses and pushes chat far above a
# person's pace: lift the per-address and per-user abuse limits
# (docs/security.md) that would otherwise refuse it.
export CMS_LIMITS_CONNECTIONS_PER_ADDRESS=1000000 CMS_LIMITS_MESSAGES_PER_USER_PER_SECOND=100000

# shellcheck source=loadtests/common.sh
. loadtests/common.sh

tag() { sed "s/^/{\"build\":\"$1\",\"round\":$2,\"run\":/; s/\$/}/"; }

chat() { # build-name bin-dir round
  local name=$1 bin=$2 round=$3 db="$WORK/db-$1-$3"
  "$bin/cms-server" --database-url "surrealkv://$db" seed \
    --conversations 500 --members 4 --token-hours 2 --out "$WORK/seed-$name.json" >/dev/null
  taskset -c "$SERVER_CPU" "$bin/cms-server" --listen "127.0.0.1:$PORT" \
    --database-url "surrealkv://$db" >"$WORK/server-$name.log" 2>&1 &
  local pid=$!
  wait_port "$PORT"
  taskset -c "$LOAD_CPU" "$AFTER/cms-loadtest" --target cms --url "http://127.0.0.1:$PORT" \
    --seed "$WORK/seed-$name.json" --server-pid "$pid" --json "$WORK/chat.jsonl" \
    chat --conversations 500 --members 4 --rate "$RATE" --secs "$SECS" ${CHAT_ARGS:-} >/dev/null 2>&1 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  tag "$name" "$round" <"$WORK/chat.jsonl"
  rm -f "$WORK/chat.jsonl"; rm -rf "$db"
}

reminders() { # build-name bench-binary round
  local name=$1 bench=$2 round=$3
  local out
  out=$(taskset -c "$SERVER_CPU" /usr/bin/time -f '{"cpu_secs":%U,"sys_secs":%S}' \
    "$bench" --jobs 5000 --spread-secs 10 --lead-secs 30 --store mem 2>"$WORK/time.txt" | tail -n 1)
  local cpu
  cpu=$(tail -n 1 "$WORK/time.txt")
  echo "{\"build\":\"$name\",\"round\":$round,\"run\":$out,\"time\":$cpu}"
}

for round in $(seq 1 "$ROUNDS"); do
  chat before "$BEFORE" "$round"
  chat after "$AFTER" "$round"
  if [ "$BEFORE_REM" != - ]; then
    reminders before "$BEFORE_REM" "$round"
    reminders after "$AFTER_REM" "$round"
  fi
done
