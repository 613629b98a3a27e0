#!/usr/bin/env bash
# One prepared run on a machine with an NVIDIA GPU (issue 15), under 10 minutes on an H200:
# 1. the simulator's equality checks (tests/cuda_sim_check.py) on the real device: both
#    layouts and float32 against the CPU kernel, noise, monitors, divergence, memory plan;
# 2. bench_gpu.py: deterministic JR76 over 1 s against the CPU (<= 1e-9, both layouts), the
#    float32 accuracy, then sims/s of both layouts and precisions, uncapped and with 128
#    registers a thread, against the CPU on all cores. Extra arguments go to bench_gpu.py.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "from numba import cuda; assert cuda.is_available(), 'no CUDA device'"
timeout 240 python tests/cuda_sim_check.py
timeout 330 python benchmarks/bench_gpu.py --batches 256 4096 16384 --cpu-batch 256 \
    --max-registers 0 128 "$@"
