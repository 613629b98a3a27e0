"""tvb-data's head: frames, projection matrices, and our lead field against TVB's."""
import mne
import numpy as np
import pytest

from rate_bridge.forward_models import from_tvb_projection
from rate_bridge.forward_models.tvb_projection import read_projection, read_sensors
from test_forward_common import conn76, fm_cortex, make_result, tvb_head  # noqa: F401

pytest.importorskip("tvb_data")


@pytest.fixture(scope="module")
def tvb_eeg(conn76, tvb_head):
    return from_tvb_projection(conn76, head=tvb_head)


def _region_topo_corr(a, b):
    a = a - a.mean(0)  # average reference
    b = b - b.mean(0)
    return (a * b).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)


def test_tvb_frames_are_registered(tvb_head, conn76):
    fits = tvb_head.fits
    # electrodes sit on the scalp after the SCS -> cortex shift (~(-10, 0, -61) mm)
    assert fits["electrode_scalp_mean_distance_mm"] < 6
    np.testing.assert_allclose(fits["scs_to_cortex_mm"], [-10.4, 0.2, -61.3], atol=2.0)
    # the shells are LPS: x_cortex = -y_shell (anterior), y_cortex = x_shell (left)
    rot = np.array(fits["shells_to_cortex"])[:3, :3]
    np.testing.assert_array_equal(rot, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert fits["inner_skull_cortex_residual_mm"] < fits["runner_up_residual_mm"]
    ctx = tvb_head.cortex
    assert ctx.coord_frame == "head"
    # head frame: region centres map like the cortex, right hemisphere at +x, nose at +y
    cen = tvb_head.cortex_to_head.apply(conn76.centres)
    rm = ctx.region_mapping
    centroids = np.array([ctx.rr[rm == r].mean(0) for r in range(76)])
    np.testing.assert_allclose(cen, centroids, atol=1e-3)
    assert (cen[np.array(conn76.hemispheres), 0] > 0).all()
    names = tvb_head.eeg_names
    pos = tvb_head.eeg_pos
    assert pos[names.index("Fpz"), 1] > 80 and pos[names.index("T8/T4"), 0] > 60
    # the electrodes surround the cortex, which lies inside the scalp shell
    inner = tvb_head.shells["inner_skull"]
    assert inner.rr[:, 2].max() < pos[names.index("Cz"), 2]


def test_our_lead_field_matches_tvb_projection(fm_cortex, tvb_eeg, conn76):
    """Region-level, average-referenced EEG topographies (regionMapping_16k_76 sums) of our
    sphere lead field vs tvb-data's projection_eeg_65_surface_16k: median correlation >= 0.95.
    """
    ours = fm_cortex.gain
    theirs = tvb_eeg.gain[[tvb_eeg.ch_names.index(n) for n in fm_cortex.ch_names]]
    corr = _region_topo_corr(ours, theirs)
    print(f"median topography correlation {np.median(corr):.4f}, "
          f"5th percentile {np.percentile(corr, 5):.3f}")
    assert np.median(corr) >= 0.95
    assert np.percentile(corr, 25) > 0.9
    # same regions whatever the combination rule: TVB's "sum" = our "mean" x vertex count
    tvb_sum = from_tvb_projection(conn76, mode="sum", head=False)
    corr_sum = _region_topo_corr(tvb_sum.gain, tvb_eeg.gain)
    np.testing.assert_allclose(corr_sum, 1, atol=1e-9)
    # magnitudes agree within a small factor (TVB's matrix taken as V/(A·m))
    ratio = np.median(np.linalg.norm(theirs - theirs.mean(0), axis=0) /
                      np.linalg.norm(ours - ours.mean(0), axis=0))
    print(f"median |TVB| / |ours| = {ratio:.2f}")
    assert 0.1 < ratio < 10


def test_tvb_projection_forward_model(tvb_eeg, conn76):
    assert tvb_eeg.provenance["dropped_channels"] == ["IO1", "IO2"]
    assert len(tvb_eeg.ch_names) == 63 and np.isfinite(tvb_eeg.gain).all()
    res = make_result(conn76.labels, n_times=500, active=[conn76.labels.index("rV1")])
    raw = tvb_eeg.to_raw(res, moment_scale=1e-8)
    assert raw.get_data().shape == (63, 500)
    stc = tvb_eeg.to_source_estimate(res, moment_scale=1e-8)
    assert isinstance(stc, mne.SourceEstimate)
    assert len(stc.vertices[0]) == len(stc.vertices[1]) == 8192


def test_tvb_meg_projection(conn76):
    fm = from_tvb_projection(conn76, "projection_meg_276_surface_16k.npy",
                             "meg_brainstorm_276.txt", head=False)
    assert fm.ch_types == ["mag"] and 200 < len(fm.ch_names) < 276
    assert np.isfinite(fm.gain).all() and fm.source_map is None
    with pytest.raises(ValueError, match="no source space"):
        fm.to_source_estimate(make_result(conn76.labels, n_times=10), moment_scale=1e-8)


def test_tvb_readers_and_bad_inputs(conn76):
    names, pos, ori = read_sensors("eeg_brainstorm_65.txt")
    assert len(names) == 65 and pos.shape == (65, 3) and ori is None
    proj = read_projection("projection_eeg_65_surface_16k.npy")
    assert proj.shape == (65, 16384)
    with pytest.raises(ValueError, match="vertex columns"):
        from_tvb_projection(conn76, proj[:, :100], head=False)
    with pytest.raises(ValueError, match="sensors"):
        from_tvb_projection(conn76, proj[:10], head=False)
    with pytest.raises(FileNotFoundError):
        read_sensors("eeg_nothing_3.txt")
