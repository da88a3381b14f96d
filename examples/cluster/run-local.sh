#!/usr/bin/env bash
# Three chantilly nodes on one PostgreSQL, on this machine, behind HAProxy on :8080:
#   DB=postgresql://postgres@127.0.0.1:5432/chantilly examples/cluster/run-local.sh
# Stop with Ctrl-C: the nodes get SIGTERM and hand their models over as they leave.
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=${DB:?set DB to a postgresql:// URL}
PY=${PY:-.venv/bin/python}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for n in 1 2 3; do
    "$PY" chantilly.py run --port "500$n" --db "$DB" --allowed-hosts 127.0.0.1 &
    pids+=($!)
done
config=$(mktemp --suffix=.cfg)
sed -e 's/node\([123]\)\.internal:5000/127.0.0.1:500\1/' examples/cluster/haproxy.cfg > "$config"
haproxy -db -f "$config" &
pids+=($!)
wait
