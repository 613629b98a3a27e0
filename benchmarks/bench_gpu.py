#!/usr/bin/env python
"""Benchmark: the CUDA backend against the CPU backend on all cores of the same machine.

Workloads (issue 15): Jansen-Rit on a 76-region connectome (tvb-data's if installed, else a
random one of the same size; delays at 3 m/s, Heun, dt 0.1 ms, input noise, 2 s simulated,
nothing recorded but a Covariance monitor, as in a sweep) at batch sizes 256 ... 65536, and a
1000-region random sparse network (~20 edges per region, delays up to 20 ms). Reported:
simulations per second on the GPU (``backend="cuda"``, first call excluded: it compiles) in
both of its layouts (``parallel="batch"``: a thread per member; ``"regions"``: a block of
threads per member, spread over its regions), for JR76 in float64 and float32, and on the
CPU (``backend="cpu"``, every core), and their ratio; a deterministic JR76 run on the CPU and
in each GPU layout, compared (relative difference over 1 s, the issue's bar: <= 1e-9).

Without a CUDA device it says so and exits: the backend's correctness is then only what the
test suite checks under numba's CUDA simulator (tests/test_cuda.py). ``--simulator`` runs this
script's code path there on a tiny workload (a smoke run of the script, not a benchmark).

    python benchmarks/bench_gpu.py                         # batches 256 ... 65536
    python benchmarks/bench_gpu.py --batches 256 4096 --cpu-batch 256
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if "--simulator" in sys.argv:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"       # before numba is imported
    sys.setswitchinterval(1e-5)    # the simulator polls for barriers holding the GIL
import _common as C  # noqa: E402

NAME = "gpu"


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--batches", nargs="+", type=int,
                    default=[256, 1024, 4096, 16384, 65536], help="GPU batch sizes")
    ap.add_argument("--cpu-batch", type=int, default=512,
                    help="batch size of the CPU runs (sims/s is per member: a larger batch "
                         "only takes longer)")
    ap.add_argument("--duration", type=float, default=2.0, help="simulated seconds per member")
    ap.add_argument("--sparse-regions", type=int, default=1000)
    ap.add_argument("--sparse-batch", type=int, default=1024)
    ap.add_argument("--modes", nargs="+", default=["batch", "regions"],
                    choices=["batch", "regions"], help="GPU layouts (simulate's parallel)")
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                    choices=["float64", "float32"], help="GPU precisions (JR76 rows)")
    ap.add_argument("--max-registers", nargs="+", type=int, default=[0],
                    help="caps on a GPU thread's registers to time (0: none; the kernel takes "
                         "251-255 otherwise, ~10%% occupancy; see rate_bridge.compile.cuda)")
    ap.add_argument("--accuracy-duration", type=float, default=None,
                    help="seconds of the float32-vs-float64 comparison (default 4; 0.6 with "
                         "--simulator, where --accuracy-duration 4 reproduces the README's table "
                         "in ~2 minutes)")
    ap.add_argument("--simulator", action="store_true",
                    help="numba's CUDA simulator, a tiny workload: a smoke run of this script")
    return ap.parse_args(argv)


def jr76(rb, np):
    try:
        conn = rb.adapters.read_tvb_connectome(76).normalise("max")
    except ImportError:                              # no tvb-data: a random one of that size
        rng = np.random.default_rng(76)
        w = rng.uniform(size=(76, 76)) * (rng.uniform(size=(76, 76)) < 0.25)
        conn = rb.adapters.Connectome(w, rng.uniform(10.0, 150.0, (76, 76)))
    return rb.Network.from_connectome(conn, node="jansen_rit", global_coupling=0.1, speed=3.0)


def sparse(rb, np, n):
    rng = np.random.default_rng(n)
    k = min(20, n - 1)
    w = np.zeros((n, n))
    d = np.zeros((n, n))
    for i in range(n):
        j = rng.choice(n - 1, size=k, replace=False)
        j[j >= i] += 1
        w[i, j] = rng.uniform(0.0, 1.0, k) / k
        d[i, j] = rng.uniform(0.001, 0.02, k)
    return rb.Network.from_arrays(w, "jansen_rit", coupling=("pc.v", "pc.m_in_e"), delays=d)


def three_regions(rb, np):
    """The 3-region JR network of tests/cuda_sim_check.py (the README's float32 table)."""
    w = np.array([[0.0, 1.0, 0.3], [0.5, 0.0, 0.0], [0.2, 0.8, 0.0]])
    d = np.array([[0.0, 0.0032, 0.0011], [0.0020, 0.0, 0.0], [0.0007, 0.0013, 0.0]])
    return rb.Network.from_arrays(w, "jansen_rit", coupling=("pc.v", "pc.m_in_e"), delays=d)


def float32_accuracy(rb, np, net, duration):
    """float32 on the GPU against float64 on the CPU: noisy input (seed 3), G = 1, pc.v at
    250 Hz, BOLD (TR 0.25 s), FC and a Welch spectrum; each output's largest difference
    relative to its largest value (and pc.v's at 0.4 s and at the end)."""
    mons = [rb.monitors.Bold("pc.v", tr=0.25),
            rb.monitors.Covariance("pc.v", sampling_rate=250.0),
            rb.monitors.Welch("pc.v", sampling_rate=250.0, nperseg=128)]
    kw = dict(integrator="heun", params={"global_coupling": 1.0}, record=["pc.v"],
              noise={"pc.u": 22.0}, seed=3, monitors=mons, sampling_rate=250.0)
    a = rb.simulate(net, duration, 1e-4, **kw)
    b = rb.simulate(net, duration, 1e-4, backend="cuda", dtype="float32", **kw)
    x, y = a["pc.v"], b["pc.v"]
    scale = np.abs(x).max()
    out = {"pc.v": float(np.abs(x - y).max() / scale),
           "pc.v at 0.4 s": float(np.abs(x[100] - y[100]).max() / scale) if len(x) > 100
           else None, "pc.v at the end": float(np.abs(x[-1] - y[-1]).max() / scale)}
    for m in a.monitors:
        p, q = np.asarray(a.monitors[m].data, float), np.asarray(b.monitors[m].data, float)
        out[m] = float(np.abs(p - q).max() / np.abs(p).max())
    return out


def sims_per_s(rb, np, net, backend, batch, duration, parallel="auto", dtype="float64"):
    """Members per second of one timed call (after a warm-up call that compiles)."""
    kw = dict(integrator="heun", noise={"pc.u": 22.0}, record=[], backend=backend,
              parallel=parallel, dtype=dtype,
              monitors=[rb.monitors.Covariance("pc.v", sampling_rate=250.0)])
    params = [{"global_coupling": g} for g in np.linspace(0.0, 0.2, batch)]
    rb.simulate(net, min(duration, 0.05), 1e-4, params=params[:min(batch, 64)], **kw)
    t = time.perf_counter()
    rb.simulate(net, duration, 1e-4, params=params, **kw)
    return batch / (time.perf_counter() - t)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    import rate_bridge as rb
    from rate_bridge.compile import cuda
    info = C.machine_info()
    C.print_machine("bench_gpu: CUDA backend vs the CPU backend (all cores)", info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info}
    if not cuda.available():
        print("no CUDA device: numba.cuda.is_available() is False on this machine. Nothing to "
              "time; the CUDA kernel's correctness is checked by tests/test_cuda.py under "
              "numba's CUDA simulator (equal to the CPU kernel to <= 1e-12, same noise).")
        out["device"] = None
        C.write_json(NAME, out)
        return
    if args.simulator:
        args.batches, args.cpu_batch, args.duration = [2], 2, 0.03
        args.sparse_regions, args.sparse_batch = 30, 2
    from numba import cuda as ncuda
    device = "simulator" if cuda.simulator() else ncuda.get_current_device().name
    device = device.decode() if isinstance(device, bytes) else device
    print(f"device    : {device}\n")
    out["device"] = device
    net = jr76(rb, np) if not args.simulator else sparse(rb, np, 8)

    # agreement: deterministic, 1 s (shorter on the simulator)
    T = 0.03 if args.simulator else 1.0
    a = rb.simulate(net, T, 1e-4, integrator="heun", record=["pc.v"])
    out["deterministic_rel_diff"] = {}
    for mode in args.modes:
        b = rb.simulate(net, T, 1e-4, integrator="heun", record=["pc.v"], backend="cuda",
                        parallel=mode)
        diff = float(np.abs(a["pc.v"] - b["pc.v"]).max() / np.abs(a["pc.v"]).max())
        out["deterministic_rel_diff"][mode] = diff
        print(f"deterministic JR, {T:g} s, parallel={mode!r}: max relative difference CPU vs "
              f"CUDA {diff:.2e} -> {'PASS' if diff <= 1e-9 else 'FAIL'} (<= 1e-9)")

    T = args.accuracy_duration or (0.6 if args.simulator else 4.0)
    acc = float32_accuracy(rb, np, three_regions(rb, np) if args.simulator else net, T)
    out["float32_accuracy"] = {"duration": T, **acc}
    print(f"\nfloat32 vs float64, {T:g} s (relative to each output's largest value): "
          + ", ".join(f"{k} {C.fmt(v)}" for k, v in acc.items()) + "\n")

    cpu = sims_per_s(rb, np, net, "cpu", args.cpu_batch, args.duration)
    rows = []
    for B in args.batches:
        for mode in args.modes:
            for dtype in args.dtypes:
                for regs in args.max_registers:
                    cuda.MAX_REGISTERS = regs or None
                    gpu = sims_per_s(rb, np, net, "cuda", B, args.duration, mode, dtype)
                    rows.append([f"JR76 {args.duration:g} s", B,
                                 f"{mode}, {dtype}" + (f", {regs} regs" if regs else ""), gpu,
                                 cpu, C.ratio(gpu, cpu)])
    cuda.MAX_REGISTERS = None
    big = sparse(rb, np, args.sparse_regions)
    cpu_s = sims_per_s(rb, np, big, "cpu", max(2, args.sparse_batch // 8), args.duration)
    for mode in args.modes:
        gpu_s = sims_per_s(rb, np, big, "cuda", args.sparse_batch, args.duration, mode)
        rows.append([f"sparse {args.sparse_regions} regions", args.sparse_batch,
                     f"{mode}, float64", gpu_s, cpu_s, C.ratio(gpu_s, cpu_s)])
    print()
    C.table(rows, ["workload", "batch", "GPU parallel, dtype", "GPU sims/s", "CPU sims/s",
                   "GPU/CPU"])
    out["rows"] = rows
    at_4096 = [r for r in rows if r[0].startswith("JR76") and r[1] >= 4096]
    if at_4096:
        best = max(r[5] or 0 for r in at_4096)
        print(f"\nBar (issue 15): >= 50x the CPU at batch >= 4096: {best:.1f}x -> "
              f"{'PASS' if best >= 50 else 'FAIL'}")
    C.write_json(NAME, out)


if __name__ == "__main__":
    main()
