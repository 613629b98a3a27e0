"""TVB connectivity zips/folders: tvb-data's real files, writing, and refusing bad archives."""
import bz2
import io
import logging
import sys
import zipfile

import numpy as np
import pytest

from rate_bridge.adapters import (Connectome, read_connectome, read_tvb, read_tvb_connectome,
                                  tvb_data_path, write_connectome, write_tvb,
                                  hemispheres_from_labels)

SIZES = (66, 68, 76, 96, 192)


@pytest.fixture
def adapters_log():
    """Messages logged by rate_bridge at WARNING and above during the test."""
    from rate_bridge.utils import logger

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    messages = []
    handler = _Collect(logging.WARNING)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def _tvb_data():
    return pytest.importorskip("tvb_data")


@pytest.mark.parametrize("n", SIZES)
def test_read_every_tvb_data_connectome(n):
    _tvb_data()
    path = tvb_data_path(f"connectivity_{n}.zip")
    conn = read_connectome(path)
    assert isinstance(conn, Connectome)
    assert conn.weights.shape == conn.tract_lengths.shape == (n, n)
    assert conn.centres.shape == (n, 3)
    assert len(conn.labels) == len(set(conn.labels)) == n
    assert conn.coord_frame == "tvb"
    assert conn.name == f"connectivity_{n}"
    assert (conn.weights >= 0).all() and (conn.tract_lengths >= 0).all()
    # every shipped connectome has labels saying left/right
    assert conn.hemispheres is not None and conn.hemispheres.sum() == n // 2
    assert read_tvb_connectome(n).equals(conn, check_name=True)


def test_tvb_76_contents_match_the_text_files():
    """Values, orientation of the matrix and optional files of connectivity_76."""
    _tvb_data()
    path = tvb_data_path("connectivity/connectivity_76.zip")
    with zipfile.ZipFile(path) as zf:
        raw_w = np.loadtxt(io.BytesIO(zf.read("weights.txt")))
        raw_c = zf.read("centres.txt").decode().split("\n")[0].split()
        raw_a = np.loadtxt(io.BytesIO(zf.read("areas.txt")))
    conn = read_tvb_connectome(76)
    # TVB's weights[i, j] is from j onto i (rows = To, columns = from): used unchanged
    np.testing.assert_array_equal(conn.weights, raw_w)
    assert not np.array_equal(conn.weights, conn.weights.T)  # asymmetric: orientation matters
    assert conn.labels[0] == raw_c[0] == "rA1"
    np.testing.assert_array_equal(conn.centres[0], [float(v) for v in raw_c[1:]])
    np.testing.assert_array_equal(conn.areas, raw_a)
    assert conn.orientations.shape == (76, 3)
    assert conn.cortical.all()
    assert conn.hemispheres[conn.labels.index("rA1")]
    assert not conn.hemispheres[conn.labels.index("lA1")]


def test_tvb_quirks_compressed_subfolder_and_extra_column():
    _tvb_data()
    c68 = read_tvb_connectome(68)  # .txt.bz2 members
    with zipfile.ZipFile(tvb_data_path("connectivity_68.zip")) as zf:
        raw = np.loadtxt(io.BytesIO(bz2.decompress(zf.read("weights.txt.bz2"))))
    np.testing.assert_array_equal(c68.weights, raw)
    assert c68.areas is None and c68.cortical is None
    c192 = read_tvb_connectome(192)  # files in a connectivity_192/ folder
    assert c192.labels[0] == "lAD" and c192.n_regions == 192
    c66 = read_tvb_connectome(66)  # centres with a trailing "None" column, no areas
    assert c66.labels[0] == "rBSTS" and c66.orientations is None
    c96 = read_tvb_connectome(96)  # hemispheres from _R/_L suffixes
    assert c96.hemispheres[c96.labels.index("RM-TCpol_R")]
    assert not c96.hemispheres[c96.labels.index("BG-Acc_L")]


def test_read_tvb_folder(tmp_path):
    _tvb_data()
    with zipfile.ZipFile(tvb_data_path("connectivity_76.zip")) as zf:
        zf.extractall(tmp_path / "c76")
    conn = read_connectome(tmp_path / "c76")
    ref = read_tvb_connectome(76)
    assert conn.equals(ref)
    assert conn.name == "c76"


def test_tvb_data_path_errors(monkeypatch, tmp_path):
    _tvb_data()
    with pytest.raises(FileNotFoundError, match=r"tvb-data ships connectivity_76\.zip.*"
                                                r"tvb_data_path\('connectivity_76\.zip'\)"):
        read_connectome(tmp_path / "connectivity_76.zip")
    with pytest.raises(FileNotFoundError, match="connectivity_77.zip"):
        tvb_data_path("connectivity_77.zip")
    with pytest.raises(ValueError, match="no connectome with 77 regions.*76"):
        read_tvb_connectome(77)
    monkeypatch.setitem(sys.modules, "tvb_data", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install rate_bridge\[tvb\]"):
        tvb_data_path("connectivity_76.zip")
    with pytest.raises(ImportError, match=r"pip install rate_bridge\[tvb\]"):
        read_tvb_connectome(76)


def test_write_tvb_zip_and_folder_exact(tmp_path):
    _tvb_data()
    conn = read_tvb_connectome(192)
    out = write_connectome(conn, tmp_path / "c.zip")
    back = read_connectome(out)
    assert back.equals(conn, check_name=True)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_connectome(conn, tmp_path / "c.zip")
    small = conn.select(conn.labels[:5])
    small.hemispheres = None  # absent stays absent (no inference on our own files)
    write_connectome(small, tmp_path / "c.zip", overwrite=True)
    assert read_connectome(tmp_path / "c.zip").equals(small)
    write_tvb(small, tmp_path / "folder")
    assert read_tvb(tmp_path / "folder").equals(small)


def test_write_tvb_without_centres_and_odd_labels(tmp_path):
    conn = Connectome(np.array([[0, 1.5], [0.25, 0]]), labels=["a", "b"], name="x")
    write_tvb(conn, tmp_path / "x.zip")
    back = read_tvb(tmp_path / "x.zip")
    assert back.centres is None and back.equals(conn)
    with zipfile.ZipFile(tmp_path / "x.zip") as zf:  # TVB still gets a centres file
        assert zf.read("centres.txt").decode().startswith("a 0 0 0")
    bad = Connectome(np.eye(2), labels=["left A", "b"])
    with pytest.raises(ValueError, match="whitespace"):
        write_tvb(bad, tmp_path / "bad.zip")


def test_hemispheres_from_labels():
    assert hemispheres_from_labels(["rA1", "lA1"]).tolist() == [True, False]
    assert hemispheres_from_labels(["X_R", "Y_L"]).tolist() == [True, False]
    assert hemispheres_from_labels(["Left-Hippocampus", "Right-Amygdala"]).tolist() == [False,
                                                                                        True]
    assert hemispheres_from_labels(["bankssts-lh", "bankssts-rh"]).tolist() == [False, True]
    assert hemispheres_from_labels(["LGN", "rA1"]) is None  # mixed case: undecided
    assert hemispheres_from_labels(["thalamus", "rA1"]) is None


# --------------------------------------------------------------------------- bad archives


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


GOOD = {"weights.txt": "0 1\n2 0\n", "tract_lengths.txt": "0 10\n10 0\n",
        "centres.txt": "a 0 0 0\nb 1 1 1\n"}


@pytest.mark.parametrize("change, match", [
    ({"weights.txt": "0 1 3\n2 0 1\n"}, r"weights\.txt.*square"),
    ({"weights.txt": "0 1\n2\n"}, r"weights\.txt, line 2: 1 values, expected 2"),
    ({"weights.txt": "0 nan\n2 0\n"}, r"weights\.txt: weights has 1 NaN/inf"),
    ({"weights.txt": "0 -1\n2 0\n"}, r"weights\.txt: weights must be >= 0.*-1\.0"),
    ({"weights.txt": "0 x\n2 0\n"}, r"weights\.txt, line 1: expected a number, got 'x'"),
    ({"tract_lengths.txt": "0 10 1\n10 0 1\n1 1 1\n"}, r"tract_lengths\.txt.*shape \(3, 3\)"),
    ({"tract_lengths.txt": "0 -10\n10 0\n"}, r"tract_lengths must be >= 0"),
    ({"tract_lengths.txt": "0 inf\n10 0\n"}, r"tract_lengths\.txt.*NaN/inf"),
    ({"centres.txt": "a 0 0 0\n"}, r"centres\.txt: 1 centres for 2 regions"),
    ({"centres.txt": "a 0 0 0\na 1 1 1\n"}, r"centres\.txt.*duplicated region labels \['a'\]"),
    ({"centres.txt": "a 0 0\nb 1 1 1\n"}, r"centres\.txt, line 1: expected 'label x y z'"),
    ({"centres.txt": "0 0 0\nb 1 1 1\n"}, r"centres\.txt: some lines have a label"),
    ({"centres.txt": "a 0 0 0 0 0\nb 1 1 1 1 1\n"},
     r"centres\.txt, line 1: expected 'label x y z'"),
    ({"areas.txt": "1\n"}, r"areas\.txt: 1 areas for 2 regions"),
    ({"cortical.txt": "1\nmaybe\n"}, r"cortical\.txt, line 2: expected 0/1"),
    ({"average_orientations.txt": "1 0\n0 1\n"}, r"orientations must have shape \(2, 3\)"),
    ({"info.txt": 'length_unit = "furlong"\n'}, r"info\.txt: length_unit 'furlong'"),
    ({"weights.txt.bz2": "x"}, r"several files for the same data"),
    ({"weights.txt.bz2": b"not bz2 data"}, r"weights\.txt\.bz2: cannot decompress"),
    ({"weights.npy": "x"}, r"'weights\.npy' has an unsupported extension"),
])
def test_bad_tvb_zip_refused(tmp_path, change, match):
    files = dict(GOOD)
    if "weights.txt.bz2" in change and change["weights.txt.bz2"] != "x":
        files.pop("weights.txt")
    files.update(change)
    path = _zip(tmp_path / "bad.zip", files)
    with pytest.raises(ValueError, match=match) as err:
        read_connectome(path)
    assert "bad.zip" in str(err.value)


def test_missing_and_unreadable_archives(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match=r"broken\.zip: not a readable zip archive"):
        read_connectome(path)
    with pytest.raises(ValueError, match=r"nothing\.zip: no weights file"):
        read_connectome(_zip(tmp_path / "nothing.zip", {"centres.txt": "a 0 0 0\n"}))
    with pytest.raises(ValueError, match="several folders"):
        read_connectome(_zip(tmp_path / "two.zip", {"a/weights.txt": "1\n",
                                                    "b/tract_lengths.txt": "1\n"}))
    with pytest.raises(FileNotFoundError, match="absent.zip: no such file"):
        read_connectome(tmp_path / "absent.zip")
    # truncated zip: the first bytes of a real one
    good = _zip(tmp_path / "good.zip", GOOD)
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ValueError, match=r"cut\.zip: not a readable zip"):
        read_connectome(tmp_path / "cut.zip")
    conn = read_connectome(good)
    assert conn.labels == ["a", "b"] and conn.weights[1, 0] == 2.0


def test_missing_tract_lengths_warns(tmp_path, adapters_log):
    files = dict(GOOD)
    files.pop("tract_lengths.txt")
    conn = read_connectome(_zip(tmp_path / "nolen.zip", files))
    assert not conn.tract_lengths.any()
    assert any("nolen.zip: no tract_lengths file" in m for m in adapters_log)


def test_length_unit_conversion(tmp_path):
    files = dict(GOOD, **{"info.txt": 'weights_unit = "au"\nlength_unit = "cm"'})
    conn = read_connectome(_zip(tmp_path / "cm.zip", files))
    assert conn.tract_lengths[0, 1] == 100.0
