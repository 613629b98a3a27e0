"""Parameter recovery: fit the global coupling G and the input p (pc.u) of a Jansen-Rit
whole-brain network to the FC and spectra of a run with known values, on independent noise.

The target is simulated at G = 0.6, p = 180 Hz with noise seed 1; the fit sees only its FC
(in-kernel covariance) and Welch spectra (in-kernel Welch, 2-40 Hz), and runs every candidate on
noise seed 0. Differential evolution, one batched kernel call per generation of 24 candidates.
On tvb-data's 76-region connectome if installed, a random 20-region one otherwise.

    python examples/fit_jansen_rit.py            # 20 s per evaluation, 12 generations
    python examples/fit_jansen_rit.py --quick    # 4 s per evaluation, 5 generations
"""
import argparse
import time

import numpy as np

import rate_bridge as rb

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="short runs, few generations")
args = parser.parse_args()
duration, generations = (4.0, 5) if args.quick else (20.0, 12)
truth = {"global_coupling": 0.6, "pc.u": 180.0}
bounds = {"global_coupling": (0.0, 1.5), "pc.u": (120.0, 300.0)}


def connectome():
    try:
        return rb.adapters.read_tvb_connectome(76).normalise("max")
    except ImportError:
        rng = np.random.default_rng(0)
        w = rng.uniform(size=(20, 20)) * (rng.uniform(size=(20, 20)) < 0.3)
        np.fill_diagonal(w, 0.0)
        return rb.adapters.Connectome(w, rng.uniform(20, 150, (20, 20)))


net = rb.Network.from_connectome(connectome(), "jansen_rit", speed=4.0)
run = dict(integrator="heun", noise={"pc.u": 22.0})
monitors = [rb.monitors.Covariance("pc.v", sampling_rate=250.0, start=1.0),
            rb.monitors.Welch("pc.v", sampling_rate=250.0, nperseg=256, start=1.0)]
target = rb.simulate(net, duration, 1e-4, params=truth, seed=1, record=[], monitors=monitors,
                     **run)

t0 = time.perf_counter()
fit = rb.fit.fit(net, target, bounds,
                 objective=[(rb.fit.FCCorrelation(sampling_rate=250.0), 1.0),
                            (rb.fit.PSDDistance(band=(2.0, 40.0)), 1.0)],
                 variable="pc.v", start=1.0, method="differential_evolution",
                 n_evaluations=24 * generations, batch_size=24, duration=duration, dt=1e-4,
                 seed=0, noise_seed=0, verbose="info", **run)
print(fit)
print(f"{net.n_regions} regions, {duration:g} s per evaluation: {fit.n_evaluations} evaluations "
      f"in {time.perf_counter() - t0:.1f} s ({fit.evaluations_per_s:.2f} evaluations/s)")
for name, (low, high) in bounds.items():
    err = abs(fit.best_params[name] - truth[name]) / (high - low)
    print(f"{name}: true {truth[name]:g}, fitted {fit.best_params[name]:.4g} "
          f"({100 * err:.1f} % of the range)")
fit.plot().savefig("fit_jansen_rit.png", dpi=100)
