"""The CUDA backend (simulate(backend="cuda")): its kernel against the CPU kernel under numba's
CUDA simulator, and the errors and fallback without a device.

No GPU here (CI never has one): the simulator runs the generated CUDA kernel as Python on the
CPU, in a process of its own (NUMBA_ENABLE_CUDASIM must be set before numba is imported), on
the conftest's Jansen-Rit and noise-test structures (no CPU kernel of its own), in both GPU
layouts (a thread, or a block of threads, per member) and both precisions."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.compile import cuda


@pytest.fixture(scope="module")
def simulated():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("cuda_sim_check.py"))],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


MODES = ("batch", "regions")     # a thread per member, a block of threads per member


@pytest.mark.parametrize("par", MODES)
def test_cuda_kernel_equals_the_cpu_kernel(simulated, par):
    assert simulated[f"backend_{par}"] == ["cuda", par]
    # delays rounded and interpolated, a batch with per-member coupling
    assert simulated[f"deterministic_round_{par}"] <= 1e-12
    assert simulated[f"deterministic_interpolate_{par}"] <= 1e-12


@pytest.mark.parametrize("par", MODES)
def test_cuda_draws_the_same_noise_and_computes_the_same_monitors(simulated, par):
    assert simulated[f"noise_{par}"] <= 1e-12 and simulated[f"monitors_{par}"] <= 1e-12
    assert simulated[f"noise_differs_by_seed_{par}"] > 1e-3      # the members' seeds differ


@pytest.mark.parametrize("par", MODES)
def test_cuda_integrates_noise_on_a_state_as_the_cpu(simulated, par):
    assert simulated[f"state_noise_{par}"] == [pytest.approx(0, abs=1e-12), "heun_stochastic"]


@pytest.mark.parametrize("par", MODES)
def test_cuda_sums_undelayed_coupling_as_the_cpu(simulated, par):
    assert simulated[f"dense_{par}"] <= 1e-12


@pytest.mark.parametrize("par", MODES)
def test_a_diverging_member_is_found_at_the_same_step(simulated, par):
    for mode in ("round", "interpolate"):
        cpu, gpu = simulated[f"status_{mode}_{par}"]
        assert cpu == gpu == ["completed", "completed", "diverged"]
        assert simulated[f"diverged_{mode}_{par}"][0] == simulated[f"diverged_{mode}_{par}"][1]
        assert simulated[f"diverged_{mode}_{par}"][0]["step"] == 1


@pytest.mark.parametrize("par", MODES)
def test_float32_agrees_with_float64(simulated, par):
    """20 ms of a noisy JR network: 2e-7 measured (float32's epsilon is 1.2e-7); the
    README gives a 4-s comparison (trajectories 2e-5, BOLD, FC and spectra 1e-5)."""
    trajectory, monitors, dtype = simulated[f"float32_{par}"]
    assert dtype == "float32" and 1e-9 < trajectory <= 1e-5 and 1e-9 < monitors <= 1e-5


def test_a_sweep_batches_thousands_for_the_gpu(monkeypatch):
    from rate_bridge.sweep import _default_batch_size
    monkeypatch.setattr(cuda, "available", lambda: False)
    assert _default_batch_size("cpu") == _default_batch_size("auto") == 64
    assert _default_batch_size("cuda") == 4096
    monkeypatch.setattr(cuda, "available", lambda: True)
    assert _default_batch_size("auto") == 4096 if not cuda.simulator() else 64


def test_a_register_cap_reaches_the_kernel(monkeypatch):
    from rate_bridge.compile.codegen import generate
    net = rb.Network.from_arrays([[0.0, 1.0], [0.5, 0.0]], "jansen_rit",
                                 coupling=("pc.v", "pc.m_in_e"))
    source = generate(net.kernel_spec("heun", "regions", False, ()))
    assert "\n@cuda.jit\ndef run(" in cuda.cuda_source(source, "region")
    monkeypatch.setattr(cuda, "MAX_REGISTERS", 128)
    assert "\n@cuda.jit(max_registers=128)\ndef run(" in cuda.cuda_source(source, "region")


def test_float32_is_for_the_gpu():
    with pytest.raises(ValueError, match="float32.*GPU"):
        rb.simulate("jansen_rit", 0.01, 1e-4, dtype="float32")
    with pytest.raises(ValueError, match="dtype"):
        rb.simulate("jansen_rit", 0.01, 1e-4, dtype="float16")


def test_region_loops_are_spread_over_a_blocks_threads():
    """The loops the CPU spreads over cores (prange) are spread over a block's threads, each
    followed by a barrier; a count made in one becomes the block's count."""
    src = ("def f(x, S):\n    n_bad = 0\n    for j in prange(S):  # each\n        x[j] += 1.0\n"
           "        n_bad += x[j] > 2.0\n    for q in range(2):\n        for r in prange(S):\n"
           "            x[r] *= 2.0\n\n    return n_bad\n")
    assert cuda._spread(src).split("\n") == [
        "def f(x, S):", "    n_bad = 0",
        "    for j in range(cuda.threadIdx.x, S, cuda.blockDim.x):  # each",
        "        x[j] += 1.0", "        n_bad += x[j] > 2.0",
        "    n_bad = cuda.syncthreads_count(n_bad)", "    for q in range(2):",
        "        for r in range(cuda.threadIdx.x, S, cuda.blockDim.x):", "            x[r] *= 2.0",
        "        cuda.syncthreads()", "", "    return n_bad", ""]
    with pytest.raises(AssertionError, match="nested"):
        cuda._spread("for i in prange(3):\n    for j in prange(2):\n        pass\n")
    with pytest.raises(AssertionError, match="return inside"):
        cuda._spread("for i in prange(3):\n    if i:\n        return\n")
    # on a GPU, parallel="auto" takes a block per member from a warp's worth of regions on
    from rate_bridge.simulate import CUDA_BLOCK_MIN_REGIONS, _cuda_parallel
    assert _cuda_parallel("auto", CUDA_BLOCK_MIN_REGIONS) == "regions"
    assert _cuda_parallel("auto", CUDA_BLOCK_MIN_REGIONS - 1) == "batch"
    assert _cuda_parallel("batch", 1000) == "batch"


def test_ctrl_c_stops_the_gpu_run_keeping_its_samples(simulated):
    status, done, diff = simulated["interrupted"]
    assert status == ["interrupted", "interrupted"] and 64 < done < 1000 and diff <= 1e-12


def test_device_memory_plan_splits_the_batch_or_refuses(simulated):
    assert simulated["launches_of"] == 1 and simulated["one_at_a_time"] <= 1e-12
    assert "of device memory" in simulated["refused"] and "are free" in simulated["refused"]


def test_without_a_device_cuda_is_an_error_and_auto_takes_the_cpu():
    if cuda.available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match=r"backend='cuda' needs an NVIDIA GPU"):
        rb.simulate("jansen_rit", 0.01, 1e-4, backend="cuda")
    res = rb.simulate("jansen_rit", 0.01, 1e-4, backend="auto")
    assert res.provenance["backend"] == "cpu"
    with pytest.raises(ValueError, match="backend"):
        rb.simulate("jansen_rit", 0.01, 1e-4, backend="gpu")


@pytest.mark.parametrize("par", MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_kernel_compiles_for_a_gpu_without_one(monkeypatch, par, dtype):
    """With numba-cuda and NVIDIA's compiler libraries (pip: numba-cuda,
    nvidia-cuda-nvcc-cu12, nvidia-cuda-nvrtc-cu12) the generated kernel, monitors and noise
    included, compiles to PTX for compute capability 9.0: the CUDA target's typing and
    lowering, which the simulator does not do. Skipped without them (as in CI)."""
    pytest.importorskip("numba_cuda")
    import numba
    from numba import cuda as ncuda
    from numba import types
    try:
        ncuda.compile_ptx(lambda a: None, (types.float64[:],), cc=(9, 0))
    except Exception as err:                     # no NVVM / NVRTC libraries
        pytest.skip(f"NVVM unavailable: {err!s:.80}")
    from types import SimpleNamespace

    import numba.cuda.dispatcher as dispatcher
    # calls of device functions ask the driver for the compute capability: there is none here
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: SimpleNamespace(compute_capability=(9, 0)))
    ptx = []

    def compile_only(spec, source, args, carry, dtype):
        module, f = cuda.kernel(spec, source, dtype), numba.from_dtype(np.dtype(dtype))
        sig = tuple(numba.typeof(v) for v in cuda.device_values(args, dtype).values()) + (
            types.int64,) * 4 + (f[:, ::1], f[:, ::1], types.uint64[:, ::1])
        ptx.append(ncuda.compile_ptx(module.run.py_func, sig, cc=(9, 0))[0])
        return False
    monkeypatch.setattr(cuda, "available", lambda: True)
    monkeypatch.setattr(cuda, "run", compile_only)
    net = rb.Network.from_arrays([[0.0, 1.0], [0.5, 0.0]], "jansen_rit",
                                 coupling=("pc.v", "pc.m_in_e"), delays=[[0, 0.004], [0.003, 0]])
    rb.simulate(net, 0.02, 1e-4, backend="cuda", noise={"pc.u": 22.0}, record=["pc.v"],
                parallel=par, dtype=dtype,
                monitors=[rb.monitors.Covariance("pc.v"), rb.monitors.Bold("pc.v", tr=0.01),
                          rb.monitors.Welch("pc.v", nperseg=8),
                          rb.monitors.Sensors("pc.v", gain=[[1.0, 2.0]])])
    ops = {t: len(re.findall(rf"\b(?:add|sub|mul|fma\.rn|div\.rn)\.{t}\b", ptx[0]))
           for t in ("f32", "f64")}
    assert len(ptx) == 1 and ".entry" in ptx[0]
    # float32: the model's arithmetic in float32; float64 is left to the noise generator
    assert ops["f32"] == 0 if dtype == "float64" else ops["f32"] > 2 * ops["f64"]
    assert ("bar.sync" in ptx[0]) == (par == "regions")        # a block's barriers
