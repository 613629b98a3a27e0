"""Matrix files: .npy, .npz, .csv, .tsv, .txt, .mat with labels and tract lengths."""
import gzip

import numpy as np
import pytest
import scipy.io

from rate_bridge.adapters import (Connectome, read_connectome, read_matrix, write_connectome,
                                  write_csv, write_npz)

W = np.array([[0.0, 0.5, 0.0],
              [1.0 / 3.0, 0.0, 2.0],
              [0.1, 1e-300, 0.0]])  # asymmetric: W[target, source]
L = np.array([[0.0, 12.5, 30.0],
              [12.5, 0.0, 7.25],
              [30.0, 7.25, 0.0]])
LABELS = ["lA1", "lV1", "rA1"]


def _row(values, sep):
    return sep.join(repr(float(v)) for v in values)


def _full():
    return Connectome(W, L, LABELS, np.arange(9.0).reshape(3, 3) / 7, coord_frame="mni",
                      hemispheres=[False, False, True], cortical=[True, True, False],
                      orientations=np.eye(3), areas=[1.5, 2.0, 1 / 3], name="full")


def test_npy_with_side_files(tmp_path):
    np.save(tmp_path / "w.npy", W)
    np.save(tmp_path / "l.npy", L)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n\n")
    conn = read_connectome(tmp_path / "w.npy", tract_lengths=tmp_path / "l.npy",
                           labels=tmp_path / "labels.txt")
    np.testing.assert_array_equal(conn.weights, W)
    np.testing.assert_array_equal(conn.tract_lengths, L)
    assert conn.labels == LABELS and conn.name == "w"
    bare = read_connectome(tmp_path / "w.npy")
    assert bare.labels == ["r0", "r1", "r2"] and not bare.tract_lengths.any()
    tr = read_matrix(tmp_path / "w.npy", transpose=True)  # file stored [source, target]
    np.testing.assert_array_equal(tr.weights, W.T)


def test_npz_keys_and_exact_round_trip(tmp_path):
    np.savez(tmp_path / "plain.npz", SC=W, distances=L, region_labels=np.array(LABELS))
    conn = read_connectome(tmp_path / "plain.npz")
    np.testing.assert_array_equal(conn.weights, W)
    np.testing.assert_array_equal(conn.tract_lengths, L)
    assert conn.labels == LABELS
    full = _full()
    write_connectome(full, tmp_path / "full.npz")
    assert read_connectome(tmp_path / "full.npz").equals(full, check_name=True)
    np.savez(tmp_path / "two.npz", a=W, b=L)
    with pytest.raises(ValueError, match=r"two\.npz: cannot tell which array.*weights_key"):
        read_connectome(tmp_path / "two.npz")
    conn = read_matrix(tmp_path / "two.npz", weights_key="a", lengths_key="b")
    np.testing.assert_array_equal(conn.tract_lengths, L)
    with pytest.raises(ValueError, match=r"no weights key 'zz'"):
        read_matrix(tmp_path / "two.npz", weights_key="zz")


def test_csv_header_row_and_label_column(tmp_path):
    (tmp_path / "head.csv").write_text("A,B,C\n" + "\n".join(_row(r, ",") for r in W))
    conn = read_connectome(tmp_path / "head.csv")
    assert conn.labels == ["A", "B", "C"]
    np.testing.assert_array_equal(conn.weights, W)
    # pandas style: empty corner cell, row labels
    import pandas as pd
    pd.DataFrame(W, index=LABELS, columns=LABELS).to_csv(tmp_path / "pd.csv")
    conn = read_connectome(tmp_path / "pd.csv")
    assert conn.labels == LABELS
    np.testing.assert_array_equal(conn.weights, W)
    # row labels only, no header
    (tmp_path / "rows.tsv").write_text("".join(f"{lab}\t{_row(r, chr(9))}\n"
                                               for lab, r in zip(LABELS, W)))
    assert read_connectome(tmp_path / "rows.tsv").labels == LABELS


def test_txt_whitespace_gz_and_second_file(tmp_path):
    np.savetxt(tmp_path / "w.txt", W, fmt="%.17g")
    np.savetxt(tmp_path / "l.txt.gz", L, fmt="%.17g")
    conn = read_connectome(tmp_path / "w.txt", tract_lengths=tmp_path / "l.txt.gz",
                           labels=LABELS)
    np.testing.assert_array_equal(conn.weights, W)
    np.testing.assert_array_equal(conn.tract_lengths, L)
    with gzip.open(tmp_path / "w2.txt.gz", "wt") as f:
        f.write("# a comment line\n" + "\n".join(_row(r, ",") for r in W))
    np.testing.assert_array_equal(read_connectome(tmp_path / "w2.txt.gz").weights, W)


def test_mat_files(tmp_path):
    scipy.io.savemat(tmp_path / "c.mat", {"weights": W, "tract_lengths": L,
                                          "labels": np.array(LABELS, dtype=object),
                                          "centres": np.ones((3, 3))})
    conn = read_connectome(tmp_path / "c.mat")
    np.testing.assert_array_equal(conn.weights, W)
    np.testing.assert_array_equal(conn.tract_lengths, L)
    assert conn.labels == LABELS
    np.testing.assert_array_equal(conn.centres, np.ones((3, 3)))
    scipy.io.savemat(tmp_path / "one.mat", {"SC_matrix": W, "names": np.array(LABELS)})
    conn = read_connectome(tmp_path / "one.mat")
    assert conn.labels == LABELS
    (tmp_path / "h5.mat").write_bytes(b"MATLAB 7.3 MAT-file" + b"\0" * 200)
    with pytest.raises(ValueError, match=r"h5\.mat"):
        read_connectome(tmp_path / "h5.mat")


def test_csv_writer_exact_with_side_files(tmp_path):
    full = _full()
    paths = write_csv(full, tmp_path / "c.csv")
    assert [p.name for p in paths] == ["c.csv", "c_tract_lengths.csv", "c_regions.csv"]
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "target\\source,lA1,lV1,rA1"
    back = read_connectome(tmp_path / "c.csv")
    assert back.equals(full) and back.name == "c"
    # tract lengths can be switched off, and read from an explicit file
    assert not read_matrix(tmp_path / "c.csv", tract_lengths=False).tract_lengths.any()
    # overwrite with a connectome without region data removes the stale table
    plain = Connectome(W, L, LABELS)
    write_connectome(plain, tmp_path / "c.csv", overwrite=True)
    assert not (tmp_path / "c_regions.csv").exists()
    assert read_connectome(tmp_path / "c.csv").equals(plain)
    with pytest.raises(FileExistsError):
        write_connectome(plain, tmp_path / "c.csv")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("text, match", [
    ("1,2,3\n4,5,6\n", r"square.*2 rows x 3 columns"),
    ("1,2\n3\n", r"line 2: 1 values, expected 2"),
    ("1,nan\n0,1\n", r"NaN/inf"),
    ("1,-2\n0,1\n", r"must be >= 0.*-2\.0 at \[target=0, source=1\]"),
    ("a,a\n1,2\n3,4\n", r"duplicated region labels \['a'\]"),
    ("a,\n1,2\n3,4\n", r"empty \(missing\) labels at region indices \[1\]"),
    ("a,b,c\n1,2\n3,4\n", r"line 3: 2 values, expected 3|header has 3 labels"),
    (",a,b\nx,1,2\nb,3,4\n", r"row labels differ from column labels.*'x' vs 'a'"),
    ("", r"empty file"),
    ("a,b\n", r"only a header row"),
    ("1,2\n3,oops\n", r"expected a number, got 'oops'"),
])
def test_bad_csv_refused(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        read_connectome(path)
    assert "bad.csv" in str(err.value)


def test_bad_side_files_refused(tmp_path):
    np.save(tmp_path / "w.npy", W)
    np.save(tmp_path / "l4.npy", np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"l4\.npy: tract_lengths has shape \(4, 4\)"):
        read_connectome(tmp_path / "w.npy", tract_lengths=tmp_path / "l4.npy")
    np.save(tmp_path / "lneg.npy", -L)
    with pytest.raises(ValueError, match=r"lneg\.npy: tract_lengths must be >= 0"):
        read_connectome(tmp_path / "w.npy", tract_lengths=tmp_path / "lneg.npy")
    (tmp_path / "labels.txt").write_text("a\n\nb\nc\n")
    with pytest.raises(ValueError, match=r"labels\.txt, line 2: empty label"):
        read_connectome(tmp_path / "w.npy", labels=tmp_path / "labels.txt")
    with pytest.raises(ValueError, match=r"w\.npy \(labels\): 2 labels for 3 regions"):
        read_connectome(tmp_path / "w.npy", labels=["a", "b"])
    with pytest.raises(ValueError, match=r"centres must have shape \(3, 3\).*\(3, 2\)"):
        read_connectome(tmp_path / "w.npy", centres=np.zeros((3, 2)))
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"cube\.npy: weights must be a square"):
        read_connectome(tmp_path / "cube.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"obj\.npy: not a readable \.npy"):
        read_connectome(tmp_path / "obj.npy")
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"x\.npz: not a readable \.npz"):
        read_connectome(tmp_path / "x.npz")
    (tmp_path / "w.xlsx").write_bytes(b"")
    with pytest.raises(ValueError, match=r"w\.xlsx: unknown connectome file extension '\.xlsx'"):
        read_connectome(tmp_path / "w.xlsx")
    with pytest.raises(ValueError, match=r"unknown extension '\.xlsx' for writing"):
        write_connectome(Connectome(W), tmp_path / "w.xlsx")
    with pytest.raises(TypeError, match="source must be a str or path-like, got int"):
        read_connectome(3)


def test_bad_region_table_refused(tmp_path):
    write_csv(_full(), tmp_path / "c.csv")
    table = tmp_path / "c_regions.csv"
    text = table.read_text()
    table.write_text(text.replace("lV1", "lV2"))
    with pytest.raises(ValueError, match=r"c_regions\.csv: region labels differ"):
        read_connectome(tmp_path / "c.csv")
    table.write_text(text.replace("label,x,y,z", "label,x,y,q"))
    with pytest.raises(ValueError, match=r"unknown region-table columns \['q'\]"):
        read_connectome(tmp_path / "c.csv")
    table.write_text("\n".join(text.splitlines()[:-1]))
    with pytest.raises(ValueError, match=r"2 regions in the region table for 3"):
        read_connectome(tmp_path / "c.csv")


def test_npz_written_by_us_has_no_pickles(tmp_path):
    write_npz(_full(), tmp_path / "f.npz")
    with np.load(tmp_path / "f.npz", allow_pickle=False) as z:
        assert z["weights"].dtype == float and z["labels"].dtype.kind == "U"


def test_real_csv_with_missing_value_codes_refused():
    """tvb-data's Toronto pipeline CSVs code missing connections as -1: refused, not read."""
    tvb_data = pytest.importorskip("tvb_data")
    from pathlib import Path
    path = Path(tvb_data.__file__).parent / "dti_pipeline_toronto" / \
        "output_ConnectionDistanceMatrix.csv"
    if not path.exists():
        pytest.skip("this tvb-data version has no Toronto pipeline files")
    # a numeric header row of 96 region ids over 96 x 96 values: detected as labels
    for header in (None, True):
        with pytest.raises(ValueError, match=r"ConnectionDistanceMatrix\.csv: weights must be "
                                             r">= 0.*-1\.0"):
            read_connectome(path, header=header)
    with pytest.raises(ValueError, match=r"ConnectionDistanceMatrix\.csv: weights must be a "
                                         r"square.*97 rows x 96 columns"):
        read_connectome(path, header=False)
