"""Property-based round trips: random valid connectomes written and read back exactly."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from rate_bridge.adapters import (Connectome, from_networkx, read_connectome, to_networkx,
                                  write_connectome)

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# characters that trouble text formats (CSV quoting, XML escaping, '#' comments, numbers),
# plus letters and digits of any script; no whitespace or control characters
_TRICKY = list("aZ09_-.#,;:'\"()[]{}/\\|*+=<>&%$!?@^~`éßλ中")
_TOKEN_CHARS = st.one_of(st.sampled_from(_TRICKY), st.characters(categories=("L", "N")))
_TOKEN = st.text(_TOKEN_CHARS, min_size=1, max_size=6)
# labels with inner spaces, for formats that keep them
_SPACED = st.lists(_TOKEN, min_size=1, max_size=3).map(" ".join)

_nonneg = st.one_of(st.just(0.0),
                    st.floats(min_value=0.0, max_value=1e300, allow_nan=False,
                              allow_infinity=False, allow_subnormal=True))
_real = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)


@st.composite
def connectomes(draw, labels=_TOKEN, optional=True):
    n = draw(st.integers(1, 6))
    w = draw(hnp.arrays(np.float64, (n, n), elements=_nonneg))
    tl = draw(hnp.arrays(np.float64, (n, n), elements=_nonneg))
    labs = draw(st.lists(labels, min_size=n, max_size=n, unique=True))

    def maybe(strategy):
        return draw(st.one_of(st.none(), strategy)) if optional else draw(strategy)

    return Connectome(
        w, tl, labs,
        maybe(hnp.arrays(np.float64, (n, 3), elements=_real)),
        coord_frame=draw(st.one_of(st.sampled_from(["mri", "tvb", "mni", "unknown"]), _TOKEN)),
        hemispheres=maybe(hnp.arrays(bool, (n,))),
        cortical=maybe(hnp.arrays(bool, (n,))),
        orientations=maybe(hnp.arrays(np.float64, (n, 3), elements=_real)),
        areas=maybe(hnp.arrays(np.float64, (n,), elements=_nonneg)),
        name=draw(_SPACED))


def _round_trip(conn, fname, check_name=True, **kwargs):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / fname
        write_connectome(conn, out, **kwargs)
        back = read_connectome(out)
    assert back.equals(conn, check_name=check_name), (conn.labels, back.labels)
    for key in ("weights", "tract_lengths", "centres", "orientations", "areas"):
        a, b = getattr(conn, key), getattr(back, key)
        if a is not None:  # bit-identical, not just equal
            assert a.tobytes() == b.tobytes() or np.array_equal(a, b)
    return back


@SETTINGS
@given(connectomes())
def test_tvb_zip_round_trip(conn):
    _round_trip(conn, "c.zip")


@SETTINGS
@given(connectomes())
def test_tvb_folder_round_trip(conn):
    _round_trip(conn, "folder", fmt="tvb")


@SETTINGS
@given(connectomes(labels=_SPACED))
def test_npz_round_trip(conn):
    _round_trip(conn, "c.npz")


@SETTINGS
@given(connectomes(labels=_SPACED), st.sampled_from(["c.csv", "c.tsv"]))
def test_csv_round_trip(conn, fname):
    back = _round_trip(conn, fname, check_name=False)
    assert back.name == "c"  # CSV keeps no name: the file's


@SETTINGS
@given(connectomes(labels=_SPACED))
def test_graphml_round_trip(conn):
    _round_trip(conn, "c.graphml")


@SETTINGS
@given(connectomes(labels=_SPACED))
def test_networkx_round_trip(conn):
    g = to_networkx(conn)
    assert from_networkx(g).equals(conn, check_name=True)
    assert read_connectome(g).equals(conn, check_name=True)
    # edges go source -> target: weights[target, source]
    for u, v, data in g.edges(data=True):
        assert data["weight"] == conn.weights[conn.labels.index(v), conn.labels.index(u)]


@SETTINGS
@given(connectomes(optional=False))
def test_select_all_regions_is_identity_and_reversal_permutes(conn):
    assert conn.select(conn.labels).equals(conn, check_name=True)
    rev = conn.select(conn.labels[::-1])
    np.testing.assert_array_equal(rev.weights, conn.weights[::-1, ::-1])
    assert rev.select(conn.labels).equals(conn)


@pytest.mark.parametrize("fname", ["c.zip", "c.csv"])
def test_bad_labels_refused_by_text_writers(tmp_path, fname):
    conn = Connectome(np.eye(2), labels=["a\tb", "c"])
    with pytest.raises(ValueError, match="cannot be written"):
        write_connectome(conn, tmp_path / fname)
    assert not (tmp_path / fname).exists()


@pytest.mark.parametrize("fname", ["c.npz", "c.graphml", "c.csv", "c.zip"])
def test_unreadable_labels_refused_by_all_writers(tmp_path, fname):
    with pytest.raises(ValueError, match="control characters"):
        write_connectome(Connectome(np.eye(2), labels=["a\x00", "b"]), tmp_path / fname)
    with pytest.raises(ValueError, match="cannot be written"):
        write_connectome(Connectome(np.eye(2), labels=["", "b"]), tmp_path / fname)
