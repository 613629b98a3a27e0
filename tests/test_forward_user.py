"""A user's mne.Forward + parcellation, and round trips through MNE's inverse solvers."""
import mne
import numpy as np
import pytest
from mne.minimum_norm import apply_inverse_raw, make_inverse_operator

from rate_bridge.forward_models import from_forward
from rate_bridge.forward_models.surfaces import write_subject, Surface
from test_forward_common import conn76, fm76, fm_cortex, make_result, tvb_head  # noqa: F401

pytest.importorskip("tvb_data")


def _source_regions(fm):
    """Region of every source of a surface forward model (vertno order, lh then rh)."""
    w = fm.source_map.weights.tocsr()
    reg = np.full(w.shape[0], -1)
    rows, cols = w.nonzero()
    reg[rows] = cols
    return reg


@pytest.fixture(scope="module")
def cortex_labels(fm_cortex, conn76):
    """One mne.Label per region on the forward's source space."""
    reg = _source_regions(fm_cortex)
    lh, rh = fm_cortex.source_map.vertices
    vert = np.r_[lh, rh]
    hemi = np.r_[np.zeros(len(lh), int), np.ones(len(rh), int)]
    labels = []
    for r, name in enumerate(conn76.labels):
        sel = reg == r
        h = "rh" if conn76.hemispheres[r] else "lh"
        assert (hemi[sel] == (h == "rh")).all()
        labels.append(mne.Label(vert[sel], hemi=h, name=name, subject="rate_bridge_cortex"))
    return labels


def test_labels_reproduce_our_region_gain(fm_cortex, cortex_labels, conn76):
    fm = from_forward(fm_cortex.forward, cortex_labels)
    assert fm.labels == conn76.labels and fm.mode == "mean"
    np.testing.assert_allclose(fm.gain, fm_cortex.gain, rtol=1e-3,
                               atol=1e-4 * np.abs(fm_cortex.gain).max())
    fsum = from_forward(fm_cortex.forward, cortex_labels, mode="sum")
    counts = np.array([len(lab.vertices) for lab in cortex_labels])
    np.testing.assert_allclose(fsum.gain, fm.gain * counts, rtol=1e-9)
    res = make_result(conn76.labels, n_times=50, active=[3])
    stc = fm.to_source_estimate(res, moment_scale=1e-8)
    assert isinstance(stc, mne.SourceEstimate)
    for a, b in zip(stc.vertices, fm_cortex.forward["src"]):
        np.testing.assert_array_equal(a, b["vertno"])


def test_region_mapping_names_and_order(fm_cortex, cortex_labels, conn76):
    reg = _source_regions(fm_cortex)
    fm = from_forward(fm_cortex.forward, reg, names=conn76)
    ref = from_forward(fm_cortex.forward, cortex_labels)
    np.testing.assert_allclose(fm.gain, ref.gain, rtol=1e-12)
    rev = from_forward(fm_cortex.forward, cortex_labels, names=conn76.labels[::-1])
    np.testing.assert_allclose(rev.gain, ref.gain[:, ::-1])
    sub = from_forward(fm_cortex.forward, cortex_labels, names=["rV1", "lV1"])
    assert sub.labels == ["rV1", "lV1"] and sub.gain.shape[1] == 2
    with pytest.raises(ValueError, match="not among the labels"):
        from_forward(fm_cortex.forward, cortex_labels, names=["nope"])
    with pytest.raises(ValueError, match="entries; expected one per source"):
        from_forward(fm_cortex.forward, reg[:100])
    clash = cortex_labels[:2] + [mne.Label(cortex_labels[0].vertices, hemi=cortex_labels[0].hemi,
                                           name="copy")]
    with pytest.raises(ValueError, match="overlap"):
        from_forward(fm_cortex.forward, clash)


def test_dipole_mode(fm_cortex, cortex_labels, conn76):
    near = from_forward(fm_cortex.forward, cortex_labels, mode="dipole")
    exact = from_forward(fm_cortex.forward, cortex_labels, mode="dipole",
                         bem=fm_cortex.conductor)
    mean = from_forward(fm_cortex.forward, cortex_labels)
    a = exact.gain - exact.gain.mean(0)
    b = mean.gain - mean.gain.mean(0)
    corr = (a * b).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
    # one dipole per region is a good far-field summary of its spread sources
    assert np.median(corr) > 0.9
    c = near.gain - near.gain.mean(0)
    corr2 = (a * c).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(c, axis=0)
    assert np.median(corr2) > 0.9


def test_fwd_file_and_annotation(fm_cortex, cortex_labels, tvb_head, tmp_path):
    fname = tmp_path / "cortex-fwd.fif"
    mne.write_forward_solution(fname, fm_cortex.forward, verbose=False)
    from_file = from_forward(str(fname), cortex_labels)
    ref = from_forward(fm_cortex.forward, cortex_labels)
    np.testing.assert_allclose(from_file.gain, ref.gain, rtol=1e-4,
                               atol=1e-5 * np.abs(ref.gain).max())
    # an annotation in a subjects_dir, read with mne.read_labels_from_annot
    src = fm_cortex.forward["src"]
    hemis = {h: Surface(np.asarray(s["rr"]) * 1e3, s["tris"]) for h, s in zip(("lh", "rh"),
                                                                               src)}
    write_subject(tmp_path, "rate_bridge_cortex", cortex=hemis)
    (tmp_path / "rate_bridge_cortex" / "label").mkdir()
    mne.write_labels_to_annot(cortex_labels, subject="rate_bridge_cortex", parc="rb76",
                              subjects_dir=tmp_path, verbose=False)
    annot = from_forward(fm_cortex.forward, ("rate_bridge_cortex", "rb76"),
                         subjects_dir=tmp_path, names=[lab.name for lab in cortex_labels])
    np.testing.assert_allclose(annot.gain, ref.gain, rtol=1e-9)
    with pytest.raises(TypeError, match="labels must be"):
        from_forward(fm_cortex.forward, {"a": 1})


def _neighbours_on_mesh(fm, reg):
    """Regions sharing a mesh edge, per region (surface forward)."""
    nb = {}
    for s, off in zip(fm.forward["src"], (0, len(fm.forward["src"][0]["vertno"]))):
        pos = -np.ones(s["np"], int)
        pos[s["vertno"]] = np.arange(len(s["vertno"])) + off
        t = pos[s["tris"]]
        t = t[(t >= 0).all(1)]
        for a, b in ((0, 1), (1, 2), (2, 0)):
            ra, rb = reg[t[:, a]], reg[t[:, b]]
            for x, y in zip(ra, rb):
                nb.setdefault(x, set()).add(y)
    return nb


@pytest.mark.parametrize("region", ["rM1", "lV2", "rPFCDL"])
def test_inverse_round_trip_cortex(fm_cortex, conn76, region):
    """Activity in one region, projected with our lead field plus sensor noise, is localised
    by MNE's sLORETA with the same forward at that region or a neighbour."""
    k = conn76.labels.index(region)
    res = make_result(conn76.labels, n_times=400, active=[k], amp=8.0, freq=10.0, seed=k)
    noise = 2e-7
    raw = fm_cortex.to_raw(res, moment_scale=1e-8, noise={"eeg": noise}, random_state=k,
                           reference="projection")
    cov = mne.make_ad_hoc_cov(raw.info, std={"eeg": noise}, verbose=False)
    inv = make_inverse_operator(raw.info, fm_cortex.forward, cov, loose=0.2, depth=0.8,
                                verbose=False)
    stc = apply_inverse_raw(raw, inv, lambda2=1.0 / 9, method="sLORETA", verbose=False)
    peak = int(np.argmax((stc.data ** 2).mean(1)))
    reg = _source_regions(fm_cortex)
    near = _neighbours_on_mesh(fm_cortex, reg)
    found = conn76.labels[reg[peak]]
    assert reg[peak] == k or reg[peak] in near[k], f"{region} localised at {found}"


def test_inverse_round_trip_region_dipoles(fm76, conn76):
    """Region-centre model: free-orientation discrete forward, dSPM peak at the region or one
    of its 3 nearest neighbours."""
    rr = np.asarray(fm76.forward["source_rr"])
    hits = 0
    for region in ("rM1", "lPCS", "rPFCDL", "lTCS", "rV2"):
        k = conn76.labels.index(region)
        res = make_result(conn76.labels, n_times=300, active=[k], amp=8.0, seed=k)
        raw = fm76.to_raw(res, moment_scale=1e-8, noise={"eeg": 2e-7}, random_state=k,
                          reference="projection")
        cov = mne.make_ad_hoc_cov(raw.info, std={"eeg": 2e-7}, verbose=False)
        inv = make_inverse_operator(raw.info, fm76.forward, cov, loose=1.0, depth=0.8,
                                    verbose=False)
        stc = apply_inverse_raw(raw, inv, lambda2=1.0 / 9, method="sLORETA", verbose=False)
        peak = int(np.argmax((stc.data ** 2).mean(1)))
        nearest = np.argsort(np.linalg.norm(rr - rr[k], axis=1))[:4]
        assert peak in nearest, f"{region} localised at {conn76.labels[peak]}"
        hits += peak == k
    assert hits >= 3
