"""Simulations written as BIDS datasets (ForwardModel.to_bids through mne-bids) and read back.

No kernel is compiled: results and forward models are built directly (random gains)."""
import csv
import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge import monitors as M
from rate_bridge.forward_models import ForwardModel

mne_bids = pytest.importorskip("mne_bids")
mne = pytest.importorskip("mne")

LABELS = ["lV1", "rV1", "lM1 é", "rM1"]


def _result(sfreq=250.0, n=500, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sfreq
    prov = {"model": "jansen_rit", "seed": 11, "kernel": "0123abcd", "network": "ring4",
            "params": {"pc.u": [120.0, 150.0, 180.0, 220.0], "global_coupling": 0.2},
            "versions": {"rate_bridge": rb.__version__, "numba": "0.60"},
            "sampling_rate": sfreq, "noise": {"pc.v": np.array([0.5])}, "bad": np.nan}
    res = rb.Result(t, {"pc.v": rng.normal(size=(n, 4)), "pc.y": rng.normal(size=(n, 4))},
                    LABELS, {"pc.v": "mV", "pc.y": "mV"}, prov)
    cov = np.cov(res["pc.v"].T)
    res.monitors["fc"] = M.MonitorResult(M.Covariance("pc.v"), cov, LABELS, "mV", count=n,
                                         mean=res["pc.v"].mean(0))
    return res


def _eeg_model(n_channels=16):
    montage = mne.channels.make_standard_montage("biosemi64")
    info = mne.create_info(montage.ch_names[:n_channels], 250.0, "eeg")
    info.set_montage(montage)
    gain = np.random.default_rng(1).normal(size=(n_channels, 4)) * 1e3   # V per A·m
    return ForwardModel(gain, info, LABELS, kind="gain", provenance={"built": "by hand"})


KW = dict(signal="pc.v", moment_scale=1e-8)


@pytest.fixture(scope="module")
def eeg_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids") / "ds"
    fm, res = _eeg_model(), _result()
    out = fm.to_bids(res, root, subject="01", task="rest", events=[(0.5, 0.0, "stim")],
                     line_freq=50, **KW)
    return root, fm, res, out


def test_eeg_reads_back_through_mne_bids(eeg_dataset):
    """BrainVision stores float32 µV: each sample within 1e-7 of its value, relatively."""
    root, fm, res, out = eeg_dataset
    assert out["raw"].fpath.suffix == ".vhdr" and out["raw"].datatype == "eeg"
    raw = mne_bids.read_raw_bids(out["raw"], verbose=False)
    expected = fm.to_raw(res, **KW)
    assert raw.ch_names == expected.ch_names and raw.info["sfreq"] == 250.0
    assert set(raw.get_channel_types()) == {"eeg"}
    np.testing.assert_allclose(raw.get_data(), expected.get_data(), rtol=1e-7, atol=0)
    # positions and the stimulus travel too
    np.testing.assert_allclose(raw.get_montage().get_positions()["ch_pos"]["Fp1"],
                               expected.get_montage().get_positions()["ch_pos"]["Fp1"],
                               atol=1e-6)
    assert list(raw.annotations.description) == ["stim"]
    assert raw.annotations.onset[0] == pytest.approx(0.5)


def test_meg_is_written_as_fif_in_float64(tmp_path):
    from rate_bridge.forward_models.meg import make_meg_info
    info = make_meg_info(n_sensors=12, sfreq=250.0)
    fm = ForwardModel(np.random.default_rng(2).normal(size=(12, 4)) * 1e-6, info, LABELS)
    res = _result()
    out = fm.to_bids(res, tmp_path, subject="02", task="rest", session="a", run=1, **KW)
    assert out["raw"].fpath.suffix == ".fif" and out["raw"].datatype == "meg"
    raw = mne_bids.read_raw_bids(out["raw"], verbose=False)
    np.testing.assert_array_equal(raw.get_data(), fm.to_raw(res, **KW).get_data())
    assert out["sources"].parts[-4:-1] == ("sub-02", "ses-a", "meg")
    _validate(tmp_path)


def test_ieeg_contacts_in_head_frame_are_written_in_space_other(tmp_path):
    info = mne.create_info(["A1", "A2", "A3", "B1"], 250.0, "seeg")
    pos = {name: np.array([0.01 * k, 0.02, 0.03]) for k, name in enumerate(info.ch_names)}
    info.set_montage(mne.channels.make_dig_montage(ch_pos=pos, coord_frame="head"))
    try:
        fm = ForwardModel(np.random.default_rng(3).normal(size=(4, 4)), info, LABELS)
    except ValueError as err:
        pytest.skip(f"this ForwardModel takes no sEEG channels: {err}")
    res = _result()
    out = fm.to_bids(res, tmp_path, subject="03", task="rest", reference=["B1"], **KW)
    assert out["raw"].datatype == "ieeg" and out["raw"].fpath.suffix == ".vhdr"
    with pytest.warns(RuntimeWarning, match="Other is not an MNE-Python coordinate frame"):
        raw = mne_bids.read_raw_bids(out["raw"], verbose=False)
    assert set(raw.get_channel_types()) == {"seeg"}
    np.testing.assert_allclose(raw.get_data(),
                               fm.to_raw(res, reference=["B1"], **KW).get_data(),
                               rtol=1e-7, atol=1e-20)
    back = raw.get_montage().get_positions()
    np.testing.assert_allclose(back["ch_pos"]["A3"], pos["A3"])
    coords = json.loads(next(out["raw"].fpath.parent.glob("*_coordsystem.json")).read_text())
    assert coords["iEEGCoordinateSystem"] == "Other"
    assert "head coordinates" in coords["iEEGCoordinateSystemDescription"]
    assert json.loads(out["sidecar"].read_text())["iEEGReference"] == "B1"
    _validate(tmp_path)


def test_provenance_is_in_the_sources_sidecar(eeg_dataset):
    root, fm, res, out = eeg_dataset
    side = json.loads(out["provenance"].read_text(encoding="utf-8"))
    prov = side["RateBridgeProvenance"]
    sim = prov["simulation"]
    for key in ("model", "seed", "kernel", "network", "params", "versions"):
        assert sim[key] == res.provenance[key]
    assert sim["noise"] == {"pc.v": [0.5]} and sim["bad"] == "nan"     # strict JSON
    assert sim["regions"] == LABELS and sim["status"] == "completed"
    fwd = prov["forward_model"]
    assert fwd["kind"] == "gain" and fwd["provenance"] == {"built": "by hand"}
    assert fwd["gain_sha256"] == hashlib.sha256(fm.gain.astype("<f8").tobytes()).hexdigest()
    assert prov["projection"]["moment_scale"] == 1e-8 and prov["projection"]["signal"] == "pc.v"
    assert prov["written_by"]["mne_bids"] == mne_bids.__version__
    assert side["SamplingFrequency"] == 250.0 and side["Variables"]["pc.v"]["Units"] == "mV"
    # the derivative names the recording it belongs to, which exists
    raw_rel = side["Sources"][0].removeprefix("bids:raw:")
    assert (root / raw_rel) == out["raw"].fpath and (root / raw_rel).exists()
    # the recording's sidecar says it is simulated and where the provenance is
    rec = json.loads(out["sidecar"].read_text())
    rel = out["provenance"].relative_to(root).as_posix()
    assert rel in rec["TaskDescription"] and "rate_bridge" in rec["SoftwareVersions"]
    assert rec["EEGReference"] == "average" and rec["PowerLineFrequency"] == 50


def test_sources_derivative_round_trips(eeg_dataset):
    from test_result_io import assert_same
    _, _, res, out = eeg_dataset
    assert out["sources"].name == "sub-01_task-rest_desc-sources_timeseries.nc"
    assert_same(res, rb.read_result(out["sources"]))


def test_existing_recording_is_kept_unless_overwrite(tmp_path):
    fm, res = _eeg_model(4), _result()
    out = fm.to_bids(res, tmp_path, subject="01", task="rest", **KW)
    before = out["sources"].read_bytes()
    with pytest.raises(FileExistsError, match=r"sub-01_task-rest_eeg\.json exists; pass "
                                              r"overwrite=True"):
        fm.to_bids(_result(seed=5), tmp_path, subject="01", task="rest", **KW)
    assert out["sources"].read_bytes() == before
    again = fm.to_bids(_result(seed=5), tmp_path, subject="01", task="rest", overwrite=True,
                       **KW)
    np.testing.assert_array_equal(rb.read_result(again["sources"])["pc.v"],
                                  _result(seed=5)["pc.v"])
    second = fm.to_bids(res, tmp_path, subject="01", task="rest", run=2, **KW)
    assert second["raw"].fpath.exists() and out["raw"].fpath.exists()
    with pytest.raises(ValueError, match=r"format='FIF' cannot hold EEG data"):
        fm.to_bids(res, tmp_path, subject="02", task="rest", format="FIF", **KW)
    with pytest.raises(TypeError, match="line_freq"):
        fm.to_bids(res, tmp_path, subject="02", task="rest", line_freq="50 Hz", **KW)
    assert not (tmp_path / "sub-02").exists()


def _bids_keys_by_hand(root, out):
    """What the BIDS spec (1.9, EEG) requires, checked without the validator."""
    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["Name"] and desc["BIDSVersion"]
    assert (root / "participants.tsv").read_text().startswith("participant_id")
    rec = json.loads(out["sidecar"].read_text())
    for key in ("TaskName", "SamplingFrequency", "EEGReference", "PowerLineFrequency",
                "SoftwareFilters"):
        assert key in rec, key
    assert "RateBridgeProvenance" not in rec          # unknown keys fail the validator there
    stem = out["raw"].fpath.with_suffix("")
    for ext in (".vhdr", ".vmrk", ".eeg"):
        assert stem.with_suffix(ext).exists()
    channels = out["raw"].fpath.parent / "sub-01_task-rest_channels.tsv"
    with open(channels, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0][:3] == ["name", "type", "units"] and len(rows) == 17
    deriv = json.loads((root / "derivatives" / "rate_bridge" /
                        "dataset_description.json").read_text())
    assert deriv["DatasetType"] == "derivative" and deriv["GeneratedBy"][0]["Name"] == \
        "rate_bridge"


def _validate(root):
    """Run the bids-validator (npm) where it is installed; True if it ran (and passed)."""
    validator = shutil.which("bids-validator")
    if validator is None:
        return False
    run = subprocess.run([validator, str(root)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "[ERR]" not in run.stdout, run.stdout + run.stderr
    return True


def test_dataset_is_valid_bids(eeg_dataset):
    root, _, _, out = eeg_dataset
    _bids_keys_by_hand(root, out)
    if not _validate(root):
        pytest.skip("bids-validator (npm) is not installed; the required files and keys were "
                    "checked by hand")


def test_missing_mne_bids_says_how_to_install(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "mne_bids", None)       # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'rate_bridge\[bids\]'"):
        _eeg_model(4).to_bids(_result(), tmp_path, subject="01", task="rest", **KW)
