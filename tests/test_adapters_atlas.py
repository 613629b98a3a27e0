"""Atlases: NIfTI/MGH label volumes, GIFTI/FreeSurfer surface parcellations, TVB surfaces."""
import zipfile

import nibabel as nib
import numpy as np
import pytest

from rate_bridge.adapters import (Parcellation, combine_parcellations, read_parcellation,
                                  read_surface, read_tvb_connectome, read_tvb_parcellation,
                                  surface_geometry, tvb_data_path)

SQ3 = np.sqrt(3.0)


def _octahedron():
    """Unit octahedron with outward (counter-clockwise) triangles."""
    verts = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]],
                     dtype=float)
    tris = []
    for sx in (1, -1):
        for sy in (1, -1):
            for sz in (1, -1):
                a = 0 if sx > 0 else 3
                b = 1 if sy > 0 else 4
                c = 2 if sz > 0 else 5
                tris.append([a, b, c] if sx * sy * sz > 0 else [a, c, b])
    return verts, np.array(tris)


# region 0 = {+x, +y, +z}, region 1 = {-x, -y}, vertex -z unassigned
MAPPING = np.array([0, 0, 0, 1, 1, -1])


def _check_octahedron_parcellation(parc, names):
    assert parc.kind == "surface" and parc.labels == names
    np.testing.assert_array_equal(parc.region_mapping, MAPPING)
    # every vertex has 4 faces of area sqrt(3)/2 -> vertex area 2 sqrt(3) / 3
    np.testing.assert_allclose(parc.areas, [3 * 2 * SQ3 / 3, 2 * 2 * SQ3 / 3])
    np.testing.assert_allclose(parc.centroids, [[1 / 3, 1 / 3, 1 / 3], [-0.5, -0.5, 0]],
                               atol=1e-12)
    np.testing.assert_allclose(parc.normals, [np.ones(3) / SQ3, [-1 / np.sqrt(2),
                                                                -1 / np.sqrt(2), 0]],
                               atol=1e-12)


def test_surface_geometry_octahedron():
    verts, tris = _octahedron()
    normals, areas = surface_geometry(verts, tris)
    np.testing.assert_allclose(normals, verts, atol=1e-12)  # outward, unit
    np.testing.assert_allclose(areas, 2 * SQ3 / 3)
    np.testing.assert_allclose(areas.sum(), 4 * SQ3)  # 8 faces of sqrt(3)/2


def test_gifti_label_on_gifti_surface(tmp_path):
    verts, tris = _octahedron()
    surf = nib.gifti.GiftiImage(darrays=[
        nib.gifti.GiftiDataArray(verts.astype(np.float32), intent="NIFTI_INTENT_POINTSET"),
        nib.gifti.GiftiDataArray(tris.astype(np.int32), intent="NIFTI_INTENT_TRIANGLE")])
    nib.save(surf, tmp_path / "oct.surf.gii")
    table = nib.gifti.GiftiLabelTable()
    for key, name in ((0, "???"), (7, "frontal"), (9, "occipital"), (11, "unused")):
        lab = nib.gifti.GiftiLabel(key=key)
        lab.label = name
        table.labels.append(lab)
    codes = np.array([7, 7, 7, 9, 9, 0], dtype=np.int32)
    img = nib.gifti.GiftiImage(labeltable=table, darrays=[
        nib.gifti.GiftiDataArray(codes, intent="NIFTI_INTENT_LABEL")])
    nib.save(img, tmp_path / "oct.label.gii")
    parc = read_parcellation(tmp_path / "oct.label.gii", surface=tmp_path / "oct.surf.gii",
                             exclude=("???",))
    _check_octahedron_parcellation(parc, ["frontal", "occipital"])
    np.testing.assert_array_equal(parc.label_values, [7, 9])
    assert parc.hemispheres is None  # no hemisphere in file name or metadata
    conn = parc.to_connectome(np.array([[0, 1.0], [2.0, 0]]), np.full((2, 2), 5.0))
    assert conn.labels == ["frontal", "occipital"]
    np.testing.assert_array_equal(conn.centres, parc.centroids)
    np.testing.assert_array_equal(conn.orientations, parc.normals)
    with pytest.raises(ValueError, match="2 regions"):
        parc.to_connectome(np.eye(3))


def test_freesurfer_annot_on_freesurfer_surface(tmp_path):
    verts, tris = _octahedron()
    nib.freesurfer.write_geometry(tmp_path / "lh.white", verts, tris)
    ctab = np.array([[25, 5, 25, 0, 0], [100, 20, 50, 0, 0], [0, 200, 0, 0, 0]], dtype=np.int32)
    names = [b"unknown", b"precentral", b"cuneus"]
    nib.freesurfer.write_annot(tmp_path / "lh.aparc.annot", np.array([1, 1, 1, 2, 2, 0]),
                               ctab, names, fill_ctab=True)
    parc = read_parcellation(tmp_path / "lh.aparc.annot", surface=tmp_path / "lh.white",
                             exclude=["unknown"])
    _check_octahedron_parcellation(parc, ["precentral-lh", "cuneus-lh"])  # MNE's naming
    assert parc.coord_frame == "mri" and not parc.hemispheres.any()
    assert (parc.vertex_hemis == "lh").all()
    vv, tt, nn, frame = read_surface(tmp_path / "lh.white")
    np.testing.assert_allclose(vv, verts) and np.testing.assert_array_equal(tt, tris)
    # without exclusion "unknown" is a region too
    full = read_parcellation(tmp_path / "lh.aparc.annot", surface=tmp_path / "lh.white")
    assert full.labels == ["unknown-lh", "precentral-lh", "cuneus-lh"]


def test_tvb_style_surface_and_mapping(tmp_path):
    verts, tris = _octahedron()
    with zipfile.ZipFile(tmp_path / "oct.zip", "w") as zf:
        zf.writestr("vertices.txt", "\n".join(" ".join(map(str, v)) for v in verts))
        zf.writestr("triangles.txt", "\n".join(" ".join(map(str, t)) for t in tris))
    (tmp_path / "map.txt").write_text("0\n0\n0\n1\n1\n2\n")
    parc = read_parcellation(tmp_path / "map.txt", surface=tmp_path / "oct.zip",
                             labels=["a", "b", "c"])
    assert parc.labels == ["a", "b", "c"] and parc.coord_frame == "tvb"
    np.testing.assert_allclose(parc.normals[2], [0, 0, -1], atol=1e-12)
    # the same geometry given as a tuple
    same = read_parcellation(tmp_path / "map.txt", surface=(verts, tris))
    np.testing.assert_allclose(same.centroids, parc.centroids)
    assert same.labels == ["r0", "r1", "r2"]
    # a region without vertices gets NaN and cannot become a connectome
    four = read_parcellation(tmp_path / "map.txt", surface=(verts, tris),
                             labels=list("abcd"))
    assert four.empty_regions == ["d"]
    with pytest.raises(ValueError, match=r"regions \['d'\] have no vertices"):
        four.to_connectome(np.ones((4, 4)))


def test_combine_hemispheres(tmp_path):
    verts, tris = _octahedron()
    lh = _annot_parcellation(tmp_path, verts, tris, "lh")
    rh = _annot_parcellation(tmp_path, verts + [100, 0, 0], tris, "rh")
    both = combine_parcellations([lh, rh])
    assert both.labels == ["a-lh", "b-lh", "a-rh", "b-rh"]
    assert both.region_mapping.tolist() == [0, 0, 0, 1, 1, -1, 2, 2, 2, 3, 3, -1]
    assert both.triangles.max() == 11
    assert both.hemispheres.tolist() == [False, False, True, True]
    np.testing.assert_allclose(both.centroids[2], lh.centroids[0] + [100, 0, 0])


def _annot_parcellation(d, verts, tris, hemi):
    nib.freesurfer.write_geometry(d / f"{hemi}.white", verts, tris)
    ctab = np.array([[1, 1, 1, 0, 0], [2, 2, 2, 0, 0]], dtype=np.int32)
    nib.freesurfer.write_annot(d / f"{hemi}.x.annot", np.array([0, 0, 0, 1, 1, -1]), ctab,
                               [b"a", b"b"], fill_ctab=True)
    return read_parcellation(d / f"{hemi}.x.annot", surface=d / f"{hemi}.white")


# --------------------------------------------------------------------------- volumes


def _label_volume():
    data = np.zeros((6, 5, 4), dtype=np.int16)
    data[0:2, 0:2, 0:2] = 3  # 8 voxels, centre index (0.5, 0.5, 0.5)
    data[4, 1:4, 3] = 8  # 3 voxels, centre index (4, 2, 3)
    affine = np.array([[2.0, 0, 0, -10], [0, 3.0, 0, 20], [0, 0, 1.5, 0], [0, 0, 0, 1]])
    return data, affine


def test_nifti_label_volume(tmp_path):
    data, affine = _label_volume()
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code="mni")
    img.header.set_xyzt_units("mm")
    nib.save(img, tmp_path / "atlas.nii.gz")
    (tmp_path / "lut.txt").write_text("# value name r g b a\n0 Unknown 0 0 0 0\n"
                                      "3 Left-Thalamus 0 118 14 0\n8 Right-Putamen 1 2 3 0\n")
    parc = read_parcellation(tmp_path / "atlas.nii.gz", lut=tmp_path / "lut.txt")
    assert parc.kind == "volume" and parc.coord_frame == "mni"
    assert parc.labels == ["Left-Thalamus", "Right-Putamen"]
    assert parc.hemispheres.tolist() == [False, True]  # from FreeSurfer's Left-/Right- names
    np.testing.assert_array_equal(parc.label_values, [3, 8])
    np.testing.assert_allclose(parc.centroids, [[2 * 0.5 - 10, 3 * 0.5 + 20, 1.5 * 0.5],
                                                [2 * 4 - 10, 3 * 2 + 20, 1.5 * 3]])
    np.testing.assert_allclose(parc.volumes, [8 * 9.0, 3 * 9.0])  # voxel = 2*3*1.5 mm³
    # no LUT: values as names; a dict LUT; exclusion
    plain = read_parcellation(tmp_path / "atlas.nii.gz")
    assert plain.labels == ["3", "8"] and plain.hemispheres is None
    assert read_parcellation(tmp_path / "atlas.nii.gz", lut={3: "t", 8: "p"},
                             exclude=["p"]).labels == ["t"]
    # the same data in metres gives the centroids in mm
    img_m = nib.Nifti1Image(data, np.diag([0.002, 0.003, 0.0015, 1]))
    img_m.header.set_xyzt_units("meter")
    nib.save(img_m, tmp_path / "m.nii")
    np.testing.assert_allclose(read_parcellation(tmp_path / "m.nii").centroids[0],
                               [1.0, 1.5, 0.75])
    conn = parc.to_connectome(np.ones((2, 2)))
    np.testing.assert_array_equal(conn.centres, parc.centroids)


def test_mgz_label_volume(tmp_path):
    data, affine = _label_volume()
    nib.save(nib.MGHImage(data.astype(np.int32), affine), tmp_path / "aseg.mgz")
    parc = read_parcellation(tmp_path / "aseg.mgz")
    np.testing.assert_allclose(parc.centroids[1], [-2, 26, 4.5])
    assert parc.coord_frame == "scanner"


def test_bad_volumes_refused(tmp_path):
    data, affine = _label_volume()
    nib.save(nib.Nifti1Image(data + 0.5, affine), tmp_path / "float.nii")
    with pytest.raises(ValueError, match=r"float\.nii: label image has non-integer values"):
        read_parcellation(tmp_path / "float.nii")
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3, 2), np.int16), affine), tmp_path / "4d.nii")
    with pytest.raises(ValueError, match=r"4d\.nii: a label image must be 3D"):
        read_parcellation(tmp_path / "4d.nii")
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.int16), affine), tmp_path / "empty.nii")
    with pytest.raises(ValueError, match=r"empty\.nii: no region voxels"):
        read_parcellation(tmp_path / "empty.nii")
    (tmp_path / "junk.nii.gz").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"junk\.nii\.gz: not a readable NIfTI"):
        read_parcellation(tmp_path / "junk.nii.gz")
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "ok.nii")
    (tmp_path / "lut.txt").write_text("3 a\n3 b\n")
    with pytest.raises(ValueError, match=r"lut\.txt, line 2: value 3 listed twice"):
        read_parcellation(tmp_path / "ok.nii", lut=tmp_path / "lut.txt")
    with pytest.raises(ValueError, match=r"duplicated region labels \['same'\]"):
        read_parcellation(tmp_path / "ok.nii", lut={3: "same", 8: "same"})


def test_bad_surface_parcellations_refused(tmp_path):
    verts, tris = _octahedron()
    nib.freesurfer.write_geometry(tmp_path / "lh.white", verts, tris)
    (tmp_path / "map.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match=r"map\.txt: 2 labelled vertices but the surface .* "
                                         r"has 6 vertices"):
        read_parcellation(tmp_path / "map.txt", surface=tmp_path / "lh.white")
    (tmp_path / "map.txt").write_text("0\n1\n2\n3\n4\n5\n")
    with pytest.raises(ValueError, match=r"region index 5 but only 2 labels"):
        read_parcellation(tmp_path / "map.txt", surface=tmp_path / "lh.white",
                          labels=["a", "b"])
    (tmp_path / "map.txt").write_text("0\n1\n2.5\n3\n4\n5\n")
    with pytest.raises(ValueError, match=r"map\.txt: region mapping must hold integer"):
        read_parcellation(tmp_path / "map.txt", surface=tmp_path / "lh.white")
    (tmp_path / "map.txt").write_text("0\n1\n2\n3\n4\n5\n")
    with pytest.raises(ValueError, match=r"needs surface="):
        read_parcellation(tmp_path / "map.txt")
    with pytest.raises(ValueError, match=r"triangles index vertices outside"):
        read_parcellation(tmp_path / "map.txt", surface=(verts, tris + 1))
    (tmp_path / "lh.broken").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match=r"lh\.broken: not a FreeSurfer surface"):
        read_surface(tmp_path / "lh.broken")
    (tmp_path / "x.annot").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"x\.annot: not a readable FreeSurfer \.annot"):
        read_parcellation(tmp_path / "x.annot", surface=tmp_path / "lh.white")
    (tmp_path / "atlas.xyz").write_text("")
    with pytest.raises(ValueError, match=r"atlas\.xyz: unknown parcellation extension"):
        read_parcellation(tmp_path / "atlas.xyz")
    with zipfile.ZipFile(tmp_path / "nosurf.zip", "w") as zf:
        zf.writestr("vertices.txt", "0 0 0\n")
    with pytest.raises(ValueError, match=r"nosurf\.zip: TVB surface lacks \['triangles'\]"):
        read_surface(tmp_path / "nosurf.zip")
    with pytest.raises(ValueError, match="centroids must have shape"):
        Parcellation(["a"], np.zeros((2, 3)))


# --------------------------------------------------------------------------- tvb-data


def test_tvb_data_cortex_and_region_mapping():
    pytest.importorskip("tvb_data")
    verts, tris, normals, frame = read_surface(tvb_data_path("cortex_16384.zip"))
    assert verts.shape == (16384, 3) and tris.shape == (32760, 3) and frame == "tvb"
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1)
    parc = read_tvb_parcellation(76)
    conn = read_tvb_connectome(76)
    assert parc.labels == conn.labels and parc.region_mapping.shape == (16384,)
    assert parc.triangles.shape == (32760, 3) and not parc.empty_regions
    assert np.array_equal(parc.hemispheres, conn.hemispheres)
    # our area-weighted centroids and mean normals agree with TVB's own centres/orientations
    assert np.median(np.linalg.norm(parc.centroids - conn.centres, axis=1)) < 2.0  # mm
    ori = conn.orientations / np.linalg.norm(conn.orientations, axis=1, keepdims=True)
    assert np.median((parc.normals * ori).sum(axis=1)) > 0.99
    assert 1.5e5 < parc.areas.sum() < 2.5e5  # mm², a whole cortex
    full = parc.to_connectome(conn.weights, conn.tract_lengths, name="tvb76")
    np.testing.assert_array_equal(full.weights, conn.weights)
    # tvb-data's 192-region mapping has 16500 entries: refused, not half-loaded
    with pytest.raises(ValueError, match=r"regionMapping_16k_192\.txt: 16500 labelled "
                                         r"vertices but the surface .*16384 vertices"):
        read_tvb_parcellation(192)


def test_tvb_data_gifti_surface(tmp_path):
    pytest.importorskip("tvb_data")
    path = tvb_data_path("sample.cortex.gii")
    verts, tris, normals, frame = read_surface(path)
    assert verts.shape == (131342, 3) and tris.shape[1] == 3 and normals is None
    mapping = (verts[:, 0] > 0).astype(int)  # split at x = 0
    np.save(tmp_path / "mapping.npy", mapping)
    parc = read_parcellation(tmp_path / "mapping.npy", surface=path, labels=["left", "right"])
    assert parc.centroids[0, 0] < 0 < parc.centroids[1, 0]
    assert (parc.areas > 0).all()
