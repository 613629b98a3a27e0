"""Measures (FC, FCD, PSD, band power, peak frequency, comparison metrics) and their plots.

Each measure against an independent truth: numpy/scipy called directly, or a straightforward
implementation written here. No kernel: Results are built from arrays."""
import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.signal import welch

import rate_bridge as rb
from rate_bridge import measures as M
from rate_bridge import viz
from rate_bridge.sweep import summary_features

matplotlib.use("Agg")
SFREQ = 200.0


@pytest.fixture(scope="module")
def x():
    """Correlated noise, (n_times, n_signals) = (2000, 5): 10 s at 200 Hz."""
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((5, 5))
    return rng.standard_normal((2000, 5)) @ mix


def _result(data, name="pc.v", status="completed"):
    t = np.arange(len(data)) / SFREQ
    return rb.Result(t, {name: data}, [f"r{i}" for i in range(data.shape[1])],
                     provenance={"sampling_rate": SFREQ}, status=status)


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a @ b) / np.sqrt((a @ a) * (b @ b))


def _fcd_numpy(x, n_win, n_step):
    """FCD written out: window FCs, their upper triangles, Pearson between windows."""
    n = x.shape[1]
    tris = []
    for start in range(0, x.shape[0] - n_win + 1, n_step):
        w = x[start:start + n_win]
        tris.append([_pearson(w[:, i], w[:, j]) for i in range(n) for j in range(i + 1, n)])
    tris = np.array(tris)
    return np.array([[_pearson(a, b) for b in tris] for a in tris])


def _ks_numpy(a, b):
    """Largest distance between the two empirical CDFs, over the pooled sample."""
    v = np.concatenate([a, b])
    ca = np.searchsorted(np.sort(a), v, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), v, side="right") / len(b)
    return np.abs(ca - cb).max()


# -- FC ----------------------------------------------------------------------------------------
def test_fc_equals_corrcoef_for_arrays_results_and_batches(x):
    truth = np.corrcoef(x, rowvar=False)
    np.testing.assert_allclose(M.fc(x), truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(M.fc(_result(x)), truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(M.fc(_result(x), tmin=5.0),
                               np.corrcoef(x[1000:], rowvar=False), rtol=0, atol=1e-12)
    batch = rb.ResultBatch([_result(x), _result(x[::-1] ** 2)])
    out = M.fc(batch, "pc.v")
    assert out.shape == (2, 5, 5)
    np.testing.assert_allclose(out[1], np.corrcoef(x[::-1] ** 2, rowvar=False), atol=1e-12)


def test_fc_of_band_passed_signals():
    t = np.arange(2000) / SFREQ
    x = np.column_stack([np.cos(2 * np.pi * 10 * t) + np.cos(2 * np.pi * 40 * t),
                         np.cos(2 * np.pi * 10 * t + np.pi / 3) + np.cos(2 * np.pi * 40 * t
                                                                        + np.pi)])
    assert M.fc(x)[0, 1] == pytest.approx(-0.25, abs=1e-3)       # (cos(pi/3) + cos(pi)) / 2
    assert M.fc(x, sfreq=SFREQ, band=(8, 12))[0, 1] == pytest.approx(0.5, abs=0.02)
    assert M.fc(x, sfreq=SFREQ, band=(35, 45))[0, 1] == pytest.approx(-1.0, abs=0.02)
    from mne.filter import filter_data                           # the wiring, exactly
    y = filter_data(x.T, SFREQ, 8.0, 12.0, method="fir", verbose=False).T
    np.testing.assert_allclose(M.fc(x, sfreq=SFREQ, band=(8, 12), filter_kws={"method": "fir"}),
                               np.corrcoef(y, rowvar=False), atol=1e-12)


def test_envelope_fc_matches_known_envelopes():
    t = np.arange(2000) / SFREQ                                  # 10 s: whole cycles below
    env = np.column_stack([1 + 0.5 * np.cos(2 * np.pi * 0.3 * t),
                           1 + 0.5 * np.cos(2 * np.pi * 0.3 * t + 1.0),
                           1 + 0.4 * np.sin(2 * np.pi * 0.7 * t)])
    carrier = np.cos(2 * np.pi * 20 * t)[:, None]
    x = env * carrier
    np.testing.assert_allclose(M.fc(x, envelope=True), np.corrcoef(env, rowvar=False),
                               atol=1e-10)
    assert abs(M.fc(x)[0, 2] - np.corrcoef(env, rowvar=False)[0, 2]) > 0.1


def test_constant_signal_gives_nan_correlations(x, caplog):
    y = x.copy()
    y[:, 2] = 1.0
    out = M.fc(y)
    assert np.isnan(out[2]).all() and np.isfinite(np.delete(np.delete(out, 2, 0), 2, 1)).all()
    with pytest.raises(ValueError, match="a contains NaN"):
        M.fc_correlation(out, M.fc(x))


# -- FCD ---------------------------------------------------------------------------------------
def test_fcd_matches_numpy_implementation(x):
    out, times = M.fcd(x, 1.0, 0.5, sfreq=SFREQ, return_times=True)
    truth = _fcd_numpy(x, 200, 100)
    np.testing.assert_allclose(out, truth, atol=1e-12)
    np.testing.assert_allclose(times, np.arange(19) * 0.5 + 199 / SFREQ / 2)
    np.testing.assert_allclose(M.fcd(_result(x), 1.0, 0.5), truth, atol=1e-12)
    iu = np.triu_indices(19, k=2)
    np.testing.assert_array_equal(M.fcd_distribution(out, k=2), out[iu])
    other = M.fcd(x[:, ::-1] ** 3, 1.0, 0.25, sfreq=SFREQ)
    d_a, d_b = M.fcd_distribution(out), M.fcd_distribution(other)
    assert M.fcd_ks(out, other) == pytest.approx(_ks_numpy(d_a, d_b), abs=1e-12)
    assert M.fcd_ks(d_a, d_b) == M.fcd_ks(out, other)
    assert M.fcd_ks(out, out) == 0.0


# -- spectra -----------------------------------------------------------------------------------
def test_psd_band_power_equal_scipy_welch(x):
    f_ref, p_ref = welch(x, SFREQ, window="hann", nperseg=400, noverlap=200, axis=0)
    freqs, power = M.psd(x, sfreq=SFREQ)                         # default: 2 s, half overlap
    np.testing.assert_array_equal(freqs, f_ref)
    np.testing.assert_allclose(power, p_ref, rtol=1e-12, atol=0)
    f_ref, p_ref = welch(x, SFREQ, window="hamming", nperseg=100, noverlap=75, axis=0)
    freqs, power = M.psd(_result(x), segment=0.5, overlap=0.75, window="hamming",
                         fmin=5, fmax=30)
    keep = (f_ref >= 5) & (f_ref <= 30)
    np.testing.assert_allclose(power, p_ref[keep], rtol=1e-12, atol=0)
    f_ref, p_ref = welch(x, SFREQ, nperseg=400, noverlap=200, axis=0)
    band = (f_ref >= 8) & (f_ref <= 12)
    np.testing.assert_allclose(M.band_power(x, (8, 12), sfreq=SFREQ),
                               np.trapezoid(p_ref[band], f_ref[band], axis=0), rtol=1e-12)
    np.testing.assert_allclose(M.band_power(x, (8, 12), sfreq=SFREQ, relative=True),
                               np.trapezoid(p_ref[band], f_ref[band], axis=0)
                               / np.trapezoid(p_ref, f_ref, axis=0), rtol=1e-12)


def test_peak_frequency_of_sinusoids():
    t = np.arange(4000) / SFREQ
    x = np.column_stack([np.sin(2 * np.pi * 10.5 * t), 0.3 * np.sin(2 * np.pi * 23 * t),
                         np.full_like(t, 2.0)])
    peaks = M.peak_frequency(x, sfreq=SFREQ)
    np.testing.assert_array_equal(peaks[:2], [10.5, 23.0])
    assert np.isnan(peaks[2])                                    # a constant has no peak
    assert M.peak_frequency(x, sfreq=SFREQ, average=True) == 10.5
    assert M.peak_frequency(x, sfreq=SFREQ, fmin=15, average=True) == 23.0
    assert M.peak_frequency(x[:, :1], sfreq=SFREQ, segment=4.0)[0] == 10.5
    res = rb.Result(t, {"v": x[:, :2] + 5.0}, ["a", "b"])
    feats = summary_features(res, "v", skip=1.0)
    assert list(feats) == ["mean", "std", "peak_hz"] and feats["peak_hz"] == 10.5
    kept = x[t >= 1.0, :2] + 5.0
    assert feats["mean"] == pytest.approx(kept.mean()) and \
        feats["std"] == pytest.approx(kept.std(axis=0).mean())


def test_monitor_outputs_of_a_result_are_measured_on_their_own_axis(x):
    from rate_bridge.monitors import MonitorResult
    res = _result(x)
    bold = x[::40] ** 2                                          # 50 samples, TR = 0.2 s
    labels = res.labels
    res.monitors["bold"] = MonitorResult(rb.monitors.Bold("pc.v", tr=0.2), bold, labels, "",
                                         time=0.2 * np.arange(1, 51))
    np.testing.assert_allclose(M.fc(res, "bold"), np.corrcoef(bold, rowvar=False), atol=1e-12)
    freqs, power = M.psd(res, "bold")                            # 5 Hz: the whole 50 samples
    f_ref, p_ref = welch(bold, 5.0, nperseg=50, noverlap=25, axis=0)
    np.testing.assert_allclose(freqs, f_ref, rtol=1e-12)
    np.testing.assert_allclose(power, p_ref, rtol=1e-12)
    with pytest.raises(ValueError, match=r"variables or time-series monitors \['pc.v', "
                                         r"'bold'\], got None"):
        M.fc(res)
    spectrum = MonitorResult(rb.monitors.Welch("pc.v", nperseg=64), p_ref + 1.0, labels, "",
                             freqs=f_ref)
    res.monitors["psd"] = spectrum
    with pytest.raises(ValueError, match="'psd' is a welch monitor, not a time series"):
        M.psd(res, "psd")
    assert M.psd_distance(spectrum, (f_ref, 10 * (p_ref + 1.0))) == pytest.approx(1.0)


# -- MNE inputs --------------------------------------------------------------------------------
def test_raw_epochs_evoked_give_the_array_numbers(x):
    mne = pytest.importorskip("mne")
    info = mne.create_info([f"c{i}" for i in range(5)] + ["stim"], SFREQ,
                           ["eeg"] * 5 + ["stim"])
    info["bads"] = ["c1"]
    data = np.column_stack([x, np.zeros(len(x))])
    raw = mne.io.RawArray(data.T, info, verbose=False)
    good = x[:, [0, 2, 3, 4]]                    # picks=None: good data channels only
    np.testing.assert_allclose(M.fc(raw), np.corrcoef(good, rowvar=False), atol=1e-12)
    np.testing.assert_allclose(M.fc(raw, picks=["c0", "c1"]),
                               np.corrcoef(x[:, :2], rowvar=False), atol=1e-12)
    np.testing.assert_allclose(M.psd(raw)[1], M.psd(good, sfreq=SFREQ)[1], rtol=1e-12)
    np.testing.assert_allclose(M.fcd(raw, 1.0, 0.5, tmax=6.0),
                               M.fcd(good[:1201], 1.0, 0.5, sfreq=SFREQ), atol=1e-12)
    epochs = mne.EpochsArray(data.reshape(4, 500, 6).transpose(0, 2, 1), info, verbose=False)
    per_epoch = [np.corrcoef(e[:, [0, 2, 3, 4]], rowvar=False) for e in x.reshape(4, 500, 5)]
    np.testing.assert_allclose(M.fc(epochs), np.mean(per_epoch, axis=0), atol=1e-12)
    f_ref, p_ref = welch(x.reshape(4, 500, 5), SFREQ, nperseg=400, noverlap=200, axis=1)
    np.testing.assert_allclose(M.psd(epochs, picks="eeg")[1],
                               p_ref.mean(axis=0)[:, [0, 2, 3, 4]], rtol=1e-12)
    with pytest.raises(ValueError, match="fcd needs continuous data; data has 4 epochs"):
        M.fcd(epochs, 0.5, 0.25)
    evoked = epochs.average(picks="all")
    np.testing.assert_allclose(M.fc(evoked), np.corrcoef(
        x.reshape(4, 500, 5).mean(axis=0)[:, [0, 2, 3, 4]], rowvar=False), atol=1e-12)
    with pytest.raises(ValueError, match="picks=.*selects no usable channel"):
        M.fc(raw, picks=["nope"])


# -- comparisons -------------------------------------------------------------------------------
def test_fc_comparisons_and_psd_distance(x):
    a, b = M.fc(x), M.fc(x ** 3)
    iu = np.triu_indices(5, k=1)
    assert M.fc_correlation(a, b) == pytest.approx(_pearson(a[iu], b[iu]), abs=1e-12)
    assert M.fc_distance(a, b) == pytest.approx(np.sqrt(((a[iu] - b[iu]) ** 2).sum()),
                                                abs=1e-12)
    stack = np.stack([a, b])
    np.testing.assert_allclose(M.fc_correlation(stack, b), [_pearson(a[iu], b[iu]), 1.0])
    np.testing.assert_allclose(M.fc_distance(stack, b), [M.fc_distance(a, b), 0.0])
    pa, pb = M.psd(x, sfreq=SFREQ), M.psd(2 * x[::-1], sfreq=SFREQ)
    keep = (pa[0] >= 5) & (pa[0] <= 40)
    truth = np.sqrt(np.mean((np.log10(pa[1][keep]) - np.log10(pb[1][keep])) ** 2))
    assert M.psd_distance(pa, pb, band=(5, 40)) == pytest.approx(truth, rel=1e-12)
    assert M.psd_distance(pa, (pa[0], 10 * pa[1])) == pytest.approx(1.0, rel=1e-12)
    mean_truth = np.sqrt(np.mean((np.log10(pa[1].mean(1)) - np.log10(pb[1][:, :2].mean(1)))[
        pa[0] > 0] ** 2))
    assert M.psd_distance(pa, (pb[0], pb[1][:, :2]), average=True) == \
        pytest.approx(mean_truth, rel=1e-12)
    batch = rb.ResultBatch([_result(x), _result(2 * x[::-1])])
    np.testing.assert_allclose(M.psd_distance(M.psd(batch), pa, band=(5, 40)), [0.0, truth],
                               atol=1e-12)


# -- bad input ---------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(x):
    nan = x.copy()
    nan[30, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(first at sample 30, "
                                         r"signal '1'\)"):
        M.fc(nan)
    with pytest.raises(ValueError, match=r"t = 0.15 s\), signal 'r1'"):
        M.psd(_result(nan))
    with pytest.raises(ValueError, match=r"data\[1\] \(member 1 of the ResultBatch\).*"
                                         "run is diverged"):
        M.fc(rb.ResultBatch([_result(x), _result(nan, status="diverged")]))
    with pytest.raises(ValueError, match="window=20 s is longer than the data"):
        M.fcd(x, 20, 1, sfreq=SFREQ)
    with pytest.raises(ValueError, match="segment=20 s is longer than the data"):
        M.psd(x, sfreq=SFREQ, segment=20)
    with pytest.raises(ValueError, match=r"band must be \(low, high\) in Hz with 0 < low < "
                                         r"high < 100"):
        M.fc(x, sfreq=SFREQ, band=(8, 120))
    with pytest.raises(ValueError, match=r"band must be .* got \(0, 10\)"):
        M.fc(x, sfreq=SFREQ, band=(0, 10))
    with pytest.raises(ValueError, match=r"band must be .*0 <= low < high <= 100"):
        M.band_power(x, (30, 10), sfreq=SFREQ)
    with pytest.raises(ValueError, match="sfreq .* is required"):
        M.psd(x)
    with pytest.raises(ValueError, match="band is in Hz: pass sfreq"):
        M.fc(x, band=(8, 12))
    with pytest.raises(ValueError, match="a and b must have the same size"):
        M.fc_correlation(M.fc(x), M.fc(x[:, :4]))
    with pytest.raises(ValueError, match=r"a must be a square matrix"):
        M.fc_distance(np.ones((3, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="different frequencies"):
        M.psd_distance(M.psd(x, sfreq=SFREQ), M.psd(x, sfreq=SFREQ, segment=1.0))
    with pytest.raises(ValueError, match="same signals"):
        M.psd_distance(M.psd(x, sfreq=SFREQ), M.psd(x[:, :2], sfreq=SFREQ))
    with pytest.raises(ValueError, match="variable must name one of the Result's variables"):
        M.fc(rb.Result(np.arange(3), {"a": np.ones((3, 1)), "b": np.ones((3, 1))}, ["x"]))
    with pytest.raises(KeyError, match="'nope' was not recorded"):
        M.fc(_result(x), "nope")
    with pytest.raises(TypeError, match="variable='pc.v' names a variable of a Result"):
        M.fc(x, "pc.v")
    with pytest.raises(TypeError, match="picks=.* chooses channels of an MNE object"):
        M.fc(x, picks=[0])
    with pytest.raises(TypeError, match="data must be a Result, a ResultBatch"):
        M.fc("not data")
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        M.fc(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="sfreq=100.0 Hz differs from the data's own 200"):
        M.fc(_result(x), sfreq=100.0)
    with pytest.raises(ValueError, match="sfreq must be a positive finite number"):
        M.psd(x, sfreq=-1.0)
    with pytest.raises(ValueError, match="overlap must be a fraction"):
        M.psd(x, sfreq=SFREQ, overlap=1.0)
    with pytest.raises(ValueError, match="window='nope' is not a scipy.signal window"):
        M.psd(x, sfreq=SFREQ, window="nope")
    with pytest.raises(ValueError, match="tmin=50.*keep 0 sample"):
        M.fc(_result(x), tmin=50.0)
    with pytest.raises(ValueError, match="holds 0 frequency bin"):
        M.band_power(x, (10.1, 10.2), sfreq=SFREQ)
    with pytest.raises(ValueError, match="fcd needs at least 3 signals"):
        M.fcd(x[:, :2], 1.0, 0.5, sfreq=SFREQ)
    with pytest.raises(ValueError, match="k must be in"):
        M.fcd_distribution(np.eye(4), k=4)


# -- plots -------------------------------------------------------------------------------------
def test_plots_return_figures(x):
    import matplotlib.pyplot as plt
    labels = [f"r{i}" for i in range(5)]
    fig = viz.plot_fc(M.fc(x), labels)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 1       # matrix + colour bar
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == labels
    fcd, times = M.fcd(x, 1.0, 0.5, sfreq=SFREQ, return_times=True)
    fig2 = viz.plot_fcd(fcd, times)
    assert len(fig2.axes) == 2 and fig2.axes[0].images[0].get_array().shape == (19, 19)
    fig3 = viz.plot_psd(*M.psd(x, sfreq=SFREQ), labels=labels, unit="mV")
    assert len(fig3.axes) == 1 and len(fig3.axes[0].lines) == 5
    table = pd.DataFrame([{"global_coupling": g, "speed": s, "fc_corr": g * s}
                          for g in (0.0, 0.1, 0.2) for s in (1.0, 3.0)])
    table.loc[5, "fc_corr"] = np.nan                                 # a diverged point
    fig4 = viz.plot_sweep_map(table, x="global_coupling", y="speed", value="fc_corr")
    img = fig4.axes[0].images[0].get_array()
    assert len(fig4.axes) == 2 and img.shape == (2, 3) and img[1, 1] == pytest.approx(0.3)
    assert np.ma.is_masked(img[1, 2]) or np.isnan(img[1, 2])
    with pytest.raises(ValueError, match="value: unknown column 'fc_cor'"):
        viz.plot_sweep_map(table, "global_coupling", "speed", "fc_cor")
    with pytest.raises(ValueError, match="labels has 2 entries for 5 signals"):
        viz.plot_fc(M.fc(x), ["a", "b"])
    with pytest.raises(ValueError, match="times must have one entry per window"):
        viz.plot_fcd(fcd, times[:3])
    assert rb.measures is M and rb.viz is viz
    plt.close("all")
