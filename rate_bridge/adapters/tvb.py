"""The Virtual Brain (TVB) connectivity format: zip archives or folders of text files.

Format facts (from TVB's documentation; no TVB code is used here):

* ``weights.txt`` -- (n, n) connection strengths, arbitrary units. TVB's coupling computes
  ``sum_j weights[k, j] * x_j(t - tau_kj)`` ("the dot product between the weights matrix (on
  the left) and the delayed state vector"; rows are *To*, columns are *from*, see
  https://docs.thevirtualbrain.org/api/tvb.simulator.coupling.html). So ``weights[i, j]`` is
  the connection **from region j onto region i**: the file already is
  ``weights[target, source]``, the :class:`Connectome` convention, and is used unchanged.
* ``tract_lengths.txt`` -- (n, n) fibre lengths in mm, same layout.
* ``centres.txt`` -- one ``label x y z`` line per region (mm).
* optional ``average_orientations.txt`` (n, 3), ``areas.txt`` (n,) in mm²,
  ``cortical.txt`` and ``hemispheres.txt`` (n,) of 0/1 (1 = cortical / right hemisphere),
  ``info.txt`` with ``key = "value"`` lines (``length_unit``, ...).
* any file may be compressed (``weights.txt.bz2``, ``.gz``), and the files may sit in one
  sub-folder of the archive.
"""
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..utils import logger, verbose
from . import _common as C
from . import _files as F
from .connectome import build_connectome

# stem of the file inside the archive -> Connectome field
_ROLES = {
    "weights": "weights",
    "tract_lengths": "tract_lengths", "tract_length": "tract_lengths", "tracts": "tract_lengths",
    "centres": "centres", "centers": "centres",
    "average_orientations": "orientations", "average_orientation": "orientations",
    "orientations": "orientations",
    "areas": "areas", "area": "areas",
    "cortical": "cortical",
    "hemispheres": "hemispheres", "hemisphere": "hemispheres",
    "info": "info",
}
_TEXT_EXTS = (".txt", ".txt.bz2", ".txt.gz")
_LENGTH_UNITS = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
_WRITER_TAG = "rate_bridge"

_INSTALL_HINT = ("tvb-data is not installed; install the optional TVB data with "
                 "`pip install rate_bridge[tvb]` (or `pip install tvb-data`)")


# --------------------------------------------------------------------------- tvb-data


def _tvb_data_root():
    try:
        import tvb_data
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return Path(tvb_data.__file__).parent


def tvb_data_path(name):
    """Path of a file shipped with the optional ``tvb-data`` package.

    Parameters
    ----------
    name : str
        File name (``"connectivity_76.zip"``, ``"cortex_16384.zip"``,
        ``"regionMapping_16k_76.txt"``) or a path relative to the package
        (``"connectivity/connectivity_76.zip"``).

    Returns
    -------
    path : pathlib.Path
        Absolute path of the installed file (read it in place; tvb-data is GPL data and is not
        copied into rate_bridge).

    Raises
    ------
    ImportError
        If tvb-data is not installed (the message says how to install it).
    FileNotFoundError
        If tvb-data has no such file (the message lists what it has of that kind).
    """
    root = _tvb_data_root()
    want = str(name).replace("\\", "/").strip("/")
    hits = sorted(p for p in root.rglob("*") if p.is_file()
                  and p.relative_to(root).as_posix().endswith(want)
                  and (p.relative_to(root).as_posix() == want
                       or p.relative_to(root).as_posix().endswith("/" + want)))
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(f"tvb-data has several files matching {name!r}: "
                         f"{[p.relative_to(root).as_posix() for p in hits]}; give the folder "
                         f"too (e.g. 'connectivity/{Path(want).name}')")
    ext = C.suffixes(want)
    similar = sorted(p.relative_to(root).as_posix() for p in root.rglob("*" + ext)
                     if p.is_file() and "__pycache__" not in p.parts)
    raise FileNotFoundError(f"tvb-data ({root}) has no file {name!r}; files with extension "
                            f"{ext!r} are: {similar}")


def _tvb_connectome_sizes():
    root = _tvb_data_root()
    sizes = []
    for p in (root / "connectivity").glob("connectivity_*.zip"):
        m = re.fullmatch(r"connectivity_(\d+)\.zip", p.name)
        if m:
            sizes.append(int(m.group(1)))
    return sorted(sizes)


@verbose
def read_tvb_connectome(n_regions=76, *, verbose=None):
    """Read one of the connectomes shipped with tvb-data (``connectivity_<n>.zip``).

    Parameters
    ----------
    n_regions : int
        Number of regions: 66, 68, 76, 96 or 192 with tvb-data 2.x/3.x.
    %(verbose)s

    Returns
    -------
    conn : Connectome
        ``weights[target, source]`` (a.u.), ``tract_lengths`` in mm, ``centres`` in mm in
        TVB's frame (``coord_frame="tvb"``).

    Raises
    ------
    ImportError
        If tvb-data is not installed (``pip install rate_bridge[tvb]``).
    """
    sizes = _tvb_connectome_sizes()
    if int(n_regions) not in sizes:
        raise ValueError(f"tvb-data has no connectome with {n_regions} regions; available: "
                         f"{sizes}")
    return read_tvb(tvb_data_path(f"connectivity/connectivity_{int(n_regions)}.zip"))


# --------------------------------------------------------------------------- reading


def _zip_members(path):
    """{role: (display name, bytes)} of a TVB zip, refusing unreadable or ambiguous archives.

    Only the members that hold TVB data are decompressed, within one size budget.
    """
    budget = F.Budget(path, text=True)
    with F.open_zip(path) as zf:
        files = {}
        for info in zf.infolist():
            p = Path(info.filename)
            if info.is_dir() or p.name.startswith(".") or "__MACOSX" in p.parts:
                continue
            files[info.filename] = info
        members = _assign_roles(path, {k: k for k in files})
        return {role: (f"{path}/{arc}", F.read_member(zf, files[arc], path, budget))
                for role, arc in members.items()}


def _folder_members(path):
    """{role: (file name, bytes)} of a TVB folder; links may not lead out of the folder."""
    files = {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*"))
             if p.is_file() and not p.name.startswith(".")}
    members = _assign_roles(path, {k: k for k in files})
    budget = F.Budget(path, text=True)
    return {role: (str(files[rel]), F.read_file(F.inside(path, files[rel]), budget=budget))
            for role, rel in members.items()}


def _assign_roles(container, names):
    """Map file names to Connectome fields; refuse duplicates and several connectomes."""
    found = {}
    ignored = []
    for rel in names:
        base = Path(rel).name
        ext = C.suffixes(base)
        key = C.stem(base).lower()
        role = _ROLES.get(key)
        if role is None:
            ignored.append(rel)
            continue
        if ext.lower() not in _TEXT_EXTS:
            raise ValueError(f"{container}: {rel!r} has an unsupported extension {ext!r}; TVB "
                             f"files must be one of {list(_TEXT_EXTS)}")
        found.setdefault(role, []).append(rel)
    folders = {str(Path(r).parent) for rels in found.values() for r in rels}
    if len(folders) > 1:
        raise ValueError(f"{container}: contains TVB files in several folders {sorted(folders)}; "
                         f"expected one connectome per archive/folder")
    dups = {role: rels for role, rels in found.items() if len(rels) > 1}
    if dups:
        raise ValueError(f"{container}: several files for the same data {dups}; keep one")
    if "weights" not in found:
        raise ValueError(f"{container}: no weights file (expected weights.txt, .txt.bz2 or "
                         f".txt.gz); found {sorted(names)}")
    if ignored:
        logger.info(f"{container}: ignoring files {ignored}")
    return {role: rels[0] for role, rels in found.items()}


def _parse_info(text):
    """``key = "value"`` pairs (values JSON-quoted strings); other lines are ignored."""
    info = {}
    for m in re.finditer(r'(\w+)\s*=\s*("(?:[^"\\\n]|\\.)*")', text):
        try:
            info[m.group(1)] = json.loads(m.group(2))
        except ValueError:
            info[m.group(1)] = m.group(2)[1:-1]
    return info


def _parse_centres(text, name, n):
    labels, coords = [], []
    n_cols = None
    for k, line in C._lines(text, comments=False):  # a label may start with '#'
        tokens = line.split()
        if n_cols is None:
            n_cols = len(tokens)
        while tokens and tokens[-1].lower() == "none":  # TVB's connectivity_66 has a 5th "None"
            tokens = tokens[:-1]
        if len(tokens) == 4:
            labels.append(tokens[0])
            coords.append([C.to_float(t, f"{name}, line {k}") for t in tokens[1:]])
        elif len(tokens) == 3 and all(_is_number(t) for t in tokens):
            labels.append(None)
            coords.append([C.to_float(t, f"{name}, line {k}") for t in tokens])
        else:
            raise ValueError(f"{name}, line {k}: expected 'label x y z' (or 'x y z'), got "
                             f"{len(tokens)} columns: {line[:80]!r}")
    if len(coords) != n:
        raise ValueError(f"{name}: {len(coords)} centres for {n} regions (weights are "
                         f"{n} x {n})")
    has = [lab is not None for lab in labels]
    if any(has) and not all(has):
        k = has.index(False) if not has[0] else has.index(True)
        raise ValueError(f"{name}: some lines have a label and some do not (region {k}); "
                         f"expected 'label x y z' on every line")
    return (labels if all(has) else None), np.array(coords, dtype=float)


def _is_number(tok):
    try:
        float(tok)
    except ValueError:
        return False
    return True


_SUFFIX_RE = re.compile(r"[_\-. ](r|l|rh|lh|right|left)$", re.IGNORECASE)
_PREFIX_RE = re.compile(r"^(?:ctx[-_])?([Rr][Hh]|[Ll][Hh]|[Rr]ight|[Ll]eft)[-_. ]"
                        r"|^([rlRL])(?=[A-Z0-9_\-. ])")


def hemispheres_from_labels(labels):
    """Right-hemisphere flags from region labels, or None when the labels do not all say.

    A label is right/left if it ends with ``_R``/``_L`` (also ``-rh``, ``.left``, ...) or,
    failing that for any label, if every label starts with ``r``/``l`` followed by an
    upper-case letter, digit or separator (``rA1``, ``l_insula``), ``lh-``/``rh-``,
    ``Left-``/``Right-``.
    """
    def decide(regex, group_of):
        out = []
        for lab in labels:
            m = regex.search(lab)
            if m is None:
                return None
            side = group_of(m).lower()
            out.append(side[0] == "r")
        return np.array(out, dtype=bool)

    res = decide(_SUFFIX_RE, lambda m: m.group(1))
    if res is None:
        res = decide(_PREFIX_RE, lambda m: m.group(1) or m.group(2))
        # the single-letter prefix rule must be case-consistent (rA1 / lA1, not "Lateral")
        if res is not None:
            firsts = {lab[0] for lab in labels if _PREFIX_RE.match(lab).group(2)}
            if firsts and not (firsts <= {"r", "l"} or firsts <= {"R", "L"}):
                return None
    return res


@verbose
@F.reader
def read_tvb(path, *, coord_frame=None, infer_hemispheres=True, name=None, verbose=None):
    """Read a TVB connectivity zip archive or folder.

    Parameters
    ----------
    path : str | path-like
        A ``.zip`` archive (e.g. tvb-data's ``connectivity_76.zip``) or a folder holding the
        same files (``weights.txt``, ``tract_lengths.txt``, ``centres.txt``, optional
        ``average_orientations.txt``, ``areas.txt``, ``cortical.txt``, ``hemispheres.txt``,
        ``info.txt``; each may be ``.bz2``/``.gz`` compressed).
    coord_frame : str | None
        Frame of the centres. None uses the frame stored by :func:`write_tvb` in
        ``info.txt``, else ``"tvb"``.
    infer_hemispheres : bool
        Without ``hemispheres.txt``, infer right/left from labels such as ``rA1``/``lA1`` or
        ``X_R``/``X_L`` (see :func:`hemispheres_from_labels`); None when they do not all say.
        Never applied to files written by rate_bridge (which store what they had).
    name : str | None
        Connectome name; default the name in ``info.txt`` or the file's stem.
    %(verbose)s

    Returns
    -------
    conn : Connectome
        ``weights[target, source]`` exactly as in ``weights.txt`` (TVB's rows are targets,
        columns sources), ``tract_lengths`` in mm (converted from ``info.txt``'s
        ``length_unit`` if it is cm or m), ``centres`` in mm.

    Raises
    ------
    ValueError
        Naming the file and the problem: unreadable zip, missing weights, non-square or
        mismatched matrices, NaN/inf, negative values, wrong number of centres or labels,
        duplicated labels. Nothing is half-loaded.
    """
    path = C.check_exists(C.as_path(path))
    members = _tvb_members(path)
    info = {}
    if "info" in members:
        info = _parse_info(_member_text(members, "info")[1])
    ours = str(info.get("written_by", "")).startswith(_WRITER_TAG)
    where, txt = _member_text(members, "weights")
    weights = C.check_weights(C.parse_table(txt, where), where)
    n = weights.shape[0]
    lengths = _tvb_lengths(members, info, weights, path)
    labels = centres = None
    if "centres" in members:
        where, txt = _member_text(members, "centres")
        labels, centres = _parse_centres(txt, where, n)
        if labels is not None:
            labels = C.check_labels(labels, n, where)
    else:
        logger.warning(f"{path}: no centres file; labels default to r0, r1, ...")
    if ours and info.get("centres") == "absent":
        centres = None
    fields = _tvb_region_fields(members, info, n)
    if ("hemispheres" not in fields and infer_hemispheres and not ours
            and labels is not None):
        hemi = hemispheres_from_labels(labels)
        if hemi is not None:
            logger.info(f"{path}: hemispheres inferred from labels "
                        f"({int(hemi.sum())} right, {int((~hemi).sum())} left)")
            fields["hemispheres"] = hemi
    if coord_frame is None:
        coord_frame = info.get("coord_frame", "tvb")
    conn = build_connectome(path, weights=weights, tract_lengths=lengths, labels=labels,
                              centres=centres, coord_frame=coord_frame,
                              name=name or info.get("name") or C.stem(path), **fields)
    logger.info(f"Read {conn!r} from {path}")
    return conn


def _tvb_members(path):
    """{role: (where, bytes)} of a TVB connectivity folder or .zip archive."""
    if path.is_dir():
        return _folder_members(path)
    if C.suffixes(path) != ".zip":
        raise ValueError(f"{path}: a TVB connectivity must be a .zip archive or a folder, "
                         f"got extension {C.suffixes(path)!r}")
    return _zip_members(path)


def _member_text(members, role):
    """(where, decoded text) of the member with ``role``."""
    where, data = members[role]
    return where, C.decode(data, where)


def _tvb_lengths(members, info, weights, path):
    """Tract lengths in mm (None without a tract_lengths file), converted from
    ``info.txt``'s ``length_unit``."""
    scale = 1.0
    unit = info.get("length_unit")
    if unit is not None:
        if unit not in _LENGTH_UNITS:
            raise ValueError(f"{members['info'][0]}: length_unit {unit!r} not understood; "
                             f"expected one of {sorted(_LENGTH_UNITS)}")
        scale = _LENGTH_UNITS[unit]
    if "tract_lengths" not in members:
        logger.warning(f"{path}: no tract_lengths file; using zero lengths (no delays)")
        return None
    where, txt = _member_text(members, "tract_lengths")
    lengths = C.check_weights(C.parse_table(txt, where), where, "tract_lengths")
    C.check_same_shape(weights, lengths, "weights", "tract_lengths", where)
    return lengths * scale if scale != 1.0 else lengths


def _tvb_region_fields(members, info, n):
    """Optional :class:`Connectome` fields of the archive: orientations, areas (mm²),
    cortical and hemispheres flags."""
    fields = {}
    if "orientations" in members:
        where, txt = _member_text(members, "orientations")
        fields["orientations"] = C.check_centres(C.parse_table(txt, where), n, where,
                                                 "average orientations")
    if "areas" in members:
        where, txt = _member_text(members, "areas")
        areas = C.parse_vector(txt, where, n, "areas")
        if not np.isfinite(areas).all() or (areas < 0).any():
            raise ValueError(f"{where}: areas must be finite and >= 0 mm²")
        unit = info.get("area_unit")
        if unit is not None and unit not in ("mm^2", "mm2", "mm²"):
            raise ValueError(f"{members['info'][0]}: area_unit {unit!r} not understood; "
                             f"expected 'mm^2'")
        fields["areas"] = areas
    for role in ("cortical", "hemispheres"):
        if role in members:
            where, txt = _member_text(members, role)
            fields[role] = C.parse_bools(txt, where, n)
    return fields


# --------------------------------------------------------------------------- writing


def _tvb_files(conn, where):
    C.check_text_labels(conn.labels, where, "a TVB centres.txt")
    from .. import __version__
    files = {"weights.txt": C.format_matrix(conn.weights),
             "tract_lengths.txt": C.format_matrix(conn.tract_lengths)}
    centres = conn.centres if conn.centres is not None else np.zeros((conn.n_regions, 3))
    files["centres.txt"] = "".join(f"{lab} {C.format_row(c)}\n"
                                   for lab, c in zip(conn.labels, centres))
    if conn.orientations is not None:
        files["average_orientations.txt"] = C.format_matrix(conn.orientations)
    if conn.areas is not None:
        files["areas.txt"] = "".join(C.FLOAT_FMT % a + "\n" for a in conn.areas)
    if conn.cortical is not None:
        files["cortical.txt"] = "".join(f"{int(b)}\n" for b in conn.cortical)
    if conn.hemispheres is not None:
        files["hemispheres.txt"] = "".join(f"{int(b)}\n" for b in conn.hemispheres)
    info = {"weights_unit": "au", "length_unit": "mm", "area_unit": "mm^2",
            "name": conn.name, "coord_frame": conn.coord_frame,
            "written_by": f"{_WRITER_TAG} {__version__}"}
    if conn.centres is None:
        info["centres"] = "absent"  # centres.txt then holds zeros, which TVB requires
    files["info.txt"] = "".join(f"{k} = {json.dumps(v)}\n" for k, v in info.items())
    return files


@verbose
def write_tvb(conn, path, *, overwrite=False, verbose=None):
    """Write a connectome as a TVB connectivity zip (``.zip``) or folder (any other path).

    Values are written with 17 significant digits so :func:`read_tvb` gets back the exact
    float64 values. ``weights.txt`` is ``weights[target, source]`` (TVB's layout), lengths in
    mm, centres in mm (zeros, flagged in ``info.txt``, if the connectome has none, since TVB
    needs the file). Labels must not contain whitespace.

    Parameters
    ----------
    conn : Connectome
        The connectome.
    path : str | path-like
        ``something.zip`` for an archive; otherwise a folder (created if needed).
    overwrite : bool
        Replace an existing file (folders: existing TVB files in it).
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The written archive or folder. The files are replaced all at once: if writing fails,
        the old ones are left as they were.
    """
    path = C.as_path(path)
    files = _tvb_files(conn, path)
    if C.suffixes(path) == ".zip":
        C.writable_target(path, overwrite)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for fname, content in files.items():
                zf.writestr(fname, content)
        F.commit({path: buf.getvalue()})
    else:
        _write_tvb_folder(path, files, overwrite)
    logger.info(f"Wrote {conn!r} to {path}")
    return path


def _write_tvb_folder(path, files, overwrite):
    """Write ``{name: text}`` into the folder ``path``, replacing old TVB files at once."""
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{path}: is a dangling symbolic link; refusing to write through it")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: exists and is not a folder; TVB output is a folder "
                         f"unless the path ends with .zip")
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    old = [p for p in path.iterdir() if (p.is_file() or p.is_symlink())
           and C.stem(p.name).lower() in _ROLES and C.suffixes(p.name) in _TEXT_EXTS]
    if old and not overwrite:
        raise FileExistsError(f"{path}: already holds TVB files {sorted(p.name for p in old)}"
                              f"; pass overwrite=True to replace them")
    targets = {C.writable_target(path / fname, overwrite): content
               for fname, content in files.items()}
    try:  # stale optional files (e.g. hemispheres.txt) would be read back: removed too
        F.commit(targets, remove=[p for p in old if p not in targets])
    except BaseException:
        if created:
            path.rmdir()
        raise
