"""Connectome operations: normalisation, thresholding, symmetrisation, selection, plotting."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rate_bridge.adapters import (  # noqa: E402
    Connectome, normalise, plot_connectome, select_regions, symmetrise, threshold)

W = np.array([[0.0, 2.0, 0.0],
              [1.0, 0.0, 4.0],
              [3.0, 0.0, 0.0]])
L = np.array([[0.0, 10.0, 0.0],
              [10.0, 0.0, 20.0],
              [30.0, 0.0, 0.0]])


@pytest.fixture
def conn():
    return Connectome(W, L, ["a", "b", "c"], np.arange(9.0).reshape(3, 3), coord_frame="mri",
                      hemispheres=[False, True, True], areas=[1.0, 2.0, 3.0], name="toy")


def test_normalise(conn):
    m = normalise(conn, "max")
    np.testing.assert_array_equal(m.weights, W / 4)
    assert m.labels == conn.labels and m.tract_lengths is not conn.tract_lengths
    np.testing.assert_array_equal(conn.weights, W)  # input unchanged
    r = conn.normalise("row_sum")
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0)
    s = conn.normalise("spectral_radius")
    assert np.isclose(np.abs(np.linalg.eigvals(s.weights)).max(), 1.0)
    rows = Connectome([[0.0, 1.0], [0.0, 0.0]])  # a row without input stays zero
    np.testing.assert_array_equal(normalise(rows, "row_sum").weights, [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="spectral radius is 0"):
        normalise(rows, "spectral_radius")  # feed-forward: nilpotent
    with pytest.raises(ValueError, match="all-zero"):
        normalise(Connectome(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="method must be one of"):
        normalise(conn, "l2")


def test_threshold(conn):
    t = threshold(conn, 2.0)
    np.testing.assert_array_equal(t.weights, np.where(W >= 2, W, 0))
    np.testing.assert_array_equal(t.tract_lengths, L)
    p = conn.threshold(proportion=0.5)  # 4 non-zero edges -> keep the 2 strongest
    np.testing.assert_array_equal(p.weights, np.where(W >= 3, W, 0))
    assert np.count_nonzero(threshold(conn, proportion=1.0).weights) == 4
    with pytest.raises(ValueError, match="exactly one of value"):
        threshold(conn)
    with pytest.raises(ValueError, match=r"proportion must be in \(0, 1\]"):
        threshold(conn, proportion=0)


def test_symmetrise(conn):
    s = symmetrise(conn)
    np.testing.assert_array_equal(s.weights, (W + W.T) / 2)
    np.testing.assert_array_equal(s.tract_lengths, s.tract_lengths.T)
    assert s.tract_lengths[0, 2] == 30.0  # one direction known: that one
    assert s.tract_lengths[0, 1] == 10.0
    np.testing.assert_array_equal(conn.symmetrise("max").weights, np.maximum(W, W.T))
    np.testing.assert_array_equal(conn.symmetrise("min").weights, np.minimum(W, W.T))


def test_select(conn):
    sub = select_regions(conn, ["c", "a"])
    assert sub.labels == ["c", "a"]
    np.testing.assert_array_equal(sub.weights, [[0, 3], [0, 0]])
    np.testing.assert_array_equal(sub.tract_lengths, [[0, 30], [0, 0]])
    np.testing.assert_array_equal(sub.centres, conn.centres[[2, 0]])
    assert sub.hemispheres.tolist() == [True, False] and sub.areas.tolist() == [3.0, 1.0]
    assert sub.coord_frame == "mri" and sub.orientations is None
    assert conn.select([1]).labels == ["b"]
    with pytest.raises(ValueError, match=r"unknown regions \['zz'\]"):
        conn.select(["a", "zz"])
    with pytest.raises(ValueError, match=r"selected more than once: \['a'\]"):
        conn.select(["a", "a"])
    with pytest.raises(ValueError, match="regions is empty"):
        conn.select([])


def test_delays_existing(conn):
    np.testing.assert_allclose(conn.delays(10.0), L / 1e4)  # mm / (m/s * 1000) = s


def test_plot(conn):
    import matplotlib.pyplot as plt
    fig = plot_connectome(conn)
    assert len(fig.axes) == 4  # two matrices + two colour bars
    ax = fig.axes[0]
    assert ax.get_xlabel() == "source region" and ax.get_ylabel() == "target region"
    np.testing.assert_array_equal(ax.images[0].get_array(), W)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    plt.close(fig)
    fig = conn.plot(log=True)
    arr = fig.axes[0].images[0].get_array()
    assert np.ma.is_masked(arr[0, 0]) or np.isnan(arr[0, 0])  # zeros blank on log scale
    assert arr[1, 2] == np.log10(4.0)
    plt.close(fig)
    with pytest.raises(TypeError, match="conn must be a Connectome"):
        plot_connectome(W)
