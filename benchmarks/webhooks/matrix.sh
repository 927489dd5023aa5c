#!/usr/bin/env bash
# Every figure in README.md: each configuration 3 times on a fresh store, waiting for a quiet
# box first and re-running runs that other processes disturbed. Appends to $1 (JSON lines);
# `table.py $1` makes the table. Takes 15-60 minutes depending on the neighbours.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-benchmarks/webhooks/results.jsonl}
load() {
  .venv/bin/python benchmarks/webhooks/load.py --json "$out" --wait-quiet 300 "$@" || echo "FAILED: $*"
}
for backend in sqlite postgres; do
  for c in 16 32 64; do load --backend "$backend" --concurrency "$c" --repeat 3; done
  for c in 8 32; do load --backend "$backend" --batch 20 --events 40000 --concurrency "$c" --repeat 3; done
  load --backend "$backend" --crash --repeat 3
  load --backend "$backend" --crash --batch 20 --events 40000 --kills 3 --kill-after 8000
done
uptime
