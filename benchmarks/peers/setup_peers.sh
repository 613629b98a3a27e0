#!/usr/bin/env bash
# Recreate the venv(s) holding the peer simulators (PyRates, TVB, neurolib) used by
# benchmarks/peers/*.py.  They are GPL and live outside the repo; nothing is vendored.
#
#   bash benchmarks/peers/setup_peers.sh            # one venv: /work/peers_venv (what was verified)
#   bash benchmarks/peers/setup_peers.sh --split    # three venvs: /work/peers_venv_{pyrates,tvb,neurolib}
#   bash benchmarks/peers/setup_peers.sh --latest   # same, but without the pinned constraints.txt
#   bash benchmarks/peers/setup_peers.sh --no-check # skip the short smoke runs
#
# Environment: PYTHON (default python3, 3.11 verified), PEERS_VENV (default /work/peers_venv),
# PEERS_VENV_PREFIX (default /work/peers_venv, used by --split: <prefix>_pyrates etc.).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
SPLIT=0; LATEST=0; CHECK=1
for a in "$@"; do
  case "$a" in
    --split) SPLIT=1 ;;
    --latest) LATEST=1 ;;
    --no-check) CHECK=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
CONS=()
[ "$LATEST" = 1 ] || CONS=(-c "$HERE/constraints.txt")

PKG_PYRATES=(pyrates==1.2.3 numba threadpoolctl jax==0.10.2)   # numba: --backend numba; jax: --backend jax (fastest here)
PKG_TVB=(tvb-library==2.10.0 tvb-data==3.0.0)
PKG_NEUROLIB=(neurolib==0.6.2 tvb-data==3.0.0)   # tvb-data only for the 76-region connectome files

make_venv() {  # make_venv DIR PKG...
  local dir="$1"; shift
  echo "== creating $dir with: $*" >&2
  "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install --upgrade pip setuptools wheel >&2
  "$dir/bin/python" -m pip install "${CONS[@]}" "$@" >&2
  "$dir/bin/python" -c "import numpy, numba; print('numpy', numpy.__version__, 'numba', numba.__version__)" >&2
}

check() {  # check PYTHON SCRIPT ARGS...
  local py="$1" script="$2"; shift 2
  local out
  out="$("$py" "$HERE/$script" "$@" 2>/dev/null)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL $script: expected one JSON line" >&2; return 1; }
  printf '%s\n' "$out" | "$py" -c "import json,sys; d=json.load(sys.stdin); print('ok', d['peer'], d['workload'], 'seconds=%.3f' % d['seconds'])"
}

if [ "$SPLIT" = 0 ]; then
  V="${PEERS_VENV:-/work/peers_venv}"
  make_venv "$V" "${PKG_PYRATES[@]}" "${PKG_TVB[@]}" "${PKG_NEUROLIB[@]}"
  PYR="$V/bin/python"; PYT="$V/bin/python"; PYN="$V/bin/python"
else
  PFX="${PEERS_VENV_PREFIX:-/work/peers_venv}"
  make_venv "${PFX}_pyrates" "${PKG_PYRATES[@]}"
  make_venv "${PFX}_tvb" "${PKG_TVB[@]}"
  make_venv "${PFX}_neurolib" "${PKG_NEUROLIB[@]}"
  PYR="${PFX}_pyrates/bin/python"; PYT="${PFX}_tvb/bin/python"; PYN="${PFX}_neurolib/bin/python"
fi

if [ "$CHECK" = 1 ]; then
  check "$PYR" pyrates_jrc.py --duration 0.05 --backend default
  check "$PYR" pyrates_jrc.py --duration 0.05 --backend numba
  check "$PYR" pyrates_jrc.py --duration 0.05 --backend jax
  check "$PYR" pyrates_grid.py --n 4 --p 0.5 --duration 0.05
  check "$PYT" tvb_jr76.py --duration 0.05
  check "$PYT" tvb_jr76.py --duration 0.05 --stochastic
  check "$PYN" neurolib_76.py --duration 0.05
fi
echo "peers ready" >&2
