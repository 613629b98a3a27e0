"""Intracranial contacts (sEEG, ECoG, DBS): analytic and MNE lead fields, Raw output, errors."""
import mne
import numpy as np
import pandas as pd
import pytest

from rate_bridge.adapters import Connectome
from rate_bridge.forward_models import (Surface, from_intracranial, icosphere,
                                        read_contacts, sphere_dipole_potential)
from rate_bridge.forward_models.surfaces import vertex_normals
from test_forward_common import make_result, small_conn


def _shafts():
    """Two sEEG shafts of 8 contacts, 3.5 mm apart (mm), crossing the small ring's plane."""
    pos = {f"A{k + 1}": (-30.0 + 3.5 * k, 2.0, 21.0) for k in range(8)}
    pos.update({f"B{k + 1}": (12.0, -40.0 + 3.5 * k, 31.0) for k in range(8)})
    return pos


def _montage(pos, frame="head"):
    return mne.channels.make_dig_montage({n: np.asarray(p) * 1e-3 for n, p in pos.items()},
                                         coord_frame=frame)


def _formula(contacts_mm, centres_mm, moments, sigma=0.33):
    """V = p . (r - r0) / (4 pi sigma |r - r0|^3), one contact and one dipole at a time."""
    out = np.zeros((len(contacts_mm), len(centres_mm)))
    for i, r in enumerate(np.asarray(contacts_mm) * 1e-3):
        for j, (r0, p) in enumerate(zip(np.asarray(centres_mm) * 1e-3, moments)):
            d = r - r0
            out[i, j] = np.dot(p, d) / (4 * np.pi * sigma * np.sqrt(np.dot(d, d)) ** 3)
    return out


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_analytic_gain_is_the_dipole_formula():
    conn = small_conn(8, frame="head")
    pos = _shafts()
    fm = from_intracranial(conn, _montage(pos))
    assert fm.kind == "intracranial" and fm.mode == "centre"
    assert fm.info.get_channel_types() == ["seeg"] * 16 and fm.ch_names == list(pos)
    expected = _formula(list(pos.values()), conn.centres, _unit(conn.orientations))
    np.testing.assert_allclose(fm.gain, expected, rtol=1e-12)
    assert fm.provenance["sigma"] == 0.33 and fm.provenance["contacts_frame"] == "head"
    # the conductivity scales the gain; radial moments when the connectome has none
    half = from_intracranial(conn, _montage(pos), sigma=0.165)
    np.testing.assert_allclose(half.gain, 2 * fm.gain, rtol=1e-12)
    no_ori = small_conn(8, frame="head", orientations=False)
    radial = from_intracranial(no_ori, _montage(pos))
    moments = _unit(conn.centres - [0.0, 0.0, 40.0])        # away from MNE's head centre
    np.testing.assert_allclose(radial.gain, _formula(list(pos.values()), conn.centres,
                                                     moments), rtol=1e-12)


def test_contacts_in_the_connectome_frame_move_with_the_regions():
    """Contacts given in the regions' own (MRI) frame: one rigid placement for both, so the
    gain is the formula evaluated in that frame; the Info holds head-frame positions."""
    conn = small_conn(8, frame="tvb")                         # ALS axes: rotated into RAS
    table = pd.DataFrame({"name": list(_shafts()),
                          "x": [p[0] for p in _shafts().values()],
                          "y": [p[1] for p in _shafts().values()],
                          "z": [p[2] for p in _shafts().values()]})
    fm = from_intracranial(conn, table)
    assert read_contacts(table).coord_frame == "mri"
    expected = _formula(table[["x", "y", "z"]].to_numpy(), conn.centres,
                        _unit(conn.orientations))
    np.testing.assert_allclose(fm.gain, expected, rtol=1e-10)
    plc = np.array(fm.provenance["placement"]["trans_mm"])
    head = table[["x", "y", "z"]].to_numpy() @ plc[:3, :3].T + plc[:3, 3]
    got = np.array([c["loc"][:3] for c in fm.info["chs"]]) * 1e3
    np.testing.assert_allclose(got, head, atol=1e-9)
    assert fm.provenance["placement"]["scale"] == 1.0


def test_contacts_from_a_bids_like_table_file(tmp_path):
    pos = _shafts()
    rows = [f"{n}\t{p[0]}\t{p[1]}\t{p[2]}\t2.0\t{'depth' if n[0] == 'A' else 'strip'}"
            for n, p in pos.items()]
    path = tmp_path / "sub-01_electrodes.tsv"
    path.write_text("name\tx\ty\tz\tsize\ttype\n" + "\n".join(rows) + "\n")
    contacts = read_contacts(path, coord_frame="head")
    assert contacts.names == list(pos) and contacts.coord_frame == "head"
    assert contacts.types == ["seeg"] * 8 + ["ecog"] * 8
    np.testing.assert_array_equal(contacts.pos, np.array(list(pos.values())))
    fm = from_intracranial(small_conn(8, frame="head"), path, coord_frame="head")
    assert fm.info.get_channel_types() == contacts.types
    path.write_text("name\tx\ty\tz\nA1\t1\t2\t3\nA2\t1\t2\n")
    with pytest.raises(ValueError, match="contacts without a finite position: \\['A2'\\]"):
        read_contacts(path)
    path.write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(ValueError, match="electrodes.tsv"):
        read_contacts(path)


def test_cortical_surface_sources():
    """Vertices along their normals, combined per region as from_sphere does."""
    rr, tris = icosphere(2)
    rr = rr * 60.0 + [0.0, 0.0, 40.0]
    region = (rr[:, 0] > 0).astype(int) * 2 + (rr[:, 2] > 40).astype(int)   # 4 quadrants
    hemis = np.where(rr[:, 0] > 0, "rh", "lh")
    conn = Connectome(np.ones((4, 4)) - np.eye(4), labels=["a", "b", "c", "d"],
                      centres=np.array([rr[region == r].mean(0) for r in range(4)]),
                      coord_frame="head")
    surf = Surface(rr, tris, region_mapping=region, vertex_hemis=hemis, coord_frame="head")
    grid = {f"G{k}": (-20.0 + 10 * (k % 5), -20.0 + 10 * (k // 5), 110.0) for k in range(25)}
    nn = vertex_normals(rr, tris)
    per_vertex = _formula(list(grid.values()), rr, nn)
    for mode in ("mean", "sum"):
        fm = from_intracranial(conn, _montage(grid), ch_type="ecog", surface=surf, mode=mode)
        counts = np.bincount(region, minlength=4)
        expected = np.stack([per_vertex[:, region == r].sum(1) for r in range(4)], 1)
        if mode == "mean":
            expected = expected / counts
        np.testing.assert_allclose(fm.gain, expected, rtol=1e-10)
    # one equivalent dipole: at the centroid, along the (not renormalised) mean normal
    dip = from_intracranial(conn, _montage(grid), ch_type="ecog", surface=surf, mode="dipole")
    for r in range(4):
        sel = region == r
        np.testing.assert_allclose(dip.gain[:, r], _formula(list(grid.values()),
                                                            [rr[sel].mean(0)],
                                                            [nn[sel].mean(0)])[:, 0],
                                   rtol=1e-10)
    stc = fm.to_source_estimate(make_result(conn.labels, n_times=20), moment_scale=1e-8)
    assert isinstance(stc, mne.SourceEstimate)
    assert [len(v) for v in stc.vertices] == [(hemis == "lh").sum(), (hemis == "rh").sum()]


def test_to_raw_types_positions_and_references():
    conn = small_conn(8, frame="head")
    pos = _shafts()
    types = {n: ("dbs" if n.startswith("B") and n > "B6" else "seeg") for n in pos}
    fm = from_intracranial(conn, _montage(pos), ch_type=types)
    res = make_result(conn.labels, n_times=300, active=[2])
    raw = fm.to_raw(res, moment_scale=1e-8, reference=None)
    assert isinstance(raw, mne.io.BaseRaw)
    assert raw.get_channel_types() == [types[n] for n in pos]
    got = raw.get_montage().get_positions()
    assert got["coord_frame"] == "head"
    for name, p in pos.items():
        np.testing.assert_allclose(got["ch_pos"][name], np.asarray(p) * 1e-3, atol=1e-12)
    moments = (res["pc.v"] - res["pc.v"].mean(0)).T * 1e-8
    np.testing.assert_allclose(raw.get_data(), fm.gain @ moments, rtol=1e-9, atol=1e-20)
    # bipolar montage along shaft A, through MNE
    anode, cathode = [f"A{k}" for k in range(1, 8)], [f"A{k}" for k in range(2, 9)]
    bip = mne.set_bipolar_reference(raw, anode, cathode, verbose=False)
    idx = {n: k for k, n in enumerate(fm.ch_names)}
    for a, c in zip(anode, cathode):
        assert bip.get_channel_types(picks=[f"{a}-{c}"]) == ["seeg"]
        np.testing.assert_allclose(bip.get_data(picks=[f"{a}-{c}"])[0],
                                   (fm.gain[idx[a]] - fm.gain[idx[c]]) @ moments,
                                   rtol=1e-9, atol=1e-20)
    # default: a common average per channel type; a named contact as reference
    car = fm.to_raw(res, moment_scale=1e-8)
    for kind in ("seeg", "dbs"):
        np.testing.assert_allclose(car.get_data(picks=kind).mean(0), 0, atol=1e-20)
    ref = fm.to_raw(res, moment_scale=1e-8, reference="A8")
    np.testing.assert_allclose(ref.get_data(picks="A8"), 0, atol=1e-25)
    np.testing.assert_allclose(ref.get_data(picks="B1")[0],
                               (fm.gain[idx["B1"]] - fm.gain[idx["A8"]]) @ moments, rtol=1e-9)
    noisy = fm.to_raw(res, moment_scale=1e-8, reference=None, noise={"seeg": 2e-6,
                                                                       "dbs": 1e-6},
                      random_state=0)
    extra = noisy.get_data() - raw.get_data()
    assert 1.8e-6 < extra[:-2].std() < 2.2e-6 and 0.8e-6 < extra[-2:].std() < 1.2e-6
    assert fm.pick("dbs").ch_names == ["B7", "B8"]


def _ecog_setup():
    """An 8 x 8 ECoG grid (about 10 mm pitch) on a sphere of radius 75 mm centred at
    (0, 0, 40) mm, and 12 regions 4-40 mm under it with random orientations."""
    rng = np.random.default_rng(3)
    r0, radius = np.array([0.0, 0.0, 40.0]), 75.0
    th, ph = np.meshgrid(np.deg2rad(20 + 7.6 * np.arange(8)),
                         np.deg2rad(-26 + 7.6 * np.arange(8)))
    u = np.c_[(np.sin(th) * np.cos(ph)).ravel(), (np.sin(th) * np.sin(ph)).ravel(),
              np.cos(th).ravel()]
    grid = {f"G{k + 1}": r0 + radius * v for k, v in enumerate(u)}
    dirs = _unit(u[rng.choice(64, 12, replace=False)] + 0.05 * rng.standard_normal((12, 3)))
    centres = r0 + dirs * (radius - np.linspace(4.0, 40.0, 12))[:, None]
    conn = Connectome(np.ones((12, 12)) - np.eye(12), labels=[f"r{k}" for k in range(12)],
                      centres=centres, orientations=rng.standard_normal((12, 3)),
                      coord_frame="head")
    return conn, grid, r0, radius


def test_mne_sphere_forward_agrees_with_the_analytic_gain():
    """ECoG contacts on a homogeneous sphere: where both models apply. The sphere's
    insulating surface doubles the near field and adds a smooth image term, so the gains
    differ by a factor of 2-3 but keep their shape over the grid."""
    conn, grid, r0, radius = _ecog_setup()
    ana = from_intracranial(conn, _montage(grid), ch_type="ecog")
    sph = from_intracranial(conn, _montage(grid), ch_type="ecog", method="sphere")
    assert sph.ch_names == ana.ch_names and set(sph.ch_types) == {"ecog"}
    np.testing.assert_allclose(sph.provenance["sphere_r0_mm"], r0, atol=1e-6)
    assert abs(sph.provenance["sphere_radius_mm"] - radius) < 1e-3
    for k in range(conn.n_regions):
        assert np.corrcoef(ana.gain[:, k], sph.gain[:, k])[0, 1] >= 0.95
        ratio = np.linalg.norm(sph.gain[:, k]) / np.linalg.norm(ana.gain[:, k])
        assert 1.8 < ratio < 3.5
    # MNE's sphere is the closed-form potential on a homogeneous sphere's surface
    el = np.array(list(grid.values())) * 1e-3
    moments = _unit(conn.orientations)
    for k in range(conn.n_regions):
        v = sphere_dipole_potential(el, conn.centres[k] * 1e-3, moments[k], center=r0 * 1e-3,
                                    radius=radius * 1e-3, sigma=0.33)
        g = sph.gain[:, k]
        assert np.linalg.norm((g - g.mean()) - (v - v.mean())) < 0.01 * np.linalg.norm(v)
    raw = sph.to_raw(make_result(conn.labels, n_times=50), moment_scale=1e-8)
    assert set(raw.get_channel_types()) == {"ecog"}


def test_bad_contacts_are_refused_clearly():
    conn = small_conn(8, frame="head")
    pos = _shafts()
    far = dict(pos, A1=(250.0, 0.0, 20.0))
    with pytest.raises(ValueError, match=r"\['A1'\] lie outside the brain"):
        from_intracranial(conn, _montage(far))
    with pytest.raises(ValueError, match="coordinate frame 'mni_tal'.*'mri'.*'head'"):
        from_intracranial(conn, _montage(pos, frame="mni_tal"))
    with pytest.raises(ValueError, match="coordinate frame 'unknown'"):
        from_intracranial(conn, mne.channels.make_dig_montage(
            {n: np.asarray(p) * 1e-3 for n, p in pos.items()}))
    ras = small_conn(8, frame="ras")
    with pytest.raises(ValueError, match="head frame but the regions are in 'ras'.*placement"):
        from_intracranial(ras, _montage(pos))
    table = pd.DataFrame({"name": list(pos), "x": 0.0, "y": 1.0})
    with pytest.raises(ValueError, match=r"columns x, y, z \(mm\); it has \['name', 'x', 'y'\]"):
        from_intracranial(conn, table)
    table = pd.DataFrame({"name": list(pos), "x": 1.0, "y": 2.0, "z": "deep"})
    with pytest.raises(ValueError, match="x, y, z columns must be numbers"):
        from_intracranial(conn, table)
    with pytest.raises(KeyError, match=r"not in the table: \['C1'\]"):
        from_intracranial(conn, _montage(pos), ch_type={"C1": "seeg"})
    with pytest.raises(ValueError, match="channel type of contact 'A1' must be one of"):
        from_intracranial(conn, _montage(pos), ch_type="eeg")
    with pytest.raises(ValueError, match="were they given in m"):
        from_intracranial(conn, {n: np.asarray(p) * 1e-3 for n, p in pos.items()},
                          coord_frame="head")
    on_source = dict(pos, A1=tuple(conn.centres[0] + [0.2, 0.0, 0.0]))
    with pytest.raises(ValueError, match="contact 'A1' lies 0.2 mm from a source of region "
                                         "'reg0'"):
        from_intracranial(conn, _montage(on_source))
    with pytest.raises(ValueError, match="off the surface of the sphere.*method='analytic'"):
        from_intracranial(conn, _montage(pos), method="sphere", sphere=((0, 0, 40), 75.0))
    with pytest.raises(ValueError, match="method must be 'analytic' or 'sphere' .*BEM"):
        from_intracranial(conn, _montage(pos), method="bem")
    with pytest.raises(ValueError, match="sigma must be a positive conductivity"):
        from_intracranial(conn, _montage(pos), sigma=0.0)
