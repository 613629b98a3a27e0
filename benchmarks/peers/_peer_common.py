"""Helpers shared by the peer scripts (run in the peers' venv; imports nothing heavy, so that
``limit_threads`` can run before numpy is imported)."""
import os
import sys
import time


def stdout_to_stderr():
    """Send everything the peer library prints (logging, progress) to stderr so that
    stdout carries exactly one JSON line; returns a writer for the real stdout."""
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(real, "w")


def limit_threads(n):
    """Pin BLAS / OpenMP / numexpr / XLA thread pools to n threads.  Must run before numpy is
    imported.  Default 1: on this 2-core machine OpenBLAS' 2-thread gemv was up to ~30x slower
    than 1 thread whenever other processes were busy, which made large-N PyRates timings noise."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "NUMEXPR_MAX_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)
    if n == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return {d.get("internal_api", "?"): d.get("num_threads") for d in threadpool_info()}
    except Exception:  # pragma: no cover
        return None


def compile_listener():
    """numba event listener summing wall and CPU time of (outermost) numba:compile events."""
    import numba.core.event as nev

    class CompileTimer(nev.Listener):
        def __init__(self):
            self.depth, self.wall, self.cpu = 0, 0.0, 0.0

        def on_start(self, event):
            if self.depth == 0:
                self._w, self._c = time.perf_counter(), time.process_time()
            self.depth += 1

        def on_end(self, event):
            self.depth -= 1
            if self.depth == 0:
                self.wall += time.perf_counter() - self._w
                self.cpu += time.process_time() - self._c
    return CompileTimer()


def load_connectome_76():
    """weights (76x76) and tract lengths (mm) from tvb-data's connectivity_76.zip, and the
    file's path (no TVB import)."""
    import io
    import zipfile

    import numpy as np
    import tvb_data
    path = os.path.join(os.path.dirname(tvb_data.__file__), "connectivity", "connectivity_76.zip")
    with zipfile.ZipFile(path) as z:
        w = np.loadtxt(io.BytesIO(z.read("weights.txt")))
        d = np.loadtxt(io.BytesIO(z.read("tract_lengths.txt")))
    return w, d, path


def run_tvb(model, cpl, weights, delays_ms, init, dt_ms, duration_ms, every):
    """Run TVB 2.10 (Euler, raw monitor) on ``weights`` with delays ``delays_ms`` (tract
    lengths at 1 mm/ms), from a constant history ``init`` (n_svar, n_regions); return every
    ``every``-th sample after ``init``: (n_samples, n_svar, n_regions)."""
    import numpy as np
    from tvb.datatypes import connectivity
    from tvb.simulator import integrators, monitors, simulator
    n = weights.shape[0]
    conn = connectivity.Connectivity(weights=weights, tract_lengths=delays_ms,
                                     region_labels=np.array([f"r{i}" for i in range(n)]),
                                     centres=np.zeros((n, 3)), speed=np.array([1.0]))
    conn.configure()
    horizon = int(np.max(np.rint(delays_ms / dt_ms))) + 1
    history = np.repeat(init[np.newaxis, :, :, np.newaxis], horizon, axis=0)
    model.variables_of_interest = tuple(model.state_variables)
    sim = simulator.Simulator(model=model, connectivity=conn, coupling=cpl,
                              integrator=integrators.EulerDeterministic(dt=dt_ms),
                              monitors=(monitors.Raw(),), simulation_length=duration_ms,
                              initial_conditions=history)
    sim.configure()
    (_, data), = sim.run()
    kept = data[every - 1::every, :, :, 0]
    return np.concatenate([init[np.newaxis], kept], axis=0)
