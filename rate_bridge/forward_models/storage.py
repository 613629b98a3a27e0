"""Saving and reading forward models, so that a lead field (a BEM one above all) is built once.

A forward model file is a zip archive (any name; ``*-rbfwd.zip`` is a good habit) holding

* ``forward_model.json``: format and version, labels, kind, mode, the source map's shape and
  the provenance (tuples, numpy values, arrays and dicts with non-text keys are tagged so they
  come back as they went in);
* ``gain.npy`` (float64, exact) and numpy arrays of the source map and provenance;
* ``info.fif``: the sensors, written and read by MNE (:func:`mne.io.write_info`); FIF keeps
  positions in float32, so the float64 channel locations, calibrations, digitisation points
  and device -> head transform travel beside it (``info_*.npy``) and are put back;
* ``forward-fwd.fif`` / ``source-src.fif``: the MNE forward solution and source space when
  there are some, as MNE writes them (float32).

Writing is atomic (a temporary file beside the target, then :func:`os.replace`) and reading is
bounded and checked like every other file the package reads: a damaged file gives a
ValueError naming it. The head model itself (``fm.conductor``) is not saved; the provenance
says how it was made.
"""
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..utils import logger, validate_type, verbose, warn

FORMAT = "rate_bridge forward model"
VERSION = 1
_META = "forward_model.json"
_TAG = "__rate_bridge__"


# -- provenance: JSON with tags for what JSON cannot say --------------------------------------

def _encode(value, arrays, where):
    if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
        return value
    if isinstance(value, (np.ndarray, np.generic)) and not np.asarray(value).dtype.hasobject:
        name = f"provenance/{len(arrays)}.npy"
        arrays[name] = np.asarray(value)
        return {_TAG: "array" if isinstance(value, np.ndarray) else "scalar", "file": name}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
        return {_TAG: "dict", "items": [[_encode(k, arrays, where),
                                         _encode(v, arrays, f"{where}[{k!r}]")]
                                        for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays, f"{where}[{k}]") for k, v in enumerate(value)]
        return items if isinstance(value, list) else {_TAG: "tuple", "items": items}
    warn(f"{where}: a {type(value).__name__} cannot be saved as such; its text is saved "
         f"instead")
    return str(value)


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v, arrays) for k, v in value.items()}
    if tag in ("array", "scalar"):
        arr = arrays(value["file"])
        return arr if tag == "array" else arr[()]
    items = [_decode(v, arrays) for v in value["items"]]
    if tag == "tuple":
        return tuple(items)
    if tag == "dict":
        return dict(items)
    raise ValueError(f"unknown tag {tag!r}")


# -- writing -----------------------------------------------------------------------------------

def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def _mne_bytes(write, suffix):
    """Bytes of a file an MNE writer makes (it wants a file name)."""
    with tempfile.TemporaryDirectory(prefix="rate_bridge_fwd_") as tmp:
        fname = os.path.join(tmp, f"model{suffix}")
        write(fname)
        return Path(fname).read_bytes()


def _info_members(info):
    import mne
    members = {"info.fif": _mne_bytes(lambda f: mne.io.write_info(f, info), "-info.fif"),
               "info_loc.npy": _npy([c["loc"] for c in info["chs"]]),
               "info_cal.npy": _npy([c["cal"] for c in info["chs"]]),
               "info_range.npy": _npy([c["range"] for c in info["chs"]]),
               "info_dig.npy": _npy(np.array([d["r"] for d in info["dig"] or []],
                                             float).reshape(-1, 3))}
    if info["dev_head_t"] is not None:
        members["info_dev_head_t.npy"] = _npy(info["dev_head_t"]["trans"])
    return members


def _source_map_members(fm):
    import mne
    sm = fm.source_map
    if sm is None:
        return None, {}
    w = sm.weights.tocsr()
    members = {f"source_map/vertices_{k}.npy": _npy(v) for k, v in enumerate(sm.vertices)}
    members.update({f"source_map/weights_{k}.npy": _npy(getattr(w, k))
                    for k in ("data", "indices", "indptr")})
    src = None
    if sm.src is not None and fm.forward is not None and sm.src is fm.forward["src"]:
        src = "forward"
    elif sm.src is not None:
        src = "source-src.fif"
        members[src] = _mne_bytes(lambda f: mne.write_source_spaces(f, sm.src, verbose=False),
                                  "-src.fif")
    meta = {"kind": sm.kind, "subject": sm.subject, "n_vertices": len(sm.vertices),
            "shape": list(w.shape), "src": src}
    return meta, members


def save_forward_model(fm, fname, overwrite=False):
    """Write a forward model to a file (see the module doc); :meth:`ForwardModel.save`."""
    import zipfile
    import mne
    from .. import __version__
    from ..adapters._files import commit
    validate_type(fname, "path-like", "fname")
    path = Path(fname)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save the forward model to {path}: the folder "
                                f"{path.parent} does not exist")
    arrays = {}
    prov = _encode(fm.provenance, arrays, "provenance")
    smap, members = _source_map_members(fm)
    members.update(_info_members(fm.info))
    members["gain.npy"] = _npy(fm.gain)
    members.update({k: _npy(v) for k, v in arrays.items()})
    if fm.forward is not None:
        members["forward-fwd.fif"] = _mne_bytes(
            lambda f: mne.write_forward_solution(f, fm.forward, verbose=False), "-fwd.fif")
    meta = {"format": FORMAT, "version": VERSION, "rate_bridge": __version__,
            "labels": fm.labels, "kind": fm.kind, "mode": fm.mode, "provenance": prov,
            "source_map": smap, "forward": fm.forward is not None,
            "members": sorted(members)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_META, json.dumps(meta, allow_nan=True))
        for name, data in members.items():
            zf.writestr(name, data)
    commit({path: buf.getvalue()})
    logger.info(f"forward model saved to {path} ({buf.tell()} bytes)")
    return path


# -- reading -----------------------------------------------------------------------------------

class _Archive:
    """Members of a forward model file, read within the package's file limits."""

    def __init__(self, path, zf):
        from ..adapters._files import Budget
        self.path, self.zf, self.budget = path, zf, Budget(path)
        self.names = set(zf.namelist())

    def bytes(self, name):
        from ..adapters._files import read_member
        if name not in self.names:
            raise ValueError(f"{self.path}: damaged forward model file: member {name!r} is "
                             f"missing")
        return read_member(self.zf, self.zf.getinfo(name), self.path, self.budget)

    def array(self, name):
        from ..adapters._files import npy_from_bytes
        return npy_from_bytes(self.bytes(name), f"{self.path}/{name}")

    def mne(self, name, read):
        """An MNE object from a FIF member (its reader wants a file name)."""
        from ..adapters._files import reading
        data = self.bytes(name)
        with tempfile.TemporaryDirectory(prefix="rate_bridge_fwd_") as tmp:
            fname = os.path.join(tmp, "model" + name[name.index("-"):] if "-" in name
                                 else "model-" + name)
            Path(fname).write_bytes(data)
            with reading(f"{self.path}/{name}"):
                return read(fname)


def _read_info(arc):
    import mne
    info = arc.mne("info.fif", lambda f: mne.io.read_info(f, verbose=False))
    loc, cal, rng = (arc.array(f"info_{k}.npy") for k in ("loc", "cal", "range"))
    dig = arc.array("info_dig.npy")
    if loc.shape != (len(info["chs"]), 12) or len(dig) != len(info["dig"] or []):
        raise ValueError(f"{arc.path}: damaged forward model file: the channel positions do "
                         f"not match the Info")
    for ch, a, c, r in zip(info["chs"], loc, cal, rng):   # FIF kept float32: put float64 back
        ch["loc"] = a.copy()
        ch["cal"], ch["range"] = type(ch["cal"])(c), type(ch["range"])(r)
    for d, r in zip(info["dig"] or [], dig):
        d["r"] = r.copy()
    if info["dev_head_t"] is not None and "info_dev_head_t.npy" in arc.names:
        info["dev_head_t"]["trans"] = arc.array("info_dev_head_t.npy")
    return info


def _read_source_map(arc, meta, forward):
    import mne
    import scipy.sparse as sp
    from .model import SourceMap
    if meta is None:
        return None
    w = [arc.array(f"source_map/weights_{k}.npy") for k in ("data", "indices", "indptr")]
    try:
        weights = sp.csr_matrix(tuple(w), shape=tuple(meta["shape"]))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{arc.path}: damaged forward model file: source map weights "
                         f"({err})") from None
    vertices = [arc.array(f"source_map/vertices_{k}.npy") for k in range(meta["n_vertices"])]
    src = None
    if meta["src"] == "forward":
        src = forward["src"] if forward is not None else None
    elif meta["src"] is not None:
        src = arc.mne(meta["src"], lambda f: mne.read_source_spaces(f, verbose=False))
    return SourceMap(meta["kind"], vertices, weights, subject=meta["subject"], src=src)


@verbose
def read_forward_model(fname, *, verbose=None):
    """Read a forward model written by :meth:`ForwardModel.save`.

    Parameters
    ----------
    fname : path-like
        The file.
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
        Gain, Info, labels, source map, kind, mode and provenance as saved (the MNE forward
        solution and source space in MNE's float32 FIF precision).
    """
    from ..adapters._files import open_zip
    validate_type(fname, "path-like", "fname")
    path = Path(fname)
    if not path.is_file():
        raise FileNotFoundError(f"forward model file {str(path)!r} does not exist or is not a "
                                f"file")
    with open_zip(path, "forward model file (zip archive)") as zf:
        arc = _Archive(path, zf)
        try:
            meta = json.loads(arc.bytes(_META).decode("utf-8"))
            ok = isinstance(meta, dict) and meta.get("format") == FORMAT
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a rate_bridge forward model file, or a damaged "
                             f"one ({err})") from None
        if not ok:
            raise ValueError(f"{path}: not a rate_bridge forward model file (no "
                             f"{FORMAT!r} marker in {_META})")
        if meta.get("version", 0) > VERSION:
            raise ValueError(f"{path}: written by a newer rate_bridge (format version "
                             f"{meta['version']}, this one reads up to {VERSION}); upgrade")
        return _build(arc, meta)


def _build(arc, meta):
    import mne
    from .model import ForwardModel
    try:
        forward = arc.mne("forward-fwd.fif", lambda f: mne.read_forward_solution(
            f, verbose=False)) if meta["forward"] else None
        prov = _decode(meta["provenance"], arc.array)
        fm = ForwardModel(arc.array("gain.npy"), _read_info(arc), meta["labels"],
                          forward=forward,
                          source_map=_read_source_map(arc, meta["source_map"], forward),
                          kind=meta["kind"], mode=meta["mode"], provenance=prov)
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise ValueError(f"{arc.path}: damaged forward model file ({type(err).__name__}: "
                         f"{err})") from None
    except ValueError as err:
        if str(arc.path) in str(err):
            raise
        raise ValueError(f"{arc.path}: damaged forward model file ({err})") from None
    logger.info(f"read {fm!r} from {arc.path}")
    return fm
