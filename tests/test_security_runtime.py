"""Runtime reliability (issue 9): Ctrl-C, divergence in batches and sweeps, memory estimates,
a damaged kernel cache, values checked before the run, and CLI outputs never overwritten.

Every simulating test runs conftest's damped oscillator with rk4 on one region: no kernel of its
own.
"""
import logging
import os
import pickle
import shutil
import signal
import threading
import time
import tracemalloc

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.cli import main
from rate_bridge.compile import cache
from rate_bridge.forward_models.signals import resolve_moment_scale
from rate_bridge.simulate import SimulationInterrupted, SimulationMemoryError
from rate_bridge.sweep import sweep

RK4 = dict(integrator="rk4", record=["n.x"])


@pytest.fixture
def warnings_log():
    """Messages rate_bridge logs at WARNING and above during the test."""
    from rate_bridge.utils import logger
    messages = []

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = _Collect(logging.WARNING)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


# -- Ctrl-C and memory of a long run ------------------------------------------------------------
def test_ctrl_c_stops_the_kernel_and_keeps_the_samples(oscillator):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by something else here")
    rb.simulate(oscillator, 0.05, 1e-4, **RK4)               # kernel loaded before timing
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.5, interrupt)
    tracemalloc.start()
    timer.start()
    try:
        # the call: 1e9 steps (minutes), 1e5 samples; no 7.45 GiB time vector
        with pytest.raises(KeyboardInterrupt) as err:
            rb.simulate(oscillator, 1e5, 1e-4, sampling_rate=1, **RK4)
        stopped = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        timer.cancel()
        tracemalloc.stop()
    assert stopped - sent[0] < 1.5
    assert peak < 50e6
    assert isinstance(err.value, SimulationInterrupted)
    res = err.value.result
    assert res.status == "interrupted"
    steps = res.provenance["steps_done"]
    assert 0 < steps < 10 ** 9
    x = res["n.x"][:, 0]
    n_kept = (steps - 1) // 10 ** 4 + 1       # samples at t = 0, 1, 2 ... s (every 1e4 steps)
    assert np.isfinite(x[:n_kept]).all() and np.isnan(x[n_kept:]).all()
    again = rb.simulate(oscillator, 0.05, 1e-4, **RK4)       # the kernel runs again after it
    assert again.status == "completed" and np.isfinite(again["n.x"]).all()


def test_a_run_larger_than_memory_is_refused_before_allocating(oscillator):
    with pytest.raises(SimulationMemoryError, match=r"needs about [\d.]+ GiB .*recordings.*"
                                                    r"only [\d.]+ GiB is available") as err:
        rb.simulate(oscillator, 1e9, 1e-3, sampling_rate=1e3, record=["n.x", "n.v"])
    assert isinstance(err.value, MemoryError) and isinstance(err.value, ValueError)
    assert err.value.needed > err.value.available
    with pytest.raises(SimulationMemoryError, match="batch arrays|recordings"):
        rb.simulate(oscillator, 1e4, 1e-3, params=[{}] * 10 ** 4, record=["n.x", "n.v"])
    with pytest.raises(ValueError, match=r"duration = 1 s with dt = 1e-300 s makes 1e\+300 "
                                         "steps"):
        rb.simulate(oscillator, 1.0, 1e-300)


# -- divergence: batches and sweeps keep every member --------------------------------------------
def test_a_diverging_member_keeps_the_rest_of_its_batch(oscillator, warnings_log):
    # w dt = 10 is outside rk4's stability region: member 1 blows up, 0 and 2 do not
    batch = rb.simulate(oscillator, 0.1, 1e-4, params=[{}, {"n.w": 1e5}, {"n.z": 0.5}],
                        n_jobs=1, **RK4)
    assert batch.status == ["completed", "diverged", "completed"]
    alone = rb.simulate(oscillator, 0.1, 1e-4, params={"n.z": 0.5}, **RK4)
    np.testing.assert_array_equal(batch[2]["n.x"], alone["n.x"])
    where = batch[1].diverged_at
    assert where["region"] == "osc" and where["variable"] in ("n.x", "n.v")
    assert 0 < where["time"] < 0.1 and where["step"] == round(where["time"] / 1e-4)
    x = batch[1]["n.x"][:, 0]
    last = int(where["time"] * 1000)                       # sampled at 1 kHz
    assert np.isnan(x[last + 1:]).all() and np.isfinite(x[:last]).all()
    assert batch[0].diverged_at is None
    assert any("1 of 3 batch members diverged" in m and "member 1" in m for m in warnings_log)
    with pytest.raises(rb.SimulationDiverged, match="'osc'"):       # a single run still raises
        rb.simulate(oscillator, 0.1, 1e-4, params={"n.w": 1e5}, **RK4)


def test_a_sweep_keeps_every_chunk_and_reports_the_status(oscillator, warnings_log):
    design = [{"n.w": 20.0}, {"n.w": 30.0}, {"n.w": 1e5}, {"n.w": 40.0}]
    kw = dict(batch_size=2, n_jobs=1, **RK4)
    table = sweep(oscillator, design, 0.1, 1e-4, reduce=lambda r: {"end": r["n.x"][-1, 0]}, **kw)
    assert list(table.columns) == ["n.w", "end", "status"]
    assert list(table["status"]) == ["completed", "completed", "diverged", "completed"]
    assert np.isnan(table.loc[2, "end"]) and np.isfinite(table["end"][[0, 1, 3]]).all()
    assert any("design rows [2]" in m for m in warnings_log)
    results = sweep(oscillator, design, 0.1, 1e-4, **kw)
    assert [r.status for r in results] == list(table["status"])
    assert results[3]["n.x"][-1, 0] == table.loc[3, "end"]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        sweep(oscillator, design, 0.1, 1e-4, batch_size=0)


def test_an_interrupted_sweep_keeps_the_finished_batches(oscillator):
    calls = []

    def reduce(res):                  # Ctrl-C while the second batch is being reduced
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return {"end": res["n.x"][-1, 0]}

    design = [{"n.w": w} for w in (20.0, 30.0, 40.0, 50.0)]
    with pytest.raises(SimulationInterrupted, match="after 2 of 4 points") as err:
        sweep(oscillator, design, 0.1, 1e-4, batch_size=2, n_jobs=1, reduce=reduce, **RK4)
    table = err.value.result
    assert list(table["n.w"]) == [20.0, 30.0] and list(table["status"]) == ["completed"] * 2


# -- kernel cache ---------------------------------------------------------------------------------
def test_a_truncated_kernel_cache_is_discarded_and_rebuilt(oscillator, tmp_path, monkeypatch,
                                                          warnings_log):
    first = rb.simulate(oscillator, 0.05, 1e-4, **RK4)
    key = first.provenance["kernel"]
    src = cache.cache_dir()
    files = [src / f"rb_kernel_{key}.py"] + sorted((src / "__pycache__").glob(
        f"rb_kernel_{key}.*.nb[ic]"))
    assert any(f.suffix == ".nbi" for f in files) and any(f.suffix == ".nbc" for f in files)
    for f in files:                       # a copy of the cache entry, every file cut in half
        dest = tmp_path / f.relative_to(src)
        dest.parent.mkdir(exist_ok=True)
        shutil.copy2(f, dest)
        os.truncate(dest, dest.stat().st_size // 2)
    monkeypatch.setenv("RATE_BRIDGE_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "_LOADED", {})            # as in a new process
    again = rb.simulate(oscillator, 0.05, 1e-4, **RK4)
    np.testing.assert_array_equal(again["n.x"], first["n.x"])
    assert any(f"rb_kernel_{key}" in m and "discarded" in m for m in warnings_log)
    index = list((tmp_path / "__pycache__").glob(f"rb_kernel_{key}.*.nbi"))
    assert index
    for f in index:                       # rewritten whole: numba can read them again
        with open(f, "rb") as fh:
            pickle.load(fh)
            pickle.loads(fh.read())
    assert (tmp_path / f"rb_kernel_{key}.py").read_text() == \
        (src / f"rb_kernel_{key}.py").read_text()


# -- values checked before the run, each error naming the value ---------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_jobs=0), ValueError, "n_jobs must be None, -1"),
    (dict(n_jobs=-2), ValueError, "n_jobs must be None, -1"),
    (dict(n_jobs="2"), TypeError, "n_jobs must be .* got str"),
    (dict(n_jobs=2.0), TypeError, "n_jobs must be .* got float"),
    (dict(n_jobs=True), TypeError, "n_jobs must be .* got bool"),
    (dict(seed=2 ** 64), ValueError, "seed must be < 2\\*\\*64"),
    (dict(seed=2 ** 64 - 2, params=[{}] * 3), ValueError, "seed \\+ batch member 2"),
    (dict(seed=True), TypeError, "seed must be an int"),
    (dict(seed=1.5), TypeError, "seed must be an int"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(seed=[0, "1"], params=[{}, {}]), TypeError, r"seed\[1\] must be an int"),
    (dict(duration=0.10005), ValueError, r"duration = 0.10005 s is not a whole number of steps "
                                         r"of dt = 0.001 s"),
    (dict(duration="1"), TypeError, "duration must be a number"),
    (dict(dt=np.nan), ValueError, "dt must be a positive"),
    (dict(initial_state={"n.x": np.nan}), ValueError, r"initial_state\['n.x'\] contains NaN"),
    (dict(params=[{}, {"n.w": np.inf}]), ValueError,
     r"params\['n.w'\] \(batch member 1\) contains NaN or inf"),
    (dict(params={"n.w": "fast"}), TypeError, r"params\['n.w'\] must be a number"),
    (dict(noise={"n.x": "loud"}, integrator="euler"), TypeError,
     r"noise\[.n.x.\] must be a number"),
])
def test_bad_run_arguments_are_named_before_the_run(oscillator, kwargs, error, match):
    kw = dict(duration=0.1, dt=1e-3, **RK4)
    kw.update(kwargs)
    with pytest.raises(error, match=match):
        rb.simulate(oscillator, **kw)


def test_bad_coupling_values_and_speeds_are_named():
    two = np.array([[0.0, 1.0], [1.0, 0.0]])
    kw = dict(coupling=("pc.m_out", "pc.m_in_e"))
    net = rb.Network.from_arrays(two, "jansen_rit", **kw)
    for value in (np.nan, np.inf):
        with pytest.raises(ValueError, match=r"params\['global_coupling'\] must be a finite number, got (nan|inf)"):
            rb.simulate(net, 0.1, 1e-3, params={"global_coupling": value})
        with pytest.raises(ValueError, match="global_coupling must be a finite number"):
            rb.Network.from_arrays(two, "jansen_rit", global_coupling=value, **kw)
    with pytest.raises(ValueError, match=r"params\['coupling0.G'\] \(batch member 1\) must be a finite number, got nan"):
        rb.simulate(net, 0.1, 1e-3, params=[{}, {"coupling0.G": np.nan}])
    with pytest.raises(ValueError, match="coupling parameter 'cmax' must be a finite number"):
        rb.Network.from_arrays(two, "jansen_rit", coupling=("pc.v", "pc.m_in_e"),
                               coupling_function="sigmoidal", coupling_params={"cmax": np.nan})
    conn = rb.adapters.Connectome(two, np.full((2, 2), 10.0))
    for speed in (np.nan, -np.inf, -3.0, 0.0):
        with pytest.raises(ValueError, match="speed must be a positive number"):
            rb.Network.from_connectome(conn, "jansen_rit", speed=speed, **kw)
    with pytest.raises(TypeError, match="speed must be a number .* got str"):
        rb.Network.from_connectome(conn, "jansen_rit", speed="3", **kw)
    no_delay = rb.Network.from_connectome(conn, "jansen_rit", speed=np.inf, **kw)
    assert no_delay.delays.nnz == 2 and not no_delay.delays.data.any()


@pytest.mark.parametrize("scale, error", [(-1e-8, ValueError), (0.0, ValueError),
                                          (np.nan, ValueError), (np.inf, ValueError),
                                          ("1e-8", TypeError), (True, TypeError)])
def test_moment_scale_must_be_positive_and_finite(scale, error):
    # every forward projection (to_raw, to_epochs, to_evoked, to_source_estimate, moments)
    # takes its scale from here
    with pytest.raises(error, match="moment_scale must be a"):
        resolve_moment_scale(None, "pc.v", scale)
    assert resolve_moment_scale(None, "pc.v", 2e-8) == (2e-8, "given")


# -- the command line never overwrites a file unless told to ------------------------------------
def test_cli_refuses_to_overwrite_outputs(tmp_path, capsys):
    fif, png = tmp_path / "x_raw.fif", tmp_path / "x_psd_topomap.png"
    for existing in (fif, png):
        existing.write_bytes(b"keep me")
        assert main(["simulate", "-q", "-o", str(fif)]) == 2
        err = capsys.readouterr().err
        assert f"{existing} exists; pass --overwrite" in err
        assert existing.read_bytes() == b"keep me"
        existing.unlink()
    cfg = tmp_path / "none.yaml"
    cfg.write_text("forward: {kind: none}\n")
    (tmp_path / "x_raw.nc").write_bytes(b"keep me")
    assert main(["simulate", str(cfg), "-o", str(fif)]) == 2
    assert "x_raw.nc exists; pass --overwrite" in capsys.readouterr().err
    csv = tmp_path / "sweep.csv"
    csv.write_text("keep me")
    assert main(["sweep", "-q", "-o", str(csv), "--param", "pc.u=100,200"]) == 2
    assert f"{csv} exists; pass --overwrite" in capsys.readouterr().err
    assert csv.read_text() == "keep me"
