"""Untrusted connectome/atlas files: size limits, links out of folders, safe writers, and
errors that name the file. Every hostile input is built here; bombs stay small because the
limit is lowered for the test (RATE_BRIDGE_MAX_FILE_BYTES), so nothing allocates much."""
import bz2
import gzip
import io
import os
import re
import struct
import tracemalloc
import zipfile

import networkx as nx
import nibabel as nib
import numpy as np
import pytest
import scipy.io

from rate_bridge.adapters import (Connectome, from_networkx, read_connectome, read_matrix,
                                  read_parcellation, read_surface, read_tvb, write_connectome)
from rate_bridge.adapters import _files

LIMIT = 8_000_000  # bytes; text gets an eighth: 1 MB
BOMB = b"0 " * (10 * 2 ** 20)  # 20 MiB of text that deflates to ~20 KB
GOOD = {"weights.txt": "0 1\n1 0\n", "tract_lengths.txt": "0 2\n2 0\n",
        "centres.txt": "a 0 0 0\nb 1 1 1\n"}
TRIS = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
VERTS = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


def _bz2(data):
    """bz2 of BOMB, fast: a 1 MiB stream repeated (readers must take multi-stream files)."""
    assert data == BOMB
    return bz2.compress(BOMB[:2 ** 20]) * 20


@pytest.fixture
def limit(monkeypatch):
    monkeypatch.setenv(_files.LIMIT_ENV, str(LIMIT))
    return LIMIT


def _zip(path, files):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _peak(func, *args, **kwargs):
    """(exception, peak traced bytes) of a call expected to raise ValueError."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as err:
            func(*args, **kwargs)
        return err.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _symlink(target, link):
    try:
        os.symlink(target, link)
    except (OSError, NotImplementedError):  # e.g. Windows without the privilege
        pytest.skip("cannot create symbolic links here")


def _conn(n=3, **kw):
    w = np.arange(n * n, dtype=float).reshape(n, n)
    return Connectome(w, w + 1, [f"r{k}" for k in range(n)], coord_frame="mni", **kw)


# ------------------------------------------------------------------ the limit itself


def test_limit_default_and_environment(monkeypatch):
    monkeypatch.delenv(_files.LIMIT_ENV, raising=False)
    assert _files.byte_limit() == _files.MAX_BYTES == 2 * 1024 ** 3
    monkeypatch.setenv(_files.LIMIT_ENV, "4e9")
    assert _files.byte_limit() == 4_000_000_000
    for bad in ("lots", "-1", "0", "nan", "inf"):
        monkeypatch.setenv(_files.LIMIT_ENV, bad)
        with pytest.raises(ValueError, match=rf"{_files.LIMIT_ENV}=.*positive number of bytes"):
            _files.byte_limit()


# ------------------------------------------------------------------ archives and bombs


def test_tvb_zip_bombs_refused_while_streaming(tmp_path, limit):
    read_connectome(_zip(tmp_path / "good.zip", GOOD))  # imports done: peaks below are ours
    plain = _zip(tmp_path / "plain.zip", {**GOOD, "weights.txt": BOMB})
    err, peak = _peak(read_connectome, plain)
    assert re.search(r"plain\.zip/weights\.txt: declares 20971520 bytes, more than the limit "
                     r"of 1000000 bytes for text.*raise the limit with the environment "
                     r"variable RATE_BRIDGE_MAX_FILE_BYTES \(now 8000000 bytes\)", str(err))
    assert peak < 3e6  # refused from the zip header, nothing inflated
    # a .gz member's header says nothing true about its content: counted while inflating
    for ext, compress in ((".gz", gzip.compress), (".bz2", _bz2)):
        files = {k: v for k, v in GOOD.items() if k != "weights.txt"}
        files["weights.txt" + ext] = compress(BOMB)
        nested = _zip(tmp_path / f"nested{ext}.zip", files)
        assert nested.stat().st_size < 30_000
        err, peak = _peak(read_connectome, nested)
        assert re.search(rf"weights\.txt{ext}: expands to more than .*the limit of 1000000 "
                         rf"bytes for text", str(err))
        assert peak < 4e6  # one chunk past the budget, not 20 MiB


def test_members_share_one_budget(tmp_path, limit):
    part = b"0 " * 300_000  # 600 KB each, under the 1 MB text limit alone
    path = _zip(tmp_path / "many.zip", {**GOOD, "weights.txt": part, "tract_lengths.txt": part})
    with pytest.raises(ValueError, match=r"many\.zip/(weights|tract_lengths)\.txt: declares "
                                         r"600000 bytes, more than the 400000 bytes left of the "
                                         r"limit .*shared by all of .*many\.zip;"):
        read_tvb(path)
    folder = tmp_path / "many"
    folder.mkdir()
    for name in ("weights.txt", "tract_lengths.txt"):
        (folder / name).write_bytes(part)
    with pytest.raises(ValueError, match=r"many/(weights|tract_lengths)\.txt: holds 600000 "
                                         r"bytes, more than the 400000 bytes left.*many;"):
        read_tvb(folder)


def test_compressed_text_files_and_folders_bounded(tmp_path, limit):
    (tmp_path / "w.txt.gz").write_bytes(gzip.compress(BOMB))
    (tmp_path / "w.txt.bz2").write_bytes(_bz2(BOMB))
    for name in ("w.txt.gz", "w.txt.bz2"):
        with pytest.raises(ValueError, match=rf"{name}: expands to more than the limit of "
                                             rf"1000000 bytes for text"):
            read_connectome(tmp_path / name)
    folder = tmp_path / "tvb"
    folder.mkdir()
    (folder / "weights.txt.gz").write_bytes(gzip.compress(BOMB))
    with pytest.raises(ValueError, match=r"tvb/weights\.txt\.gz: expands to more than"):
        read_connectome(folder)
    surf = tmp_path / "surf"
    surf.mkdir()
    (surf / "vertices.txt.bz2").write_bytes(_bz2(BOMB))
    (surf / "triangles.txt").write_text("0 1 2\n")
    with pytest.raises(ValueError, match=r"vertices\.txt\.bz2: expands to more than"):
        read_surface(surf)
    _zip(tmp_path / "surf.zip", {"vertices.txt": BOMB, "triangles.txt": "0 1 2\n"})
    with pytest.raises(ValueError, match=r"surf\.zip/vertices\.txt: declares"):
        read_surface(tmp_path / "surf.zip")


def test_npz_and_npy_bounded_and_checked(tmp_path, limit):
    np.savez_compressed(tmp_path / "bomb.npz", weights=np.zeros((1200, 1200)))  # 11.5 MB
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"bomb\.npz/weights\.npy: declares 11520128 bytes, "
                                         r"more than the limit of 8000000 bytes"):
        read_connectome(tmp_path / "bomb.npz")
    # a header claiming a huge array over a few bytes of data: refused before allocating
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (100_000, 100_000)})
    lie = header.getvalue() + b"\0" * 64
    (tmp_path / "lie.npy").write_bytes(lie)
    with pytest.raises(ValueError, match=r"lie\.npy: truncated \.npy array: its header "
                                         r"declares shape \(100000, 100000\)"):
        read_connectome(tmp_path / "lie.npy")
    _zip(tmp_path / "lie.npz", {"weights.npy": lie})
    with pytest.raises(ValueError, match=r"lie\.npz\['weights'\]: truncated \.npy array"):
        read_connectome(tmp_path / "lie.npz")


def test_truncated_npz_is_not_called_pickled(tmp_path):
    write_connectome(_conn(20), tmp_path / "c.npz")
    data = (tmp_path / "c.npz").read_bytes()
    for cut, name in ((len(data) // 2, "half.npz"), (len(data) - 30, "tail.npz")):
        (tmp_path / name).write_bytes(data[:cut])
        with pytest.raises(ValueError, match=rf"{name}.*truncated or corrupt") as err:
            read_connectome(tmp_path / name)
        assert "pickle" not in str(err.value)
    # a member cut inside its data (the zip directory still intact)
    with zipfile.ZipFile(tmp_path / "c.npz") as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["weights.npy"] = members["weights.npy"][:-100]
    _zip(tmp_path / "cut.npz", members)
    with pytest.raises(ValueError, match=r"cut\.npz\['weights'\]: truncated \.npy array") as err:
        read_connectome(tmp_path / "cut.npz")
    assert "pickle" not in str(err.value)


def test_mat_bomb_refused(tmp_path, limit):
    scipy.io.savemat(tmp_path / "bomb.mat", {"weights": np.zeros((1200, 1200))},
                     do_compression=True)
    assert (tmp_path / "bomb.mat").stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"bomb\.mat: declares arrays of 11520000 bytes"):
        read_connectome(tmp_path / "bomb.mat")


def test_region_mapping_index_bounded_before_allocating(tmp_path):
    (tmp_path / "map.txt").write_text("0\n1\n2\n100000000\n")  # 18 bytes
    (tmp_path / "good.txt").write_text("0\n1\n1\n0\n")
    read_parcellation(tmp_path / "good.txt", surface=(VERTS, TRIS))  # imports done
    err, peak = _peak(read_parcellation, tmp_path / "map.txt", surface=(VERTS, TRIS))
    assert re.search(r"map\.txt: region index 100000000 in a mapping of 4 vertices.*labels=",
                     str(err))
    assert peak < 2e6
    with pytest.raises(ValueError, match=r"map\.txt: region index 100000000 but only 3 labels"):
        read_parcellation(tmp_path / "map.txt", surface=(VERTS, TRIS), labels=["a", "b", "c"])
    np.save(tmp_path / "map.npy", np.array([0.0, 1.5, 0, 1]))
    with pytest.raises(ValueError, match=r"map\.npy: region mapping must hold integer"):
        read_parcellation(tmp_path / "map.npy", surface=(VERTS, TRIS))


def test_nifti_header_checked_before_reading_voxels(tmp_path, monkeypatch):
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.int16), np.eye(4)), tmp_path / "ok.nii")
    data = bytearray((tmp_path / "ok.nii").read_bytes())
    struct.pack_into("<4h", data, 40, 3, 1000, 1000, 1000)  # 10**9 voxels in 368 bytes
    (tmp_path / "huge.nii").write_bytes(data)
    with pytest.raises(ValueError, match=r"huge\.nii: a label image of shape \(1000, 1000, "
                                         r"1000\) would need \d+ bytes of memory"):
        read_parcellation(tmp_path / "huge.nii")
    struct.pack_into("<4h", data, 40, 3, 50, 50, 50)  # fits the limit, not the file
    (tmp_path / "short.nii").write_bytes(data)
    with pytest.raises(ValueError, match=r"short\.nii: truncated: its header declares shape "
                                         r"\(50, 50, 50\) of int16 \(250352 bytes.*holds 368"):
        read_parcellation(tmp_path / "short.nii")
    # compressed: the declared size is checked against the limit before inflating
    nib.save(nib.Nifti1Image(np.zeros((100, 100, 100), np.uint8), np.eye(4)),
             tmp_path / "big.nii.gz")
    monkeypatch.setenv(_files.LIMIT_ENV, str(LIMIT))
    with pytest.raises(ValueError, match=r"big\.nii\.gz: a label image of shape \(100, 100, "
                                         r"100\) would need 25000000 bytes"):
        read_parcellation(tmp_path / "big.nii.gz")


def _gifti_labels(path, codes, encoding="GZipBase64Binary"):
    da = nib.gifti.GiftiDataArray(codes, intent="NIFTI_INTENT_LABEL", encoding=encoding)
    nib.save(nib.gifti.GiftiImage(darrays=[da]), path)
    return path


def test_gifti_bombs_and_external_files_refused(tmp_path, limit):
    path = _gifti_labels(tmp_path / "bomb.label.gii", np.zeros(3_000_000, np.int32))
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"bomb\.label\.gii \(data array 0\): declares "
                                         r"12000000 bytes"):
        read_parcellation(path, surface=(VERTS, TRIS))
    # the same data under a header that claims 4 values: the inflation itself is counted
    text = path.read_text().replace('Dim0="3000000"', 'Dim0="4"')
    (tmp_path / "lie.label.gii").write_text(text)
    err, peak = _peak(read_parcellation, tmp_path / "lie.label.gii", surface=(VERTS, TRIS))
    assert "lie.label.gii (data array 0): gzip data inflates to more than the 16 bytes" in \
        str(err)
    assert peak < 4e6
    # data in an external file must stay in the GIFTI's folder
    (tmp_path / "secret.bin").write_bytes(np.arange(4, dtype=np.int32).tobytes())
    sub = tmp_path / "sub"
    sub.mkdir()
    text = _gifti_labels(sub / "x.label.gii", np.zeros(4, np.int32)).read_text()
    text = text.replace('Encoding="GZipBase64Binary"', 'Encoding="ExternalFileBinary"')
    text = text.replace('ExternalFileName=""', 'ExternalFileName="../secret.bin"')
    text = re.sub(r"<Data>.*?</Data>", "<Data></Data>", text, flags=re.S)
    (sub / "ext.label.gii").write_text(text)
    with pytest.raises(ValueError, match=r"secret\.bin.*outside the folder"):
        read_parcellation(sub / "ext.label.gii", surface=(VERTS, TRIS))


def test_freesurfer_headers_checked(tmp_path):
    tri = (b"\xff\xff\xfe" + b"created by a test\n\n" + struct.pack(">ii", 10 ** 8, 10 ** 8)
           + b"\0" * 24)
    (tmp_path / "lh.white").write_bytes(tri)
    with pytest.raises(ValueError, match=r"lh\.white: not a FreeSurfer surface, truncated or "
                                         r"corrupt: its header declares 100000000 vertices"):
        read_surface(tmp_path / "lh.white")
    (tmp_path / "lh.x.annot").write_bytes(struct.pack(">i", 10 ** 8) + b"\0" * 16)
    with pytest.raises(ValueError, match=r"lh\.x\.annot: .*declares 100000000 vertices"):
        read_parcellation(tmp_path / "lh.x.annot", surface=(VERTS, TRIS))
    # a valid vertex table, then a colour table 'of 2**31 - 1 entries' (new format)
    body = struct.pack(">i", 4) + struct.pack(">8i", 0, 1, 1, 1, 2, 1, 3, 1)
    (tmp_path / "lh.y.annot").write_bytes(body + struct.pack(">iii", 1, -2, 2 ** 31 - 1))
    with pytest.raises(ValueError, match=r"lh\.y\.annot: a colour table of 2147483647 "
                                         r"entries would need"):
        read_parcellation(tmp_path / "lh.y.annot", surface=(VERTS, TRIS))


def test_graphs_bounded(tmp_path, limit):
    with pytest.raises(ValueError, match=r"dense matrices for 20000 nodes would need "
                                         r"12800000000 bytes"):
        from_networkx(nx.empty_graph(20_000))
    (tmp_path / "g.graphml").write_bytes(b"<graphml>" + b" " * 1_100_000 + b"</graphml>")
    with pytest.raises(ValueError, match=r"g\.graphml: holds 1100019 bytes, more than the "
                                         r"limit of 1000000"):
        read_connectome(tmp_path / "g.graphml")


# ------------------------------------------------------------------ links out of folders


def test_links_out_of_a_tvb_folder_refused(tmp_path):
    outside = tmp_path / "private.txt"
    outside.write_text("0 1\n1 0\n")
    folder = tmp_path / "conn"
    folder.mkdir()
    for name, text in GOOD.items():
        (folder / name).write_text(text)
    (folder / "weights.txt").unlink()
    _symlink(outside, folder / "weights.txt")
    with pytest.raises(ValueError, match=r"conn/weights\.txt: is a symbolic link to .*"
                                         r"private\.txt, outside the folder"):
        read_connectome(folder)
    (folder / "weights.txt").unlink()  # a link that stays inside is fine
    (folder / "data").mkdir()
    (folder / "data" / "w.dat").write_text("0 3\n3 0\n")
    _symlink(folder / "data" / "w.dat", folder / "weights.txt")
    np.testing.assert_array_equal(read_connectome(folder).weights, [[0, 3], [3, 0]])
    # a linked folder given by the user is read where it points, its files checked there
    _symlink(folder, tmp_path / "alias")
    assert read_connectome(tmp_path / "alias").weights[0, 1] == 3
    surf = tmp_path / "surf"
    surf.mkdir()
    (surf / "triangles.txt").write_text("0 1 2\n")
    _symlink(outside, surf / "vertices.txt")
    with pytest.raises(ValueError, match=r"surf/vertices\.txt: is a symbolic link"):
        read_surface(surf)


# ------------------------------------------------------------------ writers


WRITERS = ["c.zip", "folder", "c.npz", "c.csv", "c.tsv", "c.graphml"]


def _write(conn, path, **kw):
    fmt = "tvb" if path.name == "folder" else None
    return write_connectome(conn, path, fmt=fmt, **kw)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("name", WRITERS)
def test_no_writer_overwrites_without_asking(tmp_path, name):
    path = tmp_path / name
    _write(_conn(), path)
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _write(_conn(4), path)
    assert _snapshot(tmp_path) == before
    _write(_conn(4), path, overwrite=True)
    assert read_connectome(path).n_regions == 4
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize("name", WRITERS)
def test_writers_refuse_dangling_links(tmp_path, name):
    target = tmp_path / "elsewhere" / "created.bin"
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
        link = path / "weights.txt"
    else:
        link = path
    _symlink(target, link)
    with pytest.raises((ValueError, FileExistsError), match="dangling symbolic link|"
                                                            "overwrite=True"):
        _write(_conn(), path)
    with pytest.raises(ValueError, match=r"dangling symbolic link"):
        _write(_conn(), path, overwrite=True)
    assert not target.exists()


def test_csv_side_file_link_or_folder_refused_before_writing(tmp_path):
    _symlink(tmp_path / "nowhere.csv", tmp_path / "c_tract_lengths.csv")
    with pytest.raises(ValueError, match=r"c_tract_lengths\.csv: is a dangling symbolic link"):
        write_connectome(_conn(), tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists() and not (tmp_path / "nowhere.csv").exists()
    (tmp_path / "c_tract_lengths.csv").unlink()
    write_connectome(_conn(), tmp_path / "c.csv")
    (tmp_path / "c_regions.csv").unlink()
    (tmp_path / "c_regions.csv").mkdir()  # the last file of the set cannot be written
    before = _snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"c_regions\.csv: is a folder"):
        write_connectome(_conn(4), tmp_path / "c.csv", overwrite=True)
    assert _snapshot(tmp_path) == before  # the old set intact, no temporary file


def test_live_link_replaced_not_written_through(tmp_path):
    (tmp_path / "keep.npz").write_bytes(b"precious")
    _symlink(tmp_path / "keep.npz", tmp_path / "c.npz")
    write_connectome(_conn(), tmp_path / "c.npz", overwrite=True)
    assert (tmp_path / "keep.npz").read_bytes() == b"precious"
    assert not (tmp_path / "c.npz").is_symlink()
    assert read_connectome(tmp_path / "c.npz").n_regions == 3


def test_commit_rolls_back_a_half_done_set(tmp_path):
    """A failure after some old files were moved aside puts them back, leaves no temp."""
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "b.txt").write_text("old b")
    (tmp_path / "c.txt").mkdir()
    (tmp_path / "c.txt" / "inside").write_text("x")
    before = _snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"c\.txt: is a folder"):
        _files.commit({tmp_path / "a.txt": "new a", tmp_path / "b.txt": b"new b",
                       tmp_path / "c.txt": "new c"})
    assert _snapshot(tmp_path) == before
    _files.commit({tmp_path / "a.txt": "new a", tmp_path / "d.txt": "new d"},
                  remove=[tmp_path / "b.txt"])
    assert (tmp_path / "a.txt").read_text() == "new a"
    assert (tmp_path / "d.txt").read_text() == "new d" and not (tmp_path / "b.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "c.txt", "d.txt"]


def test_tvb_folder_overwrite_is_all_or_nothing(tmp_path):
    folder = tmp_path / "tvb"
    write_connectome(_conn(hemispheres=[True, False, True]), folder, fmt="tvb")
    (folder / "centres.txt").unlink()
    (folder / "centres.txt").mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"centres\.txt: is a folder"):
        write_connectome(_conn(4), folder, fmt="tvb", overwrite=True)
    assert _snapshot(tmp_path) == before
    (folder / "centres.txt").rmdir()
    write_connectome(_conn(4), folder, fmt="tvb", overwrite=True)
    conn = read_connectome(folder)
    assert conn.n_regions == 4 and conn.hemispheres is None  # stale hemispheres.txt removed
    with pytest.raises(ValueError, match="not a folder"):  # nothing created on refusal
        write_connectome(_conn(), folder / "weights.txt", fmt="tvb", overwrite=True)


# ------------------------------------------------------------------ silent or unclear errors


def test_gifti_float_labels_integral_only(tmp_path):
    ok = _gifti_labels(tmp_path / "ok.label.gii", np.array([0, 1, 1, 0], np.float32), "B64BIN")
    parc = read_parcellation(ok, surface=(VERTS, TRIS))
    np.testing.assert_array_equal(parc.label_values, [0, 1])
    bad = _gifti_labels(tmp_path / "bad.label.gii", np.array([0, 1.5, 1, 0], np.float32))
    with pytest.raises(ValueError, match=r"bad\.label\.gii: label values must be integers, "
                                         r"got 1\.5 at vertex 1"):
        read_parcellation(bad, surface=(VERTS, TRIS))


def test_csv_numeric_labels_detected_or_ambiguity_refused(tmp_path):
    labelled = "0,11,12,13\n11,0,0.5,0\n12,0.5,0,2\n13,0,2,0\n"  # corner + numeric labels
    (tmp_path / "amb.csv").write_text(labelled)
    with pytest.raises(ValueError, match=r"amb\.csv: ambiguous table.*\[11\.0, 12\.0, 13\.0\]"
                                         r".*header=True.*header=False"):
        read_connectome(tmp_path / "amb.csv")
    conn = read_connectome(tmp_path / "amb.csv", header=True)
    assert conn.labels == ["11", "12", "13"] and conn.weights[1, 2] == 2
    assert read_connectome(tmp_path / "amb.csv", header=False).n_regions == 4
    # exactly n labels over an n x n matrix: a header row, whatever it looks like
    (tmp_path / "head.csv").write_text("11,12,13\n0,0.5,0\n0.5,0,2\n0,2,0\n")
    conn = read_connectome(tmp_path / "head.csv")
    assert conn.labels == ["11", "12", "13"] and conn.weights[0, 1] == 0.5
    # a square numeric table whose first row differs from its first column: weights
    (tmp_path / "w.csv").write_text("0,1,2\n3,0,4\n5,6,0\n")
    np.testing.assert_array_equal(read_connectome(tmp_path / "w.csv").weights[0], [0, 1, 2])


def _garbage_files(d):
    """(file, reader call) for malformed inputs of every format."""
    (d / "g.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    (d / "g.npz").write_bytes(b"PK\x03\x04garbage")
    (d / "g.txt.gz").write_bytes(gzip.compress(b"0 1\n1 0\n" * 100)[:-20])
    (d / "g.txt.bz2").write_bytes(b"BZh9" + b"\xff" * 60)
    (d / "g.csv").write_bytes(b"\xff\xfe\x00a,b\n")
    (d / "g.mat").write_bytes(b"MATLAB 5.0" + b"\0" * 118 + os.urandom(64))
    (d / "g.graphml").write_bytes(b"<graphml><graph><node id='a'></graph>")
    (d / "g.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8',   \n")
    gz = gzip.compress(b"\0" * 348)[:-12]
    (d / "g.nii.gz").write_bytes(gz)
    (d / "g.mgz").write_bytes(gzip.compress(b"\0\0\0\x01" + b"\0" * 30))
    (d / "g.label.gii").write_bytes(b"<?xml version='1.0'?><GIFTI><DataArray Dim0='x'>")
    (d / "g.annot").write_bytes(struct.pack(">i", 4) + b"\0" * 32 + b"\0\0\0\x01\xff")
    surface = (VERTS, TRIS)
    return [("g.zip", read_connectome, {}), ("g.npz", read_connectome, {}),
            ("g.txt.gz", read_connectome, {}), ("g.txt.bz2", read_connectome, {}),
            ("g.csv", read_connectome, {}), ("g.mat", read_connectome, {}),
            ("g.graphml", read_connectome, {}), ("g.npy", read_connectome, {}),
            ("g.nii.gz", read_parcellation, {}), ("g.mgz", read_parcellation, {}),
            ("g.label.gii", read_parcellation, {"surface": surface}),
            ("g.annot", read_parcellation, {"surface": surface}),
            ("g.zip", read_surface, {})]


def test_malformed_files_give_value_errors_naming_them(tmp_path):
    for name, func, kw in _garbage_files(tmp_path):
        with pytest.raises(ValueError) as err:
            func(tmp_path / name, **kw)
        message = str(err.value)
        assert message.startswith(str(tmp_path / name)), (name, message)
        assert len(message) > len(str(tmp_path / name)) + 10, (name, message)
    # a missing file stays a FileNotFoundError, however the path is passed
    with pytest.raises(FileNotFoundError, match=r"missing\.npy: no such file"):
        read_matrix(path=tmp_path / "missing.npy")
