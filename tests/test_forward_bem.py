"""BEM head models from surfaces (coarse meshes, cached solutions)."""
import mne
import numpy as np
import pytest

from rate_bridge.forward_models import (fit_points_to_surface, from_bem, from_sphere, icosphere,
                                        make_bem, remesh_radial, Surface)
from rate_bridge.forward_models.bem import LAYERS
from rate_bridge.forward_models.surfaces import points_inside
from test_forward_common import (bem_cache, conn76, small_conn, tvb_head,  # noqa: F401
                                 tvb_path)

R0 = np.array([0.0, 0.0, 40.149])   # biosemi64's fitted sphere (mm)
RADIUS = 95.0
RADII = (0.87, 0.92, 1.0)


def _spheres(r0=R0, radius=RADIUS, level=3):
    """Three concentric spheres, radii jittered by +-0.2 % (exactly co-spherical points make
    the Delaunay triangulation in MNE's inside-surface check crawl)."""
    rr, tris = icosphere(level)
    jitter = 1 + 0.002 * np.random.default_rng(0).uniform(-1, 1, len(rr))[:, None]
    return {k: (r0 + rr * jitter * radius * f, tris) for k, f in zip(LAYERS, RADII)}


def test_icosphere_and_radial_remesh():
    rr, tris = icosphere(3)
    assert rr.shape == (642, 3) and tris.shape == (1280, 3)
    np.testing.assert_allclose(np.linalg.norm(rr, axis=1), 1)
    ell = Surface(rr * [70, 90, 60], tris)
    out = remesh_radial(ell, level=2)
    assert out.n_vertices == 162
    # vertices lie on the ellipsoid
    x = out.rr / [70, 90, 60]
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=0.02)
    assert points_inside(ell, [[0, 0, 0]])[0] and not points_inside(ell, [[0, 0, 80]])[0]


def test_three_shell_bem_matches_sphere_model(bem_cache):
    conn = small_conn(10)
    fm = from_bem(conn, _spheres(), montage="biosemi64", ico=2, cache_dir=bem_cache,
                  align_sensors=False)
    sph = mne.make_sphere_model(R0 * 1e-3, RADIUS * 1e-3, relative_radii=RADII,
                                sigmas=(0.3, 0.006, 0.3), verbose=False)
    ref = from_sphere(conn, montage="biosemi64", sphere=sph,
                      placement=np.array(fm.provenance["placement"]["trans_mm"]))
    a = fm.gain - fm.gain.mean(0)
    b = ref.gain - ref.gain.mean(0)
    corr = (a * b).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
    ratio = np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
    assert np.median(corr) > 0.98 and corr.min() > 0.9
    assert 0.7 < np.median(ratio) < 1.3
    assert fm.kind == "bem" and fm.provenance["n_vertices"] == [162, 162, 162]
    # cached: the second build reads the solution from disk
    files = list(bem_cache.glob("bem-*-sol.fif"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = from_bem(conn, _spheres(), montage="biosemi64", ico=2, cache_dir=bem_cache,
                     align_sensors=False)
    assert files[0].stat().st_mtime_ns == stamp  # read, not recomputed and rewritten
    assert list(bem_cache.glob("bem-*-sol.fif")) == files
    np.testing.assert_array_equal(again.gain, fm.gain)


def test_template_electrodes_fitted_to_scalp(bem_cache):
    surfs = _spheres(r0=np.array([2.0, 8.0, 30.0]), radius=102.0, level=4)
    scalp = Surface(*surfs["outer_skin"])
    mont = mne.channels.make_standard_montage("biosemi64")
    info = mne.create_info(mont.ch_names, 100.0, "eeg")
    info.set_montage(mont)
    pos = np.array([c["loc"][:3] for c in info["chs"]]) * 1e3
    s, t, res = fit_points_to_surface(pos, scalp)
    assert abs(s - 102.0 / 95.0) < 0.03 and res < 3.0
    # from_bem fits template electrodes onto the given scalp (here: where they already are)
    fm = from_bem(small_conn(10), _spheres(), montage="biosemi64", ico=2, cache_dir=bem_cache)
    fit = fm.provenance["sensor_fit"]
    assert fit["residual_mm"] < 3.0 and abs(fit["scale"] - 1) < 0.02


def test_one_layer_bem_is_meg_only(bem_cache):
    conn = small_conn(6)
    inner = _spheres(level=2)["inner_skull"]
    with pytest.raises(ValueError, match="EEG needs a 3-layer BEM"):
        from_bem(conn, [inner], montage="biosemi32", ico=None, cache_dir=bem_cache)
    fm = from_bem(conn, [inner], montage=None, meg=True, ico=None, cache_dir=bem_cache)
    assert fm.ch_types == ["mag"]
    # MEG of a spherically symmetric conductor is Sarvas' formula whatever the layers:
    # MNE's sphere model with the same sensors and placement gives the same gain
    sph = mne.make_sphere_model(R0 * 1e-3, RADIUS * 1e-3, relative_radii=RADII,
                                sigmas=(0.3, 0.006, 0.3), verbose=False)
    ref = from_sphere(conn, montage=fm.info, sphere=sph,
                      placement=np.array(fm.provenance["placement"]["trans_mm"]))
    assert ref.ch_names == fm.ch_names
    corr = (fm.gain * ref.gain).sum(0) / np.linalg.norm(fm.gain, axis=0) / np.linalg.norm(
        ref.gain, axis=0)
    ratio = np.linalg.norm(fm.gain, axis=0) / np.linalg.norm(ref.gain, axis=0)
    assert corr.min() > 0.998 and np.abs(ratio - 1).max() < 0.02, (corr, ratio)


def test_bad_bem_surfaces_refused(bem_cache):
    s = _spheres(level=2)
    swapped = {"inner_skull": s["outer_skin"], "outer_skull": s["outer_skull"],
               "outer_skin": s["inner_skull"]}
    with pytest.raises(ValueError, match="MNE refused the BEM surfaces"):
        make_bem(swapped, ico=None, cache_dir=False)
    with pytest.raises(ValueError, match="1 layer"):
        make_bem({"inner_skull": s["inner_skull"], "outer_skin": s["outer_skin"]})
    with pytest.raises(ValueError, match="conductivities"):
        make_bem(s, conductivity=(0.3, 0.3), ico=None, cache_dir=False)
    with pytest.raises(ValueError, match="pass surfaces"):
        from_bem(small_conn())


def test_tvb_shells_bem(conn76, tvb_head, bem_cache):
    """tvb-data's skull/scalp zips (LPS frame) -> head frame -> 3-layer BEM."""
    trans = tvb_head.shells_to_head
    files = {k: tvb_path("surfaceData", f"{k}_4096.zip") for k in LAYERS}
    info = tvb_head.eeg_info(exclude=("IO1", "IO2"))
    fm = from_bem(conn76, files, montage=info, trans=trans, ico=2, cache_dir=bem_cache,
                  placement=tvb_head.cortex_to_head)
    assert np.isfinite(fm.gain).all() and fm.gain.shape == (63, 76)
    # the same shells as already placed by read_tvb_head give the same model
    fm2 = from_bem(conn76, tvb_head.shells, montage=info, ico=2, cache_dir=bem_cache,
                   placement=tvb_head.cortex_to_head)
    np.testing.assert_allclose(fm2.gain, fm.gain, rtol=1e-5, atol=1e-9 * np.abs(fm.gain).max())
    # topographies resemble the sphere model's (different head shape, same sources)
    sph = from_sphere(conn76, montage=info, placement=tvb_head.cortex_to_head,
                      relative_radii=(0.93, 0.94, 0.97, 1.0))
    a = fm.gain - fm.gain.mean(0)
    b = sph.gain - sph.gain.mean(0)
    corr = (a * b).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
    assert np.median(corr) > 0.8
