"""ForwardModel: results -> mne Raw / Epochs / Evoked / source estimates, with MNE as a client."""
import datetime
import time

import mne
import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.forward_models import ForwardModel, from_gain, from_sphere
from test_forward_common import conn76, fm76, make_result, small_conn  # noqa: F401


@pytest.fixture(scope="module")
def fm_small():
    return from_sphere(small_conn(), montage="biosemi32")


def test_gain_units_and_info(fm_small):
    fm = fm_small
    assert fm.gain.shape == (32, 8)
    assert fm.info.ch_names == fm.ch_names and fm.ch_types == ["eeg"]
    # V per A·m: a 10 nA·m cortical dipole gives ~0.1-10 µV on the scalp
    assert 1e-8 < np.abs(fm.gain * 1e-8).max() < 1e-4
    assert fm.forward is not None and fm.source_map.kind == "volume"
    assert not fm.gain.flags.writeable
    assert "placement" in fm.provenance and fm.dropped["regions"] == []


def test_to_raw_info_and_units(fm_small):
    conn = small_conn()
    res = make_result(conn.labels, active=[2], amp=5.0)
    raw = fm_small.to_raw(res, signal="pc.v", moment_scale=1e-8, reference=None)
    assert isinstance(raw, mne.io.RawArray)
    assert raw.info["sfreq"] == 1000.0 and len(raw.times) == 2000
    assert raw.get_channel_types() == ["eeg"] * 32
    assert raw.info["chs"][0]["unit"] == 107  # FIFF_UNIT_V
    assert raw.info["meas_date"] is not None
    assert "jansen_rit" in raw.info["description"]
    # channel positions come with the data (head frame, metres)
    pos = np.array([c["loc"][:3] for c in raw.info["chs"]])
    assert np.isfinite(pos).all() and 0.05 < np.linalg.norm(pos, axis=1).mean() < 0.15
    # data = gain @ (scale * demeaned signal), exactly
    sig = res["pc.v"] - res["pc.v"].mean(0)
    np.testing.assert_allclose(raw.get_data(), fm_small.gain @ (1e-8 * sig.T), rtol=1e-10,
                               atol=1e-20)


def test_reference_options(fm_small):
    conn = small_conn()
    res = make_result(conn.labels, active=[1])
    ref_none = fm_small.to_raw(res, moment_scale=1e-8, reference=None).get_data()
    avg = fm_small.to_raw(res, moment_scale=1e-8)
    assert avg.info["custom_ref_applied"]
    np.testing.assert_allclose(avg.get_data(), ref_none - ref_none.mean(0), atol=1e-18)
    cz = fm_small.to_raw(res, moment_scale=1e-8, reference="Cz").get_data()
    np.testing.assert_allclose(cz, ref_none - ref_none[fm_small.ch_names.index("Cz")],
                               atol=1e-18)
    proj = fm_small.to_raw(res, moment_scale=1e-8, reference="projection")
    assert len(proj.info["projs"]) == 1
    with pytest.raises(ValueError, match="reference channel"):
        fm_small.to_raw(res, moment_scale=1e-8, reference="NOPE")


def test_fif_round_trip_identical(fm_small, tmp_path):
    conn = small_conn()
    res = make_result(conn.labels, active=[0, 3])
    raw = fm_small.to_raw(res, moment_scale=1e-8, events=[(0.5, 0.1, "stim"), (1.2, 0.0, "x")],
                          meas_date="2024-01-02T03:04:05+00:00")
    fname = tmp_path / "sim_raw.fif"
    raw.save(fname, fmt="double")
    back = mne.io.read_raw_fif(fname, preload=True, verbose=False)
    np.testing.assert_array_equal(back.get_data(), raw.get_data())
    assert back.ch_names == raw.ch_names
    assert back.info["sfreq"] == raw.info["sfreq"]
    assert back.info["meas_date"] == datetime.datetime(2024, 1, 2, 3, 4, 5,
                                                       tzinfo=datetime.timezone.utc)
    assert back.info["custom_ref_applied"] == raw.info["custom_ref_applied"]
    for a, b in zip(back.info["chs"], raw.info["chs"]):
        np.testing.assert_allclose(a["loc"], b["loc"], atol=1e-7)
        assert a["kind"] == b["kind"] and a["unit"] == b["unit"]
    assert list(back.annotations.description) == ["stim", "x"]
    np.testing.assert_allclose(back.annotations.onset, [0.5, 1.2])
    np.testing.assert_allclose(back.annotations.duration, [0.1, 0.0], atol=1e-6)  # float32
    assert back.info["description"] == raw.info["description"]


def test_mne_pipeline_filter_psd_epochs_reference(fm76, conn76):
    occ = [conn76.labels.index(lab) for lab in ("rV1", "lV1", "rV2", "lV2")]
    res = make_result(conn76.labels, n_times=10000, active=occ, freq=10.0, amp=3.0)
    raw = fm76.to_raw(res, moment_scale=1e-8, noise={"eeg": 1e-7}, random_state=1,
                      events=np.array([[1000, 0, 1], [4000, 0, 2], [7000, 0, 1]]),
                      event_id={"a": 1, "b": 2})
    raw.filter(1.0, 40.0, verbose=False)
    psd = raw.compute_psd(fmin=2, fmax=30, verbose=False)
    data, freqs = psd.get_data(return_freqs=True)
    assert abs(freqs[np.argmax(data.mean(0))] - 10.0) < 0.6
    # occipital channels carry the alpha
    alpha = data[:, np.argmin(abs(freqs - 10))]
    assert alpha[raw.ch_names.index("Oz")] > 5 * alpha[raw.ch_names.index("Fpz")]
    events, ev_id = mne.events_from_annotations(raw, verbose=False)
    assert ev_id == {"a": 1, "b": 2} and len(events) == 3
    epochs = mne.Epochs(raw, events, ev_id, tmin=-0.2, tmax=0.5, preload=True, verbose=False)
    assert len(epochs) == 3
    raw.set_eeg_reference(["Cz"], verbose=False)
    assert np.allclose(raw.get_data(picks="Cz"), 0)


def test_projection_speed_76_regions_100s(fm76, conn76):
    res = make_result(conn76.labels, n_times=100_000)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        raw = fm76.to_raw(res, moment_scale=1e-8)
        best = min(best, time.perf_counter() - t0)
    print(f"to_raw, 76 regions x 100 s at 1 kHz -> 64 EEG: {best:.3f} s")
    assert raw.get_data().shape == (64, 100_000)
    assert best < 2.0, f"to_raw took {best:.2f} s"  # ~0.3 s on an idle 2-core machine


def test_signal_combinations_and_callable(fm_small):
    conn = small_conn()

    def extra(t, n):
        rng = np.random.default_rng(3)
        return {"pc.psp_e": 10 + rng.standard_normal((len(t), n)),
                "pc.psp_i": 4 + rng.standard_normal((len(t), n))}
    res = make_result(conn.labels, extra=extra)
    combo = fm_small.to_raw(res, signal={"pc.psp_e": 1, "pc.psp_i": -1}, moment_scale=1e-8,
                            reference=None).get_data()
    manual = res["pc.psp_e"] - res["pc.psp_i"]
    expect = fm_small.gain @ (1e-8 * (manual - manual.mean(0)).T)
    np.testing.assert_allclose(combo, expect, rtol=1e-10, atol=1e-17)
    call = fm_small.to_raw(res, signal=lambda r: r["pc.psp_e"] - r["pc.psp_i"],
                           moment_scale=1e-8, reference=None).get_data()
    np.testing.assert_allclose(call, combo, rtol=1e-10, atol=1e-17)
    no_demean = fm_small.to_raw(res, moment_scale=1e-8, reference=None, demean=False)
    np.testing.assert_allclose(no_demean.get_data(), fm_small.gain @ (1e-8 * res["pc.v"].T),
                               rtol=1e-10)


def test_template_default_signal_and_scale(fm_small):
    conn = small_conn()
    res = make_result(conn.labels)
    raw = fm_small.to_raw(res)  # jansen_rit declares pc.v, 1e-8 A·m per mV
    expect = fm_small.to_raw(res, signal="pc.v", moment_scale=1e-8)
    np.testing.assert_allclose(raw.get_data(), expect.get_data())
    other = make_result(conn.labels, model="my_model")
    with pytest.raises(ValueError, match="signal=None .* declares no 'eeg_meg' observable"):
        fm_small.to_raw(other)
    with pytest.raises(ValueError, match="moment_scale"):
        fm_small.to_raw(other, signal="pc.v")
    with pytest.raises(ValueError, match="pass moment_scale= explicitly"):
        fm_small.to_raw(res, signal={"pc.v": 2.0})
    kur = make_result(conn.labels, model="kuramoto", var="osc.theta")
    raw = fm_small.to_raw(kur, reference=None)
    c = np.cos(kur["osc.theta"])
    np.testing.assert_allclose(raw.get_data(), fm_small.gain @ (1e-8 * (c - c.mean(0)).T))


def test_bad_signal_and_regions_refused(fm_small):
    conn = small_conn()
    res = make_result(conn.labels)
    with pytest.raises(ValueError, match=r"\['pc.nope'\] not in the result.*recorded"):
        fm_small.to_raw(res, signal="pc.nope", moment_scale=1e-8)
    wrong = make_result([f"x{k}" for k in range(8)])
    with pytest.raises(ValueError, match="do not match"):
        fm_small.to_raw(wrong, moment_scale=1e-8)
    fewer = make_result(conn.labels[:6])
    with pytest.raises(ValueError, match="2 region"):
        fm_small.to_raw(fewer, moment_scale=1e-8)
    # same regions in another order: matched by label
    perm = np.random.default_rng(0).permutation(8)
    shuffled = rb.Result(res.time, {"pc.v": res["pc.v"][:, perm]},
                         [conn.labels[k] for k in perm], res.units, res.provenance)
    np.testing.assert_allclose(fm_small.to_raw(shuffled, moment_scale=1e-8).get_data(),
                               fm_small.to_raw(res, moment_scale=1e-8).get_data(), atol=1e-18)
    nan = make_result(conn.labels)
    nan["pc.v"][5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fm_small.to_raw(nan, moment_scale=1e-8)
    uneven = rb.Result(np.r_[0, np.cumsum(np.full(9, 1e-3))] ** 1.1,
                       {"pc.v": np.zeros((10, 8))}, conn.labels)
    with pytest.raises(ValueError, match="uniformly sampled"):
        fm_small.to_raw(uneven, moment_scale=1e-8)


def test_gain_and_channel_mismatch_refused():
    info = mne.create_info(["a", "b", "c"], 100.0, "eeg")
    with pytest.raises(ValueError, match=r"expected \(3, 2\)"):
        ForwardModel(np.ones((4, 2)), info, ["r0", "r1"])
    gain = np.ones((3, 2))
    gain[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*channel 'b', region 'r1'"):
        ForwardModel(gain, info, ["r0", "r1"])
    with pytest.raises(ValueError, match=r"expected \(32, 2\)"):
        from_gain(np.ones((64, 2)), "biosemi32", ["r0", "r1"])
    with pytest.raises(ValueError, match="unknown montage"):
        from_gain(np.ones((64, 2)), "biosemi65", ["r0", "r1"])


def test_noise_options(fm_small):
    conn = small_conn()
    res = make_result(conn.labels, n_times=5000)
    clean = fm_small.to_raw(res, moment_scale=1e-8, reference=None).get_data()
    noisy = fm_small.to_raw(res, moment_scale=1e-8, reference=None, noise=1e-6,
                            random_state=0).get_data()
    assert 0.8e-6 < (noisy - clean).std() < 1.2e-6
    again = fm_small.to_raw(res, moment_scale=1e-8, reference=None, noise={"eeg": 1e-6},
                            random_state=0).get_data()
    np.testing.assert_array_equal(noisy, again)
    cov = mne.make_ad_hoc_cov(fm_small.info, std={"eeg": 2e-6}, verbose=False)
    noisy2 = fm_small.to_raw(res, moment_scale=1e-8, reference=None, noise=cov,
                             random_state=0).get_data()
    assert 1.6e-6 < (noisy2 - clean).std() < 2.4e-6
    with pytest.raises(ValueError, match="no level for channel type"):
        fm_small.to_raw(res, moment_scale=1e-8, noise={"mag": 1e-14})
    small = mne.make_ad_hoc_cov(mne.pick_info(fm_small.info, [0, 1]), verbose=False)
    with pytest.raises(ValueError, match="lacks channels"):
        fm_small.to_raw(res, moment_scale=1e-8, noise=small)


def test_events_from_provenance_and_formats(fm_small):
    conn = small_conn()
    res = make_result(conn.labels, provenance={"events": {"onset": [0.5, 1.0],
                                                          "description": ["go", "stop"]}})
    raw = fm_small.to_raw(res, moment_scale=1e-8)
    assert list(raw.annotations.description) == ["go", "stop"]
    assert raw.annotations.orig_time == raw.info["meas_date"]
    raw = fm_small.to_raw(res, moment_scale=1e-8, events=[0.25, 0.75])
    np.testing.assert_allclose(raw.annotations.onset, [0.25, 0.75])
    raw = fm_small.to_raw(res, moment_scale=1e-8,
                          events=[{"onset": 1.5, "duration": 0.2, "name": "tone"}])
    assert raw.annotations.description[0] == "tone"
    with pytest.raises(ValueError, match="outside the result's time span"):
        fm_small.to_raw(res, moment_scale=1e-8, events=[5.0])


def test_trials_to_epochs_and_evoked(fm_small):
    conn = small_conn()
    trials = []
    for k in range(12):
        r = make_result(conn.labels, n_times=600, seed=k)
        t = r.time - 0.1  # stimulus at 0.1 s
        r["pc.v"][:, 4] += 8 * np.exp(-((t - 0.1) / 0.02) ** 2)  # response peaks 100 ms after
        trials.append(r)
    evoked = fm_small.to_evoked(trials, moment_scale=1e-8, onset=0.1, noise=2e-6,
                                random_state=0)
    assert isinstance(evoked, mne.EvokedArray) and evoked.nave == 12
    assert evoked.times[0] == pytest.approx(-0.1)
    _, lat = evoked.get_peak(ch_type="eeg", tmin=0.0)
    assert abs(lat - 0.1) < 0.01
    epochs = fm_small.to_epochs(rb.ResultBatch(trials), moment_scale=1e-8, onset=0.1)
    assert len(epochs) == 12 and epochs.info["custom_ref_applied"]
    # continuous result + events: cut epochs around them
    long = make_result(conn.labels, n_times=5000)
    ep = fm_small.to_epochs(long, moment_scale=1e-8, events=[1.0, 2.0, 3.0], tmin=-0.1,
                            tmax=0.3)
    assert len(ep) == 3 and ep.times[0] == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="another time axis"):
        fm_small.to_evoked([trials[0], make_result(conn.labels, n_times=100)],
                           moment_scale=1e-8)


def test_volume_source_estimate_is_ground_truth(fm_small):
    conn = small_conn()
    res = make_result(conn.labels, active=[3])
    stc = fm_small.to_source_estimate(res, moment_scale=1e-8)
    assert isinstance(stc, mne.VolSourceEstimate)
    np.testing.assert_array_equal(stc.vertices[0], np.arange(8))
    sig = res["pc.v"] - res["pc.v"].mean(0)
    np.testing.assert_allclose(stc.data, 1e-8 * sig.T)
    assert stc.tstep == pytest.approx(1e-3) and stc.tmin == 0.0
    # the free-orientation forward along our orientations reproduces the raw data
    g = fm_small.forward["sol"]["data"].reshape(32, -1, 3)
    nn = np.array(fm_small.forward["src"][0]["nn"])
    direct = np.einsum("ckx,kx->ck", g, nn) @ stc.data
    raw = fm_small.to_raw(res, moment_scale=1e-8, reference=None)
    np.testing.assert_allclose(raw.get_data(), direct, rtol=1e-8, atol=1e-18)


def test_pick_channels():
    fm = from_sphere(small_conn(), montage="biosemi32", meg={"n_sensors": 20,
                                                              "kind": "both"})
    assert fm.ch_types == ["eeg", "grad", "mag"]
    eeg = fm.pick("eeg")
    assert eeg.ch_types == ["eeg"] and eeg.gain.shape == (32, 8)
    meg = fm.pick("meg")
    assert meg.ch_types == ["grad", "mag"] and meg.gain.shape == (60, 8)
    with pytest.raises(ValueError, match="neither a channel type"):
        fm.pick("ecog")


def test_save_psd_topomap_png(fm76, conn76, tmp_path):
    res = make_result(conn76.labels, n_times=4000,
                      active=[conn76.labels.index("rV1")], amp=3.0)
    raw = fm76.to_raw(res, moment_scale=1e-8)
    out = fm76.save_sensor_plots(raw, tmp_path / "psd.png")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_eeg_is_biosemi64_sphere(conn76, fm76):
    fm = rb.forward_models.default_eeg(conn76)
    assert fm.kind == "sphere" and len(fm.ch_names) == 64
    np.testing.assert_allclose(fm.gain, fm76.gain)
