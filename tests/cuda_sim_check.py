"""Run by test_cuda.py under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set before numba is
imported, hence a process of its own): the same simulations on the CPU and CUDA backends,
printed as JSON (largest relative difference per case, and the members' statuses)."""
import json
import sys

import numpy as np

import rate_bridge as rb
from conftest import sde_network_of      # this folder is the script's: on sys.path

# the simulator's block manager polls its threads for barriers while holding the GIL: a short
# switch interval lets a barrier pass in microseconds instead of 5 ms (24x faster here)
sys.setswitchinterval(1e-5)

W = np.array([[0.0, 1.0, 0.3], [0.5, 0.0, 0.0], [0.2, 0.8, 0.0]])
D = np.array([[0.0, 0.0032, 0.0011], [0.0020, 0.0, 0.0], [0.0007, 0.0013, 0.0]])
# the conftest's jr_network structure (the template's declared coupling), heun: no new kernel
NET = rb.Network.from_arrays(W, "jansen_rit", coupling=("pc.v", "pc.m_in_e"), delays=D)


def both(**kw):
    """The CPU and CUDA results of one call (kw may hold, for the GPU only, parallel="batch"
    or "regions", a thread or a block of threads per member, and dtype)."""
    gpu = {"parallel": kw.pop("parallel", "batch"), "dtype": kw.pop("dtype", "float64")}
    return [rb.simulate(NET, 0.02, 1e-4, integrator="heun", backend=b, **kw,
                        **(gpu if b == "cuda" else {})) for b in ("cpu", "cuda")]


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-300))


def members(cpu, gpu, names):
    return max(rel(c[v], g[v]) for c, g in zip(cpu, gpu) for v in names)


out = {}
batch = [{}, {"global_coupling": 2.0}, {"global_coupling": 1e307}]
gain = np.random.default_rng(0).normal(size=(2, 3))
mons = [rb.monitors.Covariance("pc.v", sampling_rate=1000.0),
        rb.monitors.Welch("pc.v", sampling_rate=1000.0, nperseg=8),
        rb.monitors.Sensors("pc.v", gain=gain, sampling_rate=1000.0),
        rb.monitors.Bold("pc.v", tr=0.01)]
for par in ("batch", "regions"):
    for mode in ("round", "interpolate"):
        cpu, gpu = both(params=batch, delay_mode=mode, parallel=par,
                        record=["pc.v", "pc.m_in_e", "ein.m_out"])
        out[f"deterministic_{mode}_{par}"] = members(cpu[:2], gpu[:2],
                                                     ["pc.v", "pc.m_in_e", "ein.m_out"])
        out[f"status_{mode}_{par}"] = [list(cpu.status), list(gpu.status)]
        out[f"diverged_{mode}_{par}"] = [cpu[2].diverged_at, gpu[2].diverged_at]
    cpu, gpu = both(params=batch[:2], noise={"pc.u": 22.0}, seed=5, record=["pc.v"],
                    monitors=mons, parallel=par)
    out[f"noise_{par}"] = members(cpu, gpu, ["pc.v"])
    out[f"monitors_{par}"] = max(rel(c.monitors[m.name].data, g.monitors[m.name].data)
                                 for c, g in zip(cpu, gpu) for m in mons)
    out[f"noise_differs_by_seed_{par}"] = rel(cpu[0]["pc.v"], cpu[1]["pc.v"])
    out[f"backend_{par}"] = [gpu[0].provenance["backend"], gpu[0].provenance["parallel"]]

# noise on states, additive and multiplicative (the stochastic Heun scheme and its diffusion
# term), on the conftest's noise-test structure
sde = sde_network_of(3)
for par in ("batch", "regions"):
    cpu, gpu = (rb.simulate(sde, 0.02, 1e-4, integrator="heun_stochastic", seed=2,
                            noise={"n.x": 0.5, "n.y": 0.3}, backend=b,
                            **({"parallel": par} if b == "cuda" else {})) for b in ("cpu", "cuda"))
    out[f"state_noise_{par}"] = [max(rel(cpu[v], gpu[v]) for v in ("n.x", "n.y")),
                                 gpu.provenance["integrator"]]

# no delays: the coupling as dense row products
dense = rb.Network.from_arrays(W + 0.1, "jansen_rit", coupling=("pc.v", "pc.m_in_e"))
for par in ("batch", "regions"):
    cpu, gpu = (rb.simulate(dense, 0.01, 1e-4, integrator="heun", record=["pc.v"], backend=b,
                            **({"parallel": par} if b == "cuda" else {}))
                for b in ("cpu", "cuda"))
    out[f"dense_{par}"] = rel(cpu["pc.v"], gpu["pc.v"])

# float32 on the device against the CPU's float64: a noisy run with the monitors (BOLD left
# out of the comparison: its signal is still ~0, below float32's resolution, after 20 ms)
for par in ("batch", "regions"):
    cpu, gpu = both(params=batch[1:2], noise={"pc.u": 22.0}, seed=5, record=["pc.v"],
                    monitors=mons, parallel=par, dtype="float32")
    out[f"float32_{par}"] = [members(cpu, gpu, ["pc.v"]),
                             max(rel(cpu[0].monitors[m.name].data, gpu[0].monitors[m.name].data)
                                 for m in mons[:3]), gpu[0].provenance["dtype"]]

# Ctrl-C during the second launch: the members stop with it, their samples kept
real_progress = rb.compile.cuda._progress


def interrupting(total):
    calls = []

    def add(member_steps):
        calls.append(member_steps)
        if len(calls) == 2:
            raise KeyboardInterrupt
    return add


rb.compile.cuda._progress = interrupting
try:
    rb.simulate(NET, 0.1, 1e-4, integrator="heun", backend="cuda", params=batch[:2],
                record=["pc.v"])
except rb.SimulationInterrupted as err:
    part = err.result
rb.compile.cuda._progress = real_progress
whole = rb.simulate(NET, 0.1, 1e-4, integrator="heun", params=batch[:2], record=["pc.v"])
done = part[0].provenance["steps_done"]
out["interrupted"] = [list(part.status), done, rel(whole[0]["pc.v"][:done // 10],
                                                    part[0]["pc.v"][:done // 10])]

# memory planning: a device with room for one member at a time runs the batch in launches of
# one (the same results); with room for none, the run is refused before launching
planned = []
real_plan = rb.compile.cuda.plan


def one_member(spec, args, carry, free, dtype):
    size, member, shared = real_plan(spec, args, carry, 1e12, dtype)
    planned.append(real_plan(spec, args, carry, 2 * (shared + 1.5 * member), dtype))
    return planned[-1]


rb.compile.cuda.plan = one_member
gpu = rb.simulate(NET, 0.02, 1e-4, integrator="heun", backend="cuda", params=batch[:2],
                  record=["pc.v"])
out["launches_of"] = planned[-1][0]
out["one_at_a_time"] = members(both(params=batch[:2], record=["pc.v"])[0], gpu, ["pc.v"])
rb.compile.cuda.plan = real_plan
rb.compile.cuda.device_memory = lambda: 1000
try:
    rb.simulate(NET, 0.02, 1e-4, integrator="heun", backend="cuda", record=["pc.v"])
except rb.SimulationMemoryError as err:
    out["refused"] = str(err)
print(json.dumps(out, default=str))
