"""Saving and reading forward models: exact round trips, overwrite refusal, damaged files."""
import os
import zipfile

import mne
import numpy as np
import pytest

from rate_bridge.forward_models import (ForwardModel, from_gain, from_intracranial,
                                        from_sphere, read_forward_model)
from test_forward_common import make_result, small_conn


def _info_diff(a, b):
    """object_diff of two Infos, less the file identifiers MNE stamps on every FIF it writes."""
    diff = mne.utils.object_diff(a, b).splitlines()
    return [d for d in diff if not d.startswith(("['file_id']", "['meas_id']"))]


def _same(fm, back):
    assert type(back) is ForwardModel
    assert back.gain.dtype == np.float64 and np.array_equal(back.gain, fm.gain)
    assert _info_diff(fm.info, back.info) == []
    assert back.labels == fm.labels and back.kind == fm.kind and back.mode == fm.mode
    assert mne.utils.object_diff(fm.provenance, back.provenance) == ""   # types too
    assert back.dropped == fm.dropped
    if fm.source_map is None:
        assert back.source_map is None
        return
    a, b = fm.source_map, back.source_map
    assert (a.kind, a.subject) == (b.kind, b.subject)
    assert all(np.array_equal(u, v) for u, v in zip(a.vertices, b.vertices))
    assert len(a.vertices) == len(b.vertices)
    assert (a.weights != b.weights).nnz == 0 and a.weights.shape == b.weights.shape


def test_sphere_model_round_trip(tmp_path):
    fm = from_sphere(small_conn(8), montage="biosemi32")
    path = fm.save(tmp_path / "sphere-rbfwd.zip")
    assert os.listdir(tmp_path) == ["sphere-rbfwd.zip"]          # no temporary file left
    back = read_forward_model(path)
    _same(fm, back)
    # MNE's forward solution comes back as MNE stores it (FIF, float32)
    np.testing.assert_allclose(back.forward["sol"]["data"], fm.forward["sol"]["data"],
                               rtol=1e-6, atol=1e-6 * np.abs(fm.forward["sol"]["data"]).max())
    assert back.source_map.src is back.forward["src"]
    res = make_result(fm.labels, n_times=200, active=[1])
    np.testing.assert_array_equal(back.to_raw(res, moment_scale=1e-8).get_data(),
                                  fm.to_raw(res, moment_scale=1e-8).get_data())
    stc, stc2 = (m.to_source_estimate(res, moment_scale=1e-8) for m in (fm, back))
    np.testing.assert_array_equal(stc.data, stc2.data)


def test_custom_gain_round_trip_keeps_provenance_types(tmp_path):
    rng = np.random.default_rng(0)
    labels = [f"r{k}" for k in range(5)]
    prov = {"note": "measured", "arr": np.arange(6.0).reshape(2, 3), "n": np.int32(7),
            "pair": (1, 2.5), "nested": {"list": [1, None, True], 3: "int key"},
            "tiny": 1e-300, "text": "é ü"}
    fm = from_gain(rng.standard_normal((32, 5)) * 1e-7, "biosemi32", labels, provenance=prov,
                   kind="custom", mode="sum")
    fm.save(tmp_path / "gain.zip")
    back = read_forward_model(tmp_path / "gain.zip")
    _same(fm, back)
    got = back.provenance
    assert isinstance(got["arr"], np.ndarray) and np.array_equal(got["arr"], prov["arr"])
    assert type(got["n"]) is np.int32 and got["pair"] == (1, 2.5) and \
        isinstance(got["pair"], tuple)
    assert got["nested"] == {"list": [1, None, True], 3: "int key"}
    assert back.forward is None and back.source_map is None


def test_intracranial_model_round_trip(tmp_path):
    conn = small_conn(8, frame="head")
    pos = {f"A{k}": (-30.0 + 3.5 * k, 2.0, 21.0) for k in range(8)}
    fm = from_intracranial(conn, pos, coord_frame="head", ch_type="seeg")
    fm.save(tmp_path / "seeg.zip")
    back = read_forward_model(tmp_path / "seeg.zip")
    _same(fm, back)
    assert back.info.get_channel_types() == ["seeg"] * 8


def test_overwrite_is_refused_unless_asked(tmp_path):
    a = from_gain(np.ones((32, 2)), "biosemi32", ["x", "y"])
    b = from_gain(2 * np.ones((32, 2)), "biosemi32", ["x", "y"])
    path = tmp_path / "fm.zip"
    a.save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="fm.zip already exists; pass overwrite=True"):
        b.save(path)
    assert path.read_bytes() == before
    b.save(path, overwrite=True)
    assert np.array_equal(read_forward_model(path).gain, b.gain)
    assert sorted(os.listdir(tmp_path)) == ["fm.zip"]
    with pytest.raises(FileNotFoundError, match="folder .*nowhere does not exist"):
        a.save(tmp_path / "nowhere" / "fm.zip")


def test_damaged_files_give_clear_errors(tmp_path):
    fm = from_sphere(small_conn(8), montage="biosemi32")
    path = tmp_path / "fm.zip"
    fm.save(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.zip.*truncated or corrupt"):
        read_forward_model(cut)
    # the zip directory intact but a member's bytes damaged
    flipped = bytearray(data)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("gain.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    flipped[start:start + 64] = bytes(64)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"bad.zip.*(corrupt|damaged)"):
        read_forward_model(bad)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="other.zip.*damaged.*forward_model.json"):
        read_forward_model(other)
    text = tmp_path / "text.zip"
    text.write_text("not a zip at all")
    with pytest.raises(ValueError, match="text.zip: not a readable forward model file"):
        read_forward_model(text)
    with pytest.raises(FileNotFoundError, match="missing.zip"):
        read_forward_model(tmp_path / "missing.zip")
