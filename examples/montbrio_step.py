"""Montbrió-Pazó-Roxin QIF mean field: bistability and the response to a step of current.

Left, like Montbrió, Pazó & Roxin 2015 (Phys Rev X 5:021028) Fig. 2: the population (eta = -5,
J = 15, Delta = 1, tau = 1 ms) rests in its low state; a current step I = 3 for 30 ms drives it
to the high state through damped oscillations, and it stays there once the current is off (the
two states coexist). Right, like their Fig. 1: the stable rates against eta, from simulations
started in the low and in the high state (one batch each) over the analytic fixed points of the
firing-rate equations (dashed: unstable).

    python examples/montbrio_step.py [--quick] [--out FOLDER]
"""
import argparse
from pathlib import Path

import numpy as np

import rate_bridge as rb

J, DELTA, ETA, CURRENT = 15.0, 1.0, -5.0, 3.0
LOW, HIGH = {"p.r": 0.05, "p.v": -2.0}, {"p.r": 1.0, "p.v": -0.15}


def fixed_points(eta):
    """Rates r* > 0 of the firing-rate equations (tau = 1): -pi^2 r^4 + J r^3 + eta r^2 +
    Delta^2 / (4 pi^2) = 0, sorted."""
    roots = np.roots([-np.pi ** 2, J, eta, 0.0, DELTA ** 2 / (4 * np.pi ** 2)])
    return np.sort(roots[(abs(roots.imag) < 1e-9) & (roots.real > 0)].real)


def step_response(dt, duration, on=(0.01, 0.04)):
    """Time traces under the current step (times in s; the template's unit is ms)."""
    t = np.arange(int(round(duration / dt))) * dt
    current = np.where((t >= on[0]) & (t < on[1]), CURRENT, 0.0)
    res = rb.simulate("montbrio", duration, dt, integrator="rk4", inputs={"p.I": current},
                      initial_state=LOW, record=["p.r", "p.v"], sampling_rate=1e5)
    return t, current, res


def branches(etas, dt, duration):
    """Final rate for each eta, started in the low and in the high state (two batches)."""
    final = {}
    for name, start in (("low", LOW), ("high", HIGH)):
        runs = rb.simulate("montbrio", duration, dt, integrator="rk4", initial_state=start,
                           params=[{"p.eta": float(e)} for e in etas], record=["p.r"],
                           sampling_rate=1e4)
        final[name] = runs.stack("p.r")[:, -1, 0]
    return final


def plot(t, current, res, etas, final, fname):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(10, 5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=(1.3, 1))
    axes = left.subplots(3, 1, sharex=True, height_ratios=(0.5, 1, 1))
    axes[0].plot(t * 1e3, current, color="k")
    axes[0].set_ylabel("I (units of η)")
    axes[1].plot(res.time * 1e3, res["p.r"][:, 0], color="C3")
    axes[1].set_ylabel("rate r (1/ms)")
    axes[2].plot(res.time * 1e3, res["p.v"][:, 0], color="C0")
    axes[2].set_ylabel("mean potential v (a.u.)")
    axes[2].set_xlabel("time (ms)")
    axes[0].set_title("step of current (cf. paper Fig. 2)")
    ax = right.subplots()
    grid = np.linspace(etas.min(), etas.max(), 400)
    curve = [fixed_points(e) for e in grid]
    three = np.array([len(f) == 3 for f in curve])
    first = grid[three].min() if three.any() else np.inf   # below the bistable range: low
    low = [f[0] if len(f) == 3 or e < first else np.nan for e, f in zip(grid, curve)]
    high = [f[-1] if len(f) == 3 or e > first else np.nan for e, f in zip(grid, curve)]
    ax.plot(grid, low, color="0.6", lw=1, label="analytic fixed points")
    ax.plot(grid, high, color="0.6", lw=1)
    ax.plot(grid, [f[1] if len(f) == 3 else np.nan for f in curve], "--", color="0.6", lw=1)
    ax.plot(etas, final["low"], "o", ms=4, mfc="none", color="C0", label="from the low state")
    ax.plot(etas, final["high"], "x", ms=4, color="C3", label="from the high state")
    ax.set(xlabel="mean excitability η (units of Δ)", ylabel="stationary rate r (1/ms)",
           yscale="log", title=f"bistability (J = {J:g}, Δ = {DELTA:g})")
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Montbrió, Pazó & Roxin 2015: exact QIF mean field", fontsize=11)
    fig.savefig(fname, dpi=80)
    plt.close(fig)


def main(argv=None):
    """Run the example; return the PNG path, the step response and the branches (a dict)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser steps, fewer eta values")
    parser.add_argument("--out", default="gallery", help="output folder (created)")
    args = parser.parse_args(argv)
    dt = 1e-5 if args.quick else 1e-6                          # s (0.01 ms / 0.001 ms)
    etas = np.linspace(-10, -2, 9 if args.quick else 33)
    t, current, res = step_response(dt, 0.07)
    final = branches(etas, dt, 0.05 if args.quick else 0.1)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "montbrio_step.png"
    plot(t, current, res, etas, final, fname)
    r = res["p.r"][:, 0]
    rates = {"before": r[res.time < 0.01][-1], "during": r[res.time < 0.04][-1],
             "after": r[-1]}
    print(f"wrote {fname}; rate before the step {rates['before']:.3f}, at its end "
          f"{rates['during']:.3f}, 30 ms after {rates['after']:.3f} (1/ms)")
    return {"figure": fname, "rates": rates, "etas": etas, **final}


if __name__ == "__main__":
    main()
