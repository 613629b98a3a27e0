"""Jansen-Rit regimes and bifurcation diagram as the extrinsic input p grows.

Reproduces the diagram of Grimbert & Faugeras 2006 (Neural Comput 18:3052, Fig. 4) shown again
in the PyRates paper (Gast et al. 2019, PLoS ONE 14:e0225900, Fig. 3): the minimum and maximum
of the pyramidal membrane potential ``pc.v = y1 - y2`` against the mean input ``p``, with the
regimes Jansen & Rit 1995 (Biol Cybern 73:357) described: a rest state at low input, large slow
"spike-like" waves (~113-137 Hz), alpha oscillations (up to the Hopf point ~316 Hz), then a high
fixed point. All input values run as one batch, in one kernel call, deterministic (no noise),
from the same initial state.

    python examples/jansen_rit_bifurcation.py [--quick] [--out FOLDER]
"""
import argparse
from pathlib import Path

import numpy as np

import rate_bridge as rb

#: bifurcation points of the deterministic model (Grimbert & Faugeras 2006), input in Hz
PUBLISHED = {"Hopf": 89.83, "SNIC": 113.58, "fold": 137.38, "Hopf ": 315.70}
EXAMPLES = (100.0, 125.0, 220.0, 350.0)      # one input per regime, for the time traces


def simulate(inputs, duration, transient):
    """Min/max/dominant frequency of ``pc.v`` after ``transient`` s for each input (Hz)."""
    runs = rb.simulate("jansen_rit", duration, 1e-4, integrator="heun",
                       params=[{"pc.u": float(p)} for p in inputs], record=["pc.v"],
                       sampling_rate=1000.0)
    v = runs.stack("pc.v")[:, :, 0]                                  # (n_inputs, n_times)
    time = runs[0].time
    late = v[:, time >= transient]
    spectrum = np.abs(np.fft.rfft(late - late.mean(1, keepdims=True), axis=1))
    freqs = np.fft.rfftfreq(late.shape[1], 1e-3)
    peak = freqs[np.argmax(spectrum, axis=1)]
    oscillating = np.ptp(late, axis=1) > 1e-3
    return dict(inputs=np.asarray(inputs, float), time=time, v=v, vmin=late.min(1),
                vmax=late.max(1), peak_hz=np.where(oscillating, peak, np.nan))


def plot(out, fname):
    """Two-row figure: bifurcation diagram with the published points, then example traces."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(9, 6.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.3, 1))
    a1, a2 = top.subplots(1, 2, width_ratios=(1.6, 1))
    p = out["inputs"]
    a1.plot(p, out["vmax"], ".-", color="C3", label="max")
    a1.plot(p, out["vmin"], ".-", color="C0", label="min")
    a1.fill_between(p, out["vmin"], out["vmax"], color="0.85")
    for k, (name, value) in enumerate(PUBLISHED.items()):
        a1.axvline(value, color="0.4", ls="--", lw=0.8)
        a1.text(value, 1.0, f" {name.strip()}", rotation=90, va="top", ha="right",
                transform=a1.get_xaxis_transform(), fontsize=7, color="0.3")
    a1.set(xlabel="extrinsic input p (Hz)", ylabel="pc.v = y1 - y2 (mV)",
           title="min / max after the transient (dashed: Grimbert & Faugeras 2006)")
    a1.legend(loc="center right", fontsize=8)
    a2.plot(p, out["peak_hz"], "o", ms=3, color="k")
    a2.axhspan(8, 13, color="C2", alpha=0.15, label="alpha band")
    a2.set(xlabel="extrinsic input p (Hz)", ylabel="dominant frequency (Hz)",
           title="oscillation frequency", ylim=(0, 16))
    a2.legend(loc="lower right", fontsize=8)
    axes = bottom.subplots(1, len(EXAMPLES), sharey=True)
    t = out["time"]
    show = t >= t[-1] - 2.0
    for ax, u in zip(axes, EXAMPLES):
        k = int(np.argmin(abs(p - u)))
        ax.plot(t[show] - t[show][0], out["v"][k, show], lw=0.8)
        ax.set(title=f"p = {p[k]:.0f} Hz", xlabel="time (s)")
    axes[0].set_ylabel("pc.v (mV)")
    fig.suptitle("Jansen-Rit circuit: regimes as the input grows", fontsize=11)
    fig.savefig(fname, dpi=80)
    plt.close(fig)


def main(argv=None):
    """Run the example; return the PNG path and the computed diagram (a dict)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few inputs, short runs")
    parser.add_argument("--out", default="gallery", help="output folder (created)")
    args = parser.parse_args(argv)
    if args.quick:
        inputs, duration, transient = np.r_[np.linspace(40, 400, 10), EXAMPLES], 4.0, 2.0
    else:
        inputs, duration, transient = np.r_[np.linspace(0, 400, 161), EXAMPLES], 12.0, 6.0
    order = np.argsort(inputs, kind="stable")
    out = simulate(inputs[order], duration, transient)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "jansen_rit_bifurcation.png"
    plot(out, fname)
    print(f"wrote {fname}")
    return {"figure": fname, **out}


if __name__ == "__main__":
    main()
