"""A 76-region Jansen-Rit network to 64-channel EEG: traces, spectrum and band topomaps.

The TVB 76-region connectome (tvb-data; ``pip install rate_bridge[tvb]``) with conduction delays
at 3 m/s and the template's coupling, each region driven by noisy input around its own mean.
The means spread over 100-160 Hz (regions near their alpha oscillation's onset rather than on
its limit cycle) and the input noise has Jansen & Rit 1995's intensity (their uniform 120-320 Hz
drawn every ms, std 58 Hz, is white noise of the same density as std 183 Hz drawn every 0.1 ms):
the EEG is noise-driven, a broad alpha bump over a falling background, not a needle-thin peak.
It is projected through a spherical head to BioSemi-64 EEG (10 nA·m per mV, average reference,
0.5 µV sensor noise); MNE then computes the spectrum and the band-power topographies.

    python examples/whole_brain_eeg.py [--quick] [--out FOLDER]
"""
import argparse
from pathlib import Path

import numpy as np

import rate_bridge as rb

BANDS = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30)}


def simulate_eeg(duration, seed=0):
    """Simulate the network and return (raw EEG, forward model, result, connectome)."""
    conn = rb.adapters.read_tvb_connectome(n_regions=76)
    net = rb.Network.from_connectome(conn, node="jansen_rit", global_coupling=0.1, speed=3.0)
    rng = np.random.default_rng(seed)
    net.set_parameter("pc.u", rng.uniform(100.0, 160.0, conn.n_regions))
    res = rb.simulate(net, duration, 1e-4, integrator="heun", noise={"pc.u": 180.0}, seed=seed,
                      record=["pc.v"], sampling_rate=250.0)
    fm = rb.forward_models.from_sphere(conn, montage="biosemi64", verbose="error")
    raw = fm.to_raw(res, signal="pc.v", moment_scale=1e-8, noise={"eeg": 0.5e-6},
                    random_state=seed, verbose="error")
    return raw, fm, res, conn


def spectrum(raw, skip):
    """Welch PSD of every channel after ``skip`` s (V²/Hz) and its frequencies (Hz)."""
    n_fft = int(min(4.0, (raw.times[-1] - skip) / 2) * raw.info["sfreq"])
    spec = raw.compute_psd(fmin=1.0, fmax=45.0, tmin=skip, n_fft=n_fft, verbose="error")
    return spec.get_data(return_freqs=True)


def plot(raw, psd, freqs, skip, fname):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne
    fig = plt.figure(figsize=(11, 6.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.1, 1))
    a_time, a_psd = top.subplots(1, 2, width_ratios=(1.3, 1))
    picks = ["Fz", "Cz", "Pz", "Oz", "T7", "T8"]
    data, times = raw.get_data(picks=picks, tmin=skip, tmax=skip + 3.0, return_times=True)
    for k, (name, trace) in enumerate(zip(picks, data * 1e6)):
        a_time.plot(times, trace - 25.0 * k, lw=0.7)
        a_time.text(times[0], -25.0 * k + 8, name, fontsize=8)
    a_time.set(xlabel="time (s)", ylabel="EEG (µV, channels offset by 25 µV)",
               title="simulated EEG, average reference")
    db = 10 * np.log10(psd * 1e12)                                   # dB re 1 µV²/Hz
    a_psd.plot(freqs, db.T, color="0.75", lw=0.5)
    a_psd.plot(freqs, db.mean(0), color="k", lw=1.5, label="channel mean")
    a_psd.axvspan(*BANDS["alpha"], color="C2", alpha=0.15, label="alpha 8-13 Hz")
    a_psd.set(xlabel="frequency (Hz)", ylabel="power (dB re 1 µV²/Hz)",
              title="power spectral density (Welch)")
    a_psd.legend(fontsize=8)
    axes = bottom.subplots(1, len(BANDS))
    for ax, (name, (lo, hi)) in zip(axes, BANDS.items()):
        sel = (freqs >= lo) & (freqs < hi)
        power = 10 * np.log10(psd[:, sel].mean(1) * 1e12)
        im, _ = mne.viz.plot_topomap(power, raw.info, axes=ax, show=False, cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.7, label="dB re 1 µV²/Hz")
        ax.set_title(f"{name} {lo}-{hi} Hz")
    fig.suptitle("76-region Jansen-Rit network -> BioSemi-64 EEG (spherical head)", fontsize=11)
    fig.savefig(fname, dpi=75)
    plt.close(fig)


def main(argv=None):
    """Run the example; return the PNG path, the Raw and its spectrum (a dict)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 5 s run instead of 60 s")
    parser.add_argument("--out", default="gallery", help="output folder (created)")
    args = parser.parse_args(argv)
    duration, skip = (5.0, 1.0) if args.quick else (60.0, 2.0)
    raw = simulate_eeg(duration)[0]
    psd, freqs = spectrum(raw, skip)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    fname = folder / "whole_brain_eeg.png"
    plot(raw, psd, freqs, skip, fname)
    peak = float(freqs[np.argmax(psd.mean(0))])
    print(f"wrote {fname}; peak of the mean EEG spectrum {peak:.1f} Hz")
    return {"figure": fname, "raw": raw, "psd": psd, "freqs": freqs, "peak_hz": peak}


if __name__ == "__main__":
    main()
