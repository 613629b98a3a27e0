"""Functional connectivity of simulated BOLD against the structural connectome.

The 76-region Jansen-Rit network of the TVB connectome (delays at 3 m/s, noisy input as in
``whole_brain_eeg.py``), observed by in-kernel monitors only — nothing but their outputs is
kept, however long the run: BOLD through the Balloon-Windkessel model (Stephan et al. 2007
constants), the covariance of ``pc.v`` (neural FC), its Welch spectrum and the 64-channel EEG.
The figure compares the FC of the BOLD signal with the structural weights, the classic test of a
whole-brain model (e.g. Honey et al. 2009, PNAS 106:2035; Deco et al. 2013, J Neurosci
33:11239, where SC-FC correlations of 0.3-0.5 are reached by models tuned to the data; this
untuned Jansen-Rit network reaches about 0.2).

    python examples/bold_fc.py [--quick] [--out FOLDER]
"""
import argparse
from pathlib import Path

import numpy as np

import rate_bridge as rb


def simulate(duration, tr, seed=0):
    """One run with the four monitors; returns (result, connectome)."""
    conn = rb.adapters.read_tvb_connectome(n_regions=76)
    # stronger coupling than whole_brain_eeg.py: the noisy regions then share slow fluctuations
    net = rb.Network.from_connectome(conn, node="jansen_rit", global_coupling=5.0, speed=3.0)
    net.set_parameter("pc.u", np.random.default_rng(seed).uniform(100.0, 160.0, conn.n_regions))
    fm = rb.forward_models.from_sphere(conn, montage="biosemi64", verbose="error")
    mons = [rb.monitors.Bold("pc.v", tr=tr),
            rb.monitors.Covariance("pc.v", sampling_rate=250.0, start=2.0),
            rb.monitors.Welch("pc.v", sampling_rate=250.0, nperseg=256, start=2.0),
            rb.monitors.Sensors(gain=fm, sampling_rate=250.0)]
    obs = rb.simulate(net, duration, 1e-4, integrator="heun", noise={"pc.u": 180.0}, seed=seed,
                      record=[], monitors=mons)
    return obs, conn


def connectivity(obs, conn, transient):
    """SC (symmetrised, log10), BOLD FC after ``transient`` s, neural FC, and SC-FC r."""
    w = (conn.weights + conn.weights.T) / 2
    sc = np.log10(np.where(w > 0, w, np.nan))
    from scipy.signal import detrend
    # after the hemodynamic transient, linear trends removed as in fMRI preprocessing
    bold = detrend(obs["bold"][obs.monitors["bold"].time >= transient], axis=0)
    fc_bold = np.corrcoef(bold.T)
    fc_neural = obs.monitors["fc"].fc
    upper = np.triu_indices_from(w, 1)
    linked = w[upper] > 0                                      # correlation where SC exists
    r = {name: float(np.corrcoef(sc[upper][linked], fc[upper][linked])[0, 1])
         for name, fc in (("bold", fc_bold), ("neural", fc_neural))}
    return sc, fc_bold, fc_neural, r


def plot(obs, conn, sc, fc_bold, fc_neural, r, transient, fname):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 3, figsize=(12, 7.5), layout="constrained")
    for a, m, title, label, cmap, vlim in (
            (ax[0, 0], sc, "structural connectivity", "log10 weight (a.u.)", "magma", (None,) * 2),
            (ax[0, 1], fc_bold, f"BOLD FC (r with SC {r['bold']:.2f})", "Pearson r", "RdBu_r",
             (-1, 1)),
            (ax[0, 2], fc_neural, f"neural FC of pc.v (r with SC {r['neural']:.2f})",
             "Pearson r", "RdBu_r", (-1, 1))):
        im = a.imshow(m, cmap=cmap, vmin=vlim[0], vmax=vlim[1], interpolation="nearest")
        fig.colorbar(im, ax=a, shrink=0.8, label=label)
        a.set(title=title, xlabel="source region (index)", ylabel="target region (index)")
    upper = np.triu_indices_from(sc, 1)
    ok = np.isfinite(sc[upper])
    ax[1, 0].plot(sc[upper][ok], fc_bold[upper][ok], ".", ms=2, alpha=0.5)
    ax[1, 0].set(xlabel="structural weight (log10, a.u.)", ylabel="BOLD FC (Pearson r)",
                 title=f"SC vs BOLD FC, {ok.sum()} connected pairs")
    bold = obs.monitors["bold"]
    keep = bold.time >= transient
    for k in range(0, 76, 19):
        ax[1, 1].plot(bold.time[keep], 100 * bold.data[keep, k], lw=0.8, label=conn.labels[k])
    ax[1, 1].set(xlabel="time (s)", ylabel="BOLD signal change (%)", title="BOLD, 4 regions")
    ax[1, 1].legend(fontsize=7, ncol=2)
    psd = obs.monitors["psd"]
    ax[1, 2].semilogy(psd.freqs, psd.data, color="0.8", lw=0.4)
    ax[1, 2].semilogy(psd.freqs, psd.data.mean(1), color="k", lw=1.5, label="region mean")
    ax[1, 2].set(xlim=(0, 45), xlabel="frequency (Hz)", ylabel="PSD of pc.v (mV²/Hz)",
                 title="in-kernel Welch spectra")
    ax[1, 2].legend(fontsize=8)
    duration = obs.monitors["bold"].time[-1]
    fig.suptitle(f"76-region Jansen-Rit network, {duration:.0f} s: simulated BOLD vs "
                 "structure", fontsize=11)
    fig.savefig(fname, dpi=70)
    plt.close(fig)


def main(argv=None):
    """Run the example; return the PNG path, the matrices and the SC-FC correlations."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 40 s run instead of 8 minutes")
    parser.add_argument("--out", default="gallery", help="output folder (created)")
    args = parser.parse_args(argv)
    duration, tr, transient = (40.0, 0.5, 15.0) if args.quick else (480.0, 2.0, 20.0)
    obs, conn = simulate(duration, tr)
    sc, fc_bold, fc_neural, r = connectivity(obs, conn, transient)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "bold_fc.png"
    plot(obs, conn, sc, fc_bold, fc_neural, r, transient, fname)
    print(f"wrote {fname}; SC-FC correlation: BOLD {r['bold']:.2f}, neural {r['neural']:.2f}; "
          f"EEG {obs['sensors'].shape} from the sensor monitor")
    return {"figure": fname, "r": r, "fc_bold": fc_bold, "fc_neural": fc_neural,
            "obs": obs}


if __name__ == "__main__":
    main()
