"""MNE labels <-> connectome regions, on a small fake FreeSurfer subject built in the test."""
import mne
import nibabel as nib
import numpy as np
import pytest

from rate_bridge.adapters import (Connectome, combine_parcellations, connectome_to_labels,
                                  labels_to_connectome_regions, labels_to_parcellation,
                                  parcellation_to_labels, read_parcellation)


def _sphere(n_subdiv=2):
    """Octahedron subdivided ``n_subdiv`` times onto the unit sphere (outward triangles)."""
    verts = [np.array(v, float) for v in
             ([1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1])]
    tris = []
    for sx in (1, -1):
        for sy in (1, -1):
            for sz in (1, -1):
                a, b, c = (0 if sx > 0 else 3), (1 if sy > 0 else 4), (2 if sz > 0 else 5)
                tris.append([a, b, c] if sx * sy * sz > 0 else [a, c, b])
    for _ in range(n_subdiv):
        mids, new = {}, []

        def mid(i, j):
            key = (min(i, j), max(i, j))
            if key not in mids:
                m = verts[i] + verts[j]
                verts.append(m / np.linalg.norm(m))
                mids[key] = len(verts) - 1
            return mids[key]

        for a, b, c in tris:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        tris = new
    return np.array(verts), np.array(tris)


@pytest.fixture(scope="module")
def adapters_subject(tmp_path_factory):
    """subjects_dir with subject 'fake': two 50-mm spheres (lh at x=-60, rh at x=+60 mm) and
    an 'aparc' annotation: 'inferior' (z <= 0) and 'superior' (z > 0) on each."""
    sd = tmp_path_factory.mktemp("subjects")
    (sd / "fake" / "surf").mkdir(parents=True)
    (sd / "fake" / "label").mkdir()
    verts, tris = _sphere()
    ctab = np.array([[10, 20, 30, 0, 0], [200, 100, 0, 0, 0]], np.int32)
    for hemi, dx in (("lh", -60.0), ("rh", 60.0)):
        nib.freesurfer.write_geometry(sd / "fake" / "surf" / f"{hemi}.white",
                                      verts * 50 + [dx, 0, 0], tris)
        nib.freesurfer.write_annot(sd / "fake" / "label" / f"{hemi}.aparc.annot",
                                   (verts[:, 2] > 0).astype(int), ctab,
                                   [b"inferior", b"superior"], fill_ctab=True)
    src = mne.setup_source_space("fake", spacing="all", subjects_dir=sd, add_dist=False,
                                 verbose=False)
    labels = mne.read_labels_from_annot("fake", "aparc", subjects_dir=sd, verbose=False)
    return sd, src, labels


def test_labels_to_parcellation_without_src(adapters_subject):
    _, _, labels = adapters_subject
    parc = labels_to_parcellation(labels)
    assert parc.labels == ["inferior-lh", "inferior-rh", "superior-lh", "superior-rh"]
    assert parc.hemispheres.tolist() == [False, True, False, True]
    np.testing.assert_allclose(parc.centroids[0], labels[0].pos.mean(axis=0) * 1000)  # m->mm
    assert parc.centroids[0, 0] < 0 < parc.centroids[1, 0]
    assert parc.centroids[2, 2] > 0 > parc.centroids[0, 2]
    assert parc.kind == "regions"


def test_labels_to_parcellation_with_source_space(adapters_subject):
    sd, src, labels = adapters_subject
    parc = labels_to_parcellation(labels, src=src)
    n_src = sum(len(s["vertno"]) for s in src)
    assert parc.region_mapping.shape == (n_src,) and (parc.region_mapping >= 0).all()
    # source order = lh vertno then rh vertno, like an mne.SourceEstimate
    lh_sup = parc.labels.index("superior-lh")
    expect = np.isin(src[0]["vertno"], labels[2].vertices)
    np.testing.assert_array_equal(parc.region_mapping[:len(src[0]["vertno"])] == lh_sup, expect)
    np.testing.assert_allclose(parc.vertices[:3], src[0]["rr"][:3] * 1000)
    assert parc.normals[lh_sup, 2] > 0.9  # superior cap points up
    # same geometry as reading the annotation directly on the surface
    lh = read_parcellation(sd / "fake" / "label" / "lh.aparc.annot",
                           surface=sd / "fake" / "surf" / "lh.white")
    k = lh.labels.index("superior-lh")
    np.testing.assert_allclose(parc.centroids[lh_sup], lh.centroids[k], atol=1e-6)
    np.testing.assert_allclose(parc.areas[lh_sup], lh.areas[k], rtol=1e-9)
    np.testing.assert_allclose(parc.normals[lh_sup], lh.normals[k], atol=1e-4)
    # a decimated source space: every other vertex is a source
    small = src.copy()
    for s in small:
        s["vertno"] = s["vertno"][::2]
    sub = labels_to_parcellation(labels, src=small)
    assert sub.region_mapping.shape == (sum(len(s["vertno"]) for s in small),)
    np.testing.assert_allclose(sub.centroids, parc.centroids)  # full-surface geometry


def test_labels_to_connectome_regions(adapters_subject):
    _, _, labels = adapters_subject
    conn = Connectome(np.ones((3, 3)), labels=["superior-rh", "inferior-lh", "superior-lh"])
    ordered = labels_to_connectome_regions(labels, conn)
    assert [lab.name for lab in ordered] == conn.labels
    # different naming, mapped by a dict or a function
    renamed = Connectome(np.ones((2, 2)), labels=["rSUP", "lINF"])
    mapping = {"superior-rh": "rSUP", "inferior-lh": "lINF"}
    assert [lab.name for lab in labels_to_connectome_regions(labels, renamed,
                                                             name_map=mapping)] == \
        ["superior-rh", "inferior-lh"]
    fn = labels_to_connectome_regions(
        labels, renamed, name_map=lambda n: ("r" if n.endswith("rh") else "l")
        + n[:3].upper())
    assert [lab.name for lab in fn] == ["superior-rh", "inferior-lh"]
    missing = Connectome(np.ones((2, 2)), labels=["superior-rh", "thalamus"])
    with pytest.raises(ValueError, match=r"no label for regions \['thalamus'\]"):
        labels_to_connectome_regions(labels, missing)
    got = labels_to_connectome_regions(labels, missing, allow_missing=True)
    assert got[0].name == "superior-rh" and got[1] is None
    with pytest.raises(ValueError, match="both map to region 'x'"):
        labels_to_connectome_regions(labels, conn, name_map=lambda n: "x")


def test_connectome_to_labels_round_trip(adapters_subject):
    sd, _, labels = adapters_subject
    parcs = [read_parcellation(sd / "fake" / "label" / f"{h}.aparc.annot",
                               surface=sd / "fake" / "surf" / f"{h}.white")
             for h in ("lh", "rh")]
    both = combine_parcellations(parcs)
    conn = both.to_connectome(np.ones((4, 4)) - np.eye(4))
    conn = conn.select(["superior-rh", "inferior-lh"])
    out = connectome_to_labels(conn, both, subject="fake")
    assert [lab.name for lab in out] == conn.labels
    mne_by_name = {lab.name: lab for lab in labels}
    for lab in out:
        ref = mne_by_name[lab.name]
        assert lab.hemi == ref.hemi and lab.subject == "fake"
        np.testing.assert_array_equal(lab.vertices, ref.vertices)  # per-hemisphere numbers
        np.testing.assert_allclose(lab.pos, ref.pos, atol=1e-6)  # metres
    assert len(parcellation_to_labels(both)) == 4
    # and back: labels -> parcellation gives the same regions
    again = labels_to_parcellation(out)
    assert again.labels == conn.labels


def test_bad_labels_refused(adapters_subject):
    sd, src, labels = adapters_subject
    lh_inf, rh_inf, lh_sup = labels[0], labels[1], labels[2]
    overlap = mne.Label(lh_sup.vertices[:3], pos=lh_sup.pos[:3], hemi="lh", name="blob")
    with pytest.raises(ValueError, match="labels 'superior-lh' and 'blob' overlap"):
        labels_to_parcellation([lh_sup, overlap], src=src)
    with pytest.raises(ValueError, match="spans both hemispheres"):
        labels_to_parcellation([lh_inf + rh_inf])
    with pytest.raises(ValueError, match=r"duplicated region labels"):
        labels_to_parcellation([lh_inf, lh_inf])
    with pytest.raises(ValueError, match="labels is empty"):
        labels_to_parcellation([])
    with pytest.raises(TypeError, match="mne.Label"):
        labels_to_parcellation(["superior-lh"])
    no_pos = mne.Label([0, 1, 2], hemi="lh", name="nopos")
    with pytest.raises(ValueError, match="'nopos' has no vertex positions"):
        labels_to_parcellation([no_pos])
    far = mne.Label([0, 10_000], hemi="lh", name="far")
    with pytest.raises(ValueError, match="'far' has vertex 10000 but the lh surface"):
        labels_to_parcellation([far], src=src)
    verts, tris = _sphere(0)
    (sd / "map.txt").write_text("0\n0\n0\n1\n1\n1\n")
    tvb_like = read_parcellation(sd / "map.txt", surface=(verts, tris))
    with pytest.raises(ValueError, match="hemisphere of each vertex is unknown"):
        parcellation_to_labels(tvb_like)
    with pytest.raises(ValueError, match=r"regions \['nope'\] are not in the parcellation"):
        connectome_to_labels(Connectome(np.eye(1), labels=["nope"]), tvb_like)
