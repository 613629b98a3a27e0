"""Spherical head models: analytic check, placement, dropped sources, MEG, cortical sources."""
import mne
import numpy as np
import pytest

from rate_bridge.adapters import Connectome
from rate_bridge.forward_models import (Placement, axes_matrix, from_sphere, make_meg_info,
                                        make_sensor_info, sphere_dipole_potential)
from rate_bridge.forward_models.analytic import sphere_dipole_potential_series
from rate_bridge.forward_models.placement import infer_axes, register_axis_aligned
from test_forward_common import (conn76, fm76, fm_cortex, make_result, small_conn,  # noqa
                                 tvb_head)


def test_analytic_formula_matches_legendre_series():
    rng = np.random.default_rng(0)
    el = rng.standard_normal((50, 3))
    el = 0.09 * el / np.linalg.norm(el, axis=1, keepdims=True)
    for pos, mom in [([0, 0, 0.05], [0, 0, 1e-8]), ([0.02, 0.01, 0.05], [1e-8, 0, 0]),
                     ([0.03, -0.02, 0.04], [3e-9, -2e-9, 5e-9])]:
        a = sphere_dipole_potential(el, pos, mom, radius=0.09)
        b = sphere_dipole_potential_series(el, pos, mom, 0.09)
        np.testing.assert_allclose(a - a.mean(), b - b.mean(), atol=1e-12 * np.abs(b).max())


def test_homogeneous_sphere_matches_analytic_dipole_potential():
    """Our sphere lead field (MNE, one shell) vs the closed-form potential we wrote."""
    conn = small_conn(12)
    # homogeneous: two shells of equal conductivity (MNE needs >= 2)
    fm = from_sphere(conn, montage="biosemi64", relative_radii=(0.99, 1.0), sigmas=(0.33, 0.33),
                     orientation="connectome")
    r0 = np.asarray(fm.conductor["r0"])
    radius = fm.conductor["layers"][-1]["rad"]
    el = np.array([c["loc"][:3] for c in fm.info["chs"]])
    rr = np.asarray(fm.forward["source_rr"])
    nn = np.asarray(fm.forward["src"][0]["nn"])
    for k in range(conn.n_regions):
        v = sphere_dipole_potential(el, rr[k], nn[k], center=r0, radius=radius, sigma=0.33)
        v -= v.mean()
        g = fm.gain[:, k] - fm.gain[:, k].mean()
        assert np.corrcoef(v, g)[0, 1] > 0.9999
        assert np.linalg.norm(g - v) / np.linalg.norm(v) < 0.01


def test_placement_of_tvb_centres(fm76, conn76):
    plc = fm76.provenance["placement"]
    assert plc["axes"] == "ALS" and 0.8 < plc["scale"] <= 1.0
    rr = np.asarray(fm76.forward["source_rr"]) * 1e3
    r0 = np.asarray(fm76.provenance["r0_mm"])
    lab = conn76.labels
    # anatomy survives: frontal pole anterior of V1, right regions at +x, above the ear line
    assert rr[lab.index("rPFCPOL"), 1] > rr[lab.index("rV1"), 1] + 100
    assert (rr[[k for k, s in enumerate(lab) if s[0] == "r"], 0] > 0).mean() > 0.95
    assert rr[lab.index("rPMCDL"), 2] > rr[lab.index("rTCI"), 2] + 50
    assert np.linalg.norm(rr - r0, axis=1).max() <= fm76.provenance["radii_mm"][0] - 5 + 1e-3
    assert fm76.dropped == {"n_sources": 0, "regions": []}


def test_axes_codes_and_inference():
    np.testing.assert_array_equal(axes_matrix("ALS") @ [1, 0, 0], [0, 1, 0])
    np.testing.assert_array_equal(axes_matrix("ALS") @ [0, 1, 0], [-1, 0, 0])
    with pytest.raises(ValueError, match="3-letter code"):
        axes_matrix("RAR")
    conn = small_conn(10)
    als = (np.linalg.inv(axes_matrix("ALS")) @ conn.centres.T).T
    code, why = infer_axes(als, conn.hemispheres, "unknown")
    assert code == "ALS" and "hemisphere" in why
    assert infer_axes(als, None, "unknown")[0] == "RAS"
    assert infer_axes(als, None, "tvb")[0] == "ALS"
    # an unknown frame is placed like the known one
    c_unknown = Connectome(conn.weights, labels=conn.labels, centres=als,
                           hemispheres=conn.hemispheres, coord_frame="unknown")
    c_ras = Connectome(conn.weights, labels=conn.labels, centres=conn.centres,
                       hemispheres=conn.hemispheres, coord_frame="mni")
    a = from_sphere(c_unknown, montage="biosemi32", orientation="radial")
    b = from_sphere(c_ras, montage="biosemi32", orientation="radial")
    np.testing.assert_allclose(a.gain, b.gain, rtol=1e-6)


def test_register_axis_aligned_recovers_rotation():
    rng = np.random.default_rng(1)
    pts = rng.standard_normal((400, 3)) * [60, 80, 50]
    rot = axes_matrix("LPS")
    moved = pts @ rot.T + [3.0, -2.0, 5.0]
    trans, res, runner = register_axis_aligned(moved, pts)
    np.testing.assert_allclose(trans[:3, :3] @ rot, np.eye(3), atol=1e-12)
    assert res < 1.0 < runner


def test_dropped_sources_are_reported_and_mapped():
    conn = small_conn(8)
    # centres as given (head frame); reg0 at (45, 0, 5) lies 80 mm from the sphere centre:
    # between the inner skull (0.9 x 85 = 76.5 mm) and the scalp (85 mm)
    sphere = ((-35.0, 0.0, 5.0), 85.0)
    with pytest.warns(RuntimeWarning, match=r"1 of 8 region centres.*\['reg0'\]") as rec:
        fm = from_sphere(conn, montage="biosemi32", placement="none", sphere=sphere,
                         orientation="radial")
    assert rec[0].filename == __file__              # points at the call, not at the package
    assert fm.dropped == {"n_sources": 1, "regions": ["reg0"]}
    assert np.all(fm.gain[:, 0] == 0) and np.all(fm.gain[:, 1:] != 0)
    res = make_result(conn.labels, n_times=100)
    stc = fm.to_source_estimate(res, moment_scale=1e-8)
    np.testing.assert_array_equal(stc.vertices[0], np.arange(1, 8))
    sig = res["pc.v"] - res["pc.v"].mean(0)
    np.testing.assert_allclose(stc.data, 1e-8 * sig[:, 1:].T)
    with pytest.raises(ValueError, match="were dropped by MNE"):
        from_sphere(conn, montage="biosemi32", placement="none", sphere=sphere,
                    orientation="radial", on_dropped="raise")


def test_sources_outside_head_refused():
    conn = small_conn(8)
    far = Connectome(conn.weights, labels=conn.labels, centres=conn.centres * 3,
                     coord_frame="head")
    with pytest.raises(ValueError, match="outside the head"):
        from_sphere(far, montage="biosemi32")
    tiny = Connectome(conn.weights, labels=conn.labels, centres=conn.centres * 1e-3)
    with pytest.raises(ValueError, match="in m"):
        from_sphere(tiny, montage="biosemi32")
    no_centres = Connectome(conn.weights, labels=conn.labels)
    with pytest.raises(ValueError, match="has no centres"):
        from_sphere(no_centres)
    with pytest.raises(ValueError, match="placement must be"):
        from_sphere(conn, placement="somewhere")
    with pytest.raises(ValueError, match="no orientations"):
        from_sphere(small_conn(orientations=False), orientation="connectome")


@pytest.mark.filterwarnings("ignore:Only 5 head digitization")
def test_montage_variants():
    conn = small_conn(8)
    mont = mne.channels.make_standard_montage("easycap-M1")
    a = from_sphere(conn, montage=mont)
    assert len(a.ch_names) == len(mont.ch_names)
    names = ["C3", "Cz", "C4", "Pz", "Oz"]
    info = mne.create_info(names, 500.0, "eeg")
    info.set_montage(mont)
    b = from_sphere(conn, montage=info)
    assert b.ch_names == names
    pos = {n: c["loc"][:3] * 1e3 for n, c in zip(names, info["chs"])}  # head frame, mm
    c = from_sphere(conn, montage=pos)
    np.testing.assert_allclose(c.gain, b.gain, rtol=1e-6)
    metres = {n: p * 1e-3 for n, p in pos.items()}
    with pytest.raises(ValueError, match="positions in mm"):
        from_sphere(conn, montage=metres)
    unplaced = mne.create_info(["a", "b"], 100.0, "eeg")
    with pytest.raises(ValueError, match="without positions"):
        from_sphere(conn, montage=unplaced)
    with pytest.raises(ValueError, match="inside the brain compartment"):
        from_sphere(conn, montage=info, sphere=((0, 0, 40), 120))


def test_synthetic_meg_helmet():
    info = make_meg_info("306m", kind="both", n_sensors=102)
    assert len(info.ch_names) == 306
    assert info.get_channel_types().count("mag") == 102
    assert info["dev_head_t"] is not None
    conn = small_conn(8)
    fm = from_sphere(conn, montage=None, meg={"kind": "both"})
    mag = fm.pick("mag").gain
    # tangential-ish 10 nA·m dipole -> tens to hundreds of fT
    assert 1e-14 < np.abs(mag * 1e-8).max() < 1e-11
    assert np.isfinite(fm.gain).all()
    radial = from_sphere(conn, montage=None, meg=True, orientation="radial")  # logs a warning
    assert np.abs(radial.gain).max() < 1e-6 * np.abs(mag).max() + 1e-30
    # a user's Info with MEG channels is used as is
    fm2 = from_sphere(conn, montage=info, sphere=((0, 0, 40), 90))
    assert fm2.ch_names == info.ch_names
    both = make_sensor_info("biosemi32", meg={"n_sensors": 30})
    assert both.get_channel_types().count("eeg") == 32 and len(both.ch_names) == 62
    with pytest.raises(ValueError, match="unknown helmet"):
        make_meg_info("nope")


def test_meg_and_eeg_raw_round_trip(tmp_path):
    conn = small_conn(8)
    fm = from_sphere(conn, montage="biosemi32", meg={"kind": "both", "n_sensors": 40})
    res = make_result(conn.labels, n_times=500, active=[2])
    raw = fm.to_raw(res, moment_scale=1e-8, noise={"eeg": 1e-7, "mag": 1e-15, "grad": 1e-13},
                    random_state=0)
    assert set(raw.get_channel_types()) == {"eeg", "mag", "grad"}
    raw.save(tmp_path / "meg_raw.fif", fmt="double")
    back = mne.io.read_raw_fif(tmp_path / "meg_raw.fif", preload=True, verbose=False)
    np.testing.assert_array_equal(back.get_data(), raw.get_data())
    assert back.info["dev_head_t"] is not None
    np.testing.assert_allclose(back.info["dev_head_t"]["trans"], raw.info["dev_head_t"]["trans"])


def test_cortical_surface_sources(fm_cortex, conn76):
    fm = fm_cortex
    assert fm.source_map.kind == "surface" and fm.mode == "mean"
    lh, rh = fm.source_map.vertices
    assert len(lh) + len(rh) == fm.provenance["n_sources"] > 15000
    assert fm.dropped["n_sources"] > 0 and fm.dropped["regions"] == []
    res = make_result(conn76.labels, n_times=300, active=[conn76.labels.index("lM1")])
    stc = fm.to_source_estimate(res, moment_scale=1e-8)
    assert isinstance(stc, mne.SourceEstimate)
    assert stc.data.shape == (len(lh) + len(rh), 300)
    # "mean": a region's sources share its moment equally
    mom = fm.moments(res, moment_scale=1e-8)
    k = conn76.labels.index("lM1")
    w = fm.source_map.weights[:, k].toarray().ravel()
    np.testing.assert_allclose(stc.data[w > 0].sum(0), mom[k], rtol=1e-10)
    # projecting the ground truth with MNE's fixed-orientation forward gives our raw data
    fixed = mne.convert_forward_solution(fm.forward, surf_ori=True, force_fixed=True,
                                         verbose=False)
    evoked = mne.apply_forward(fixed, stc, fm.info, verbose=False)
    raw = fm.to_raw(res, moment_scale=1e-8, reference=None)
    np.testing.assert_allclose(evoked.data, raw.get_data(), rtol=1e-3,
                               atol=1e-6 * np.abs(raw.get_data()).max())  # float32 normals


def test_placement_object():
    plc = Placement(np.diag([2.0, 2.0, 2.0, 1.0]))
    np.testing.assert_allclose(plc.apply([[1, 2, 3]]), [[2, 4, 6]])
    np.testing.assert_allclose(plc.apply_vectors([[0, 0, 5]]), [[0, 0, 1]])
    with pytest.raises(ValueError, match="4 x 4"):
        Placement(np.eye(3))


def test_cortex_in_tvb_frame_auto_placement(conn76):
    """A surface in the connectome's frame (adapters' Parcellation) is placed like the centres:
    reoriented, centred and shrunk to fit; nothing is dropped."""
    from rate_bridge.adapters import read_tvb_parcellation
    parc = read_tvb_parcellation(76)
    fm = from_sphere(conn76, montage="biosemi64", surface=parc)
    plc = fm.provenance["placement"]
    assert plc["axes"] == "ALS" and 0.7 < plc["scale"] < 1.0
    assert fm.dropped == {"n_sources": 0, "regions": []}
    assert fm.source_map.kind == "surface" and np.isfinite(fm.gain).all()
    # occipital regions project to occipital electrodes
    v1 = fm.gain[:, conn76.labels.index("rV1")]
    v1 = np.abs(v1 - v1.mean())
    assert fm.ch_names[int(np.argmax(v1))] in ("O2", "Oz", "PO8", "PO4", "POz", "O1", "Iz",
                                               "P10", "P8", "PO7")
