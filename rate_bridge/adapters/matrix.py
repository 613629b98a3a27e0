"""Plain matrices: ``.npy``, ``.npz``, ``.csv``, ``.tsv``, ``.txt`` (optionally ``.gz``/``.bz2``)
and MATLAB ``.mat`` files, with labels and tract lengths from side files, header rows or keys.

All matrices are read as ``weights[target, source]`` (row = target, column = source, the
:class:`Connectome` and TVB convention); pass ``transpose=True`` for files stored
``[source, target]``.

CSV layout written by :func:`write_csv` (and read back exactly)::

    target\\source,A,B,C        <- header: corner cell, then column (source) labels
    A,0,0.5,0                  <- row label (target), then weights[target, :]
    ...

plus ``<stem>_tract_lengths.csv`` (same layout, mm) and ``<stem>_regions.csv`` (a region table
with ``label,x,y,z,...`` columns and a ``# coord_frame=...`` first line) next to it.
"""
import csv
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..utils import logger, verbose
from . import _common as C
from . import _files as F
from .connectome import build_connectome

TEXT_EXTS = (".csv", ".tsv", ".txt")
_COMPRESSED = tuple(e + c for e in TEXT_EXTS for c in (".gz", ".bz2"))
MATRIX_EXTS = (".npy", ".npz", ".mat") + TEXT_EXTS + _COMPRESSED

_WEIGHT_KEYS = ("weights", "weights_matrix", "connectivity", "SC", "W")
_LENGTH_KEYS = ("tract_lengths", "lengths", "distances", "tract_length")
_LABEL_KEYS = ("labels", "region_labels", "names")
_CENTRE_KEYS = ("centres", "centers")
_CORNER = "target\\source"
_REGION_COLUMNS = {"centres": ("x", "y", "z"), "hemispheres": ("hemisphere",),
                   "cortical": ("cortical",), "orientations": ("ox", "oy", "oz"),
                   "areas": ("area",)}


# --------------------------------------------------------------------------- text tables


def _delimiter_for(path, delimiter):
    if delimiter is not None:
        return delimiter
    ext = C.suffixes(path).split(".")[1]
    return {"csv": ",", "tsv": "\t"}.get(ext)  # .txt: whitespace (or comma, sniffed below)


def _rows(text, path, delimiter):
    if delimiter is None:  # .txt: '#' comment lines, whitespace or comma separated
        text = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
        first = next((ln for ln in text.splitlines() if ln.strip()
                      and not ln.lstrip().startswith("#")), "")
        if "," in first:
            delimiter = ","
    if delimiter is None:
        return [(k, ln.split()) for k, ln in C._lines(text)]
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out = []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            out.append((reader.line_num, row))
    except csv.Error as err:
        raise ValueError(f"{path}: malformed {delimiter!r}-separated text ({err})") from None
    return out


def _is_number(tok):
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _parse_labelled_table(text, path, delimiter=None, header=None):
    """(matrix, labels or None) from a text table with optional header row / label column."""
    rows = _rows(text, path, delimiter)
    if not rows:
        raise ValueError(f"{path}: empty file (no rows)")
    if header is None:
        first = rows[0][1]
        if not all(_is_number(t) for t in first[1:]):
            header = True  # labels (after an optional corner cell)
        elif not _is_number(first[0]):
            # 'label, numbers...': a header with a corner cell and numeric-looking labels if
            # the table (header included) is square, else a data row with its row label
            header = first[0].strip() == _CORNER or len(rows) == len(first)
        else:
            header = _numeric_header(rows, path)
    head = None
    if header:
        head = [t.strip() for t in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: only a header row, no data")
    width = {len(r) for _, r in rows}
    if len(width) > 1:
        first = len(rows[0][1])
        k, r = next((k, r) for k, r in rows if len(r) != first)
        raise ValueError(f"{path}, line {k}: {len(r)} values, expected {first} like the first "
                         f"data row")
    width = width.pop()
    n_rows = len(rows)
    row_labels = None
    first_col_text = not all(_is_number(r[0]) for _, r in rows)
    if first_col_text or (head is not None and width == n_rows + 1):
        row_labels = [r[0].strip() for _, r in rows]
        rows = [(k, r[1:]) for k, r in rows]
        width -= 1
        if head is not None and len(head) == width + 1:
            head = head[1:]  # corner cell
    values = [[C.to_float(t, f"{path}, line {k}") for t in r] for k, r in rows]
    mat = np.array(values, dtype=float)
    if mat.shape[0] != mat.shape[1]:
        raise ValueError(f"{path}: weights must be a square (n_regions, n_regions) matrix, "
                         f"got {mat.shape[0]} rows x {mat.shape[1]} columns"
                         + (" after a header row" if head is not None else ""))
    labels = None
    if head is not None:
        if len(head) != mat.shape[1]:
            raise ValueError(f"{path}: header has {len(head)} labels for {mat.shape[1]} "
                             f"columns")
        labels = head
    if row_labels is not None:
        if labels is not None and row_labels != labels:
            diff = next(k for k, (a, b) in enumerate(zip(row_labels, labels)) if a != b)
            raise ValueError(f"{path}: row labels differ from column labels (first at index "
                             f"{diff}: {row_labels[diff]!r} vs {labels[diff]!r}); rows and "
                             f"columns must list the same regions in the same order")
        labels = row_labels
    return mat, labels


def _numeric_header(rows, path):
    """Whether an all-numeric table starts with a row of numeric region labels.

    Weights are square, so n + 1 rows of n values hold a header row. A square table whose
    first row and first column (after the corner) are the same increasing integers reads as
    labels (``0,1,2 / 1,... / 2,...``) as well as symmetric weights: refused, ask header=.
    """
    first = rows[0][1]
    if len(rows) == len(first) + 1:
        return True
    if len(rows) != len(first) or len(rows) < 3:
        return False
    top = [float(t) for t in first[1:]]
    side = [float(r[0]) for _, r in rows[1:]]
    if top == side and all(v == round(v) for v in top) and all(np.diff(top) > 0):
        raise ValueError(f"{path}: ambiguous table: its first row and first column are the "
                         f"same increasing integers {top[:5]}..., which may be region labels "
                         f"(with a corner cell) or weights; pass header=True if they are "
                         f"labels, header=False if they are weights")
    return False


def _parse_region_table(text, path, n):
    """Region table ``label,x,y,z,...`` -> (labels, fields, coord_frame)."""
    coord_frame = None
    lines = text.split("\n")
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        s = lines.pop(0).strip()[1:].strip()  # comments only before the header row
        if s.startswith("coord_frame="):
            coord_frame = s[len("coord_frame="):]
    body = lines
    delim = _delimiter_for(path, None) or ","
    rows = _rows("\n".join(body), path, delim)
    if not rows:
        raise ValueError(f"{path}: empty region table")
    head = [t.strip() for t in rows[0][1]]
    if not head or head[0] != "label":
        raise ValueError(f"{path}: region table must start with a 'label' column, got "
                         f"{head[:5]}")
    data = rows[1:]
    if len(data) != n:
        raise ValueError(f"{path}: {len(data)} regions in the region table for {n} in the "
                         f"matrix")
    known = {c for cols in _REGION_COLUMNS.values() for c in cols}
    unknown = [h for h in head[1:] if h not in known]
    if unknown:
        raise ValueError(f"{path}: unknown region-table columns {unknown}; expected some of "
                         f"{sorted(known)}")
    for k, r in data:
        if len(r) != len(head):
            raise ValueError(f"{path}, line {k}: {len(r)} values for {len(head)} columns")
    labels = [r[0] for _, r in data]
    fields = {}
    for field, cols in _REGION_COLUMNS.items():
        present = [c in head for c in cols]
        if not any(present):
            continue
        if not all(present):
            raise ValueError(f"{path}: region table has only some of the columns {cols}")
        idx = [head.index(c) for c in cols]
        if field in ("hemispheres", "cortical"):
            vals = C.parse_bools("\n".join(r[idx[0]] for _, r in data), path, n)
        else:
            vals = np.array([[C.to_float(r[i], f"{path}, line {k}") for i in idx]
                             for k, r in data], dtype=float)
            if len(cols) == 1:
                vals = vals[:, 0]
        fields[field] = vals
    return labels, fields, coord_frame


def _sibling(path, suffix):
    ext = C.suffixes(path)
    return path.with_name(C.stem(path) + suffix + ext)


# --------------------------------------------------------------------------- containers


def _mat_strings(arr, where):
    arr = np.asarray(arr)
    if arr.dtype.kind in "US":
        if arr.ndim == 2 and arr.dtype.itemsize == np.dtype(arr.dtype.kind + "1").itemsize:
            return ["".join(row).strip() for row in arr.astype(str)]  # MATLAB char matrix
        return [str(s).strip() for s in arr.ravel()]
    if arr.dtype == object:
        out = []
        for e in arr.ravel():
            e = np.asarray(e)
            if e.dtype.kind not in "US":
                raise ValueError(f"{where}: labels must be strings, got {e.dtype}")
            out.append("".join(e.ravel().astype(str)).strip() if e.ndim else str(e).strip())
        return out
    raise ValueError(f"{where}: labels must be strings (a cell array or char matrix), got an "
                     f"array of {arr.dtype}")


def _check_mat(path):
    """Check a MATLAB file's declared and decompressed sizes against the limit before scipy
    allocates anything (v5 files compress each variable with zlib: a few KB can expand to GB).
    """
    import scipy.io
    budget = F.Budget(path)
    budget.check(os.stat(path).st_size, str(path), "holds")
    try:
        declared = sum(math.prod(shape) * 8 for _, shape, _ in scipy.io.whosmat(path))
    except NotImplementedError:
        return  # v7.3 (HDF5): refused by the reader with its own message
    except Exception as err:
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({err})") from None
    budget.check(declared, str(path), "declares arrays of")
    with open(path, "rb") as fid:
        head = fid.read(128)
        if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
            return  # MATLAB v4: uncompressed, bounded by the file's size
        endian = "<" if head[126:128] == b"IM" else ">"
        while len(tag := fid.read(8)) == 8:
            mtype, nbytes = struct.unpack(endian + "II", tag)
            if mtype != 15:  # not miCOMPRESSED
                fid.seek(nbytes, 1)
                continue
            _inflate_count(fid, nbytes, budget, path)


def _inflate_count(fid, nbytes, budget, path):
    """Decompress ``nbytes`` of zlib data from ``fid`` chunk by chunk, only to count them."""
    dec = zlib.decompressobj()
    total = 0
    try:
        while nbytes > 0:
            data = fid.read(min(nbytes, 1 << 20))
            if not data:
                break
            nbytes -= len(data)
            while data:
                total += len(dec.decompress(data, 1 << 20))
                data = dec.unconsumed_tail
                if total > budget.left:
                    raise budget.exceeded(path)
    except zlib.error as err:
        raise F.corrupt(path, err) from None
    budget.left -= total


def _load_container(path):
    """dict of arrays from .npz or .mat."""
    ext = C.suffixes(path)
    if ext == ".npz":
        return F.load_npz(path)
    _check_mat(path)
    import scipy.io
    try:
        data = scipy.io.loadmat(path, squeeze_me=False, chars_as_strings=True)
    except NotImplementedError as err:
        raise ValueError(f"{path}: MATLAB v7.3 (HDF5) files are not supported ({err}); save "
                         f"with -v7 or convert to .npz") from None
    except Exception as err:
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({err})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _pick(data, key, candidates, path, what, required):
    if key is not None:
        if key not in data:
            raise ValueError(f"{path}: no {what} key {key!r}; keys are {sorted(data)}")
        return key
    for cand in candidates:
        if cand in data:
            return cand
    if what == "weights":
        square = [k for k, v in data.items() if getattr(v, "ndim", 0) == 2
                  and v.shape[0] == v.shape[1] and v.dtype.kind in "biuf"]
        if len(square) == 1:
            return square[0]
        raise ValueError(f"{path}: cannot tell which array holds the weights (keys "
                         f"{sorted(data)}); pass weights_key=")
    if required:
        raise ValueError(f"{path}: no {what} found (keys {sorted(data)})")
    return None


# --------------------------------------------------------------------------- reader


def _weights_from(path, delimiter, header):
    """(weights, labels or None) of a .npy or text file."""
    ext = C.suffixes(path)
    if ext == ".npy":
        return F.load_npy(path), None
    if ext in TEXT_EXTS + _COMPRESSED:
        text = C.read_text(path)
        return _parse_labelled_table(text, path, _delimiter_for(path, delimiter), header)
    raise ValueError(f"{path}: unsupported matrix extension {ext!r}; expected one of "
                     f"{list(MATRIX_EXTS)}")


def _read_labels_arg(labels):
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        lp = C.check_exists(C.as_path(labels, "labels"))
        return C.parse_labels(C.read_text(lp), lp)
    return [str(lab) for lab in labels]


def _read_container(path, weights_key, lengths_key, labels_key):
    """What a .npz/.mat file holds: its weights and, where stored, ``tract_lengths``,
    ``labels``, ``centres``, the optional region ``fields`` and the ``stored`` name/frame."""
    data = _load_container(path)
    found = {"weights": data[_pick(data, weights_key, _WEIGHT_KEYS, path, "weights", True)],
             "labels": None, "fields": {}, "stored": {}}
    lkey = _pick(data, lengths_key, _LENGTH_KEYS, path, "tract lengths", lengths_key is not None)
    if lkey is not None:
        found["tract_lengths"] = data[lkey]
    labkey = _pick(data, labels_key, _LABEL_KEYS, path, "labels", labels_key is not None)
    if labkey is not None:
        found["labels"] = _mat_strings(data[labkey], f"{path}[{labkey!r}]")
    ckey = _pick(data, None, _CENTRE_KEYS, path, "centres", False)
    if ckey is not None:
        found["centres"] = data[ckey]
    for key in ("orientations", "areas", "hemispheres", "cortical"):
        if key in data:
            val = np.asarray(data[key])
            found["fields"][key] = val.ravel() if key != "orientations" else val
    for key in ("name", "coord_frame"):
        if key in data:
            found["stored"][key] = _mat_strings(data[key], f"{path}[{key!r}]")[0]
    return found


def _tract_lengths(tract_lengths, path, weights, file_labels, lengths_key, *, delimiter,
                   header, transpose):
    """The tract lengths matrix (or None) from a file, an array or False/None, in the
    ``[target, source]`` layout and checked against the weights."""
    if tract_lengths is None or tract_lengths is False:
        return None
    if isinstance(tract_lengths, (str, Path)):
        where = C.check_exists(C.as_path(tract_lengths))
        if C.suffixes(where) in (".npz", ".mat"):
            data = _load_container(where)
            lengths = data[_pick(data, lengths_key, _LENGTH_KEYS + _WEIGHT_KEYS, where,
                                 "weights", True)]
            len_labels = None
        else:
            lengths, len_labels = _weights_from(where, delimiter, header)
        lengths = C.check_weights(lengths, where, "tract_lengths")
        if len_labels is not None and file_labels is not None and len_labels != file_labels:
            raise ValueError(f"{where}: its labels differ from those of {path.name}")
    else:
        where = f"{path} (tract lengths)"
        lengths = C.check_weights(tract_lengths, where, "tract_lengths")
    if transpose:
        lengths = lengths.T.copy()
    C.check_same_shape(weights, lengths, "weights", "tract_lengths", where)
    return lengths


def _labels(labels, file_labels, n, path):
    """The ``labels`` argument if given, else the file's own labels (or None), checked."""
    given = _read_labels_arg(labels)
    if given is not None:
        return C.check_labels(given, n, f"{path} (labels)")
    if file_labels is not None:
        return C.check_labels(file_labels, n, str(path))
    return None


def _region_table(path, n, labels, centres, fields, stored):
    """Labels and centres completed from the sibling ``<stem>_regions`` table of a text file
    if there is one; its other columns go into ``fields``, its frame into ``stored``."""
    table = _sibling(path, "_regions")
    if not table.exists():
        return labels, centres
    logger.info(f"{path}: reading region table {table.name}")
    tlabels, tfields, tframe = _parse_region_table(C.read_text(table), table, n)
    if labels is not None and tlabels != labels:
        raise ValueError(f"{table}: region labels differ from those of {path.name}")
    labels = labels or C.check_labels(tlabels, n, table)
    table_centres = tfields.pop("centres", None)
    if centres is None:
        centres = table_centres
    fields.update(tfields)
    if tframe is not None:
        stored.setdefault("coord_frame", tframe)
    return labels, centres


@verbose
@F.reader
def read_matrix(path, *, tract_lengths=None, labels=None, centres=None, weights_key=None,
                lengths_key=None, labels_key=None, delimiter=None, header=None,
                transpose=False, coord_frame=None, name=None, verbose=None):
    """Read a connectome from a matrix file.

    Parameters
    ----------
    path : str | path-like
        ``.npy``, ``.npz``, ``.mat`` (MATLAB v4-v7.2), ``.csv``, ``.tsv`` or ``.txt``
        (whitespace or comma separated; ``.gz``/``.bz2`` compressed text too).
    tract_lengths : str | path-like | array-like | False | None
        Tract lengths in mm: a second matrix file, an array, or None to use the
        ``tract_lengths`` (or ``lengths``, ``distances``) key of .npz/.mat files and, for text
        files, the sibling ``<stem>_tract_lengths<ext>`` if it exists (zero lengths
        otherwise). False: zero lengths, never look.
    labels : list of str | str | path-like | None
        Region labels, or a text file with one label per line. None: the header row /
        first column of text files, the ``labels`` key of .npz/.mat files, else
        ``r0, r1, ...``.
    centres : array-like | None
        (n_regions, 3) centres in mm; None: ``centres`` key or sibling ``<stem>_regions``
        table.
    weights_key, lengths_key, labels_key : str | None
        Keys in .npz/.mat files (default ``weights``, ``tract_lengths``, ``labels``, or the
        only square array for the weights).
    delimiter : str | None
        Text delimiter; default by extension (``,`` csv, tab tsv, whitespace or comma txt).
    header : bool | None
        Whether the first text row holds labels; None: detected (any non-numeric cell).
    transpose : bool
        True if the file stores ``[source, target]`` (row = source); it is transposed to the
        ``[target, source]`` convention.
    coord_frame : str | None
        Frame of the centres (default stored one or ``"unknown"``).
    name : str | None
        Connectome name (default: stored one or the file stem).
    %(verbose)s

    Returns
    -------
    conn : Connectome
        The connectome (weights in the file's units, tract lengths in mm).
    """
    path = C.check_exists(C.as_path(path))
    ext = C.suffixes(path)
    text = ext in TEXT_EXTS + _COMPRESSED
    if ext in (".npz", ".mat"):
        found = _read_container(path, weights_key, lengths_key, labels_key)
    else:
        weights, file_labels = _weights_from(path, delimiter, header)
        found = {"weights": weights, "labels": file_labels}
    fields, stored = found.get("fields", {}), found.get("stored", {})
    where = str(path)
    weights = C.check_weights(found["weights"], where)
    n = weights.shape[0]
    if transpose:
        weights = weights.T.copy()
    if tract_lengths is None:
        tract_lengths = found.get("tract_lengths")
    if tract_lengths is None and text:
        sib = _sibling(path, "_tract_lengths")
        if sib.exists():
            logger.info(f"{path}: reading tract lengths from {sib.name}")
            tract_lengths = sib
    lengths = _tract_lengths(tract_lengths, path, weights, found["labels"], lengths_key,
                             delimiter=delimiter, header=header, transpose=transpose)
    final_labels = _labels(labels, found["labels"], n, path)
    if centres is None:
        centres = found.get("centres")
    if text:
        final_labels, centres = _region_table(path, n, final_labels, centres, fields, stored)
    if centres is not None:
        centres = C.check_centres(centres, n, where)
    conn = build_connectome(path, weights=weights, tract_lengths=lengths,
                              labels=final_labels, centres=centres,
                              coord_frame=coord_frame or stored.get("coord_frame", "unknown"),
                              name=name or stored.get("name") or C.stem(path), **fields)
    logger.info(f"Read {conn!r} from {path}")
    return conn

# --------------------------------------------------------------------------- writers


@verbose
def write_npz(conn, path, *, overwrite=False, verbose=None):
    """Write every field of a connectome to a NumPy ``.npz`` file (no pickles).

    Keys: ``weights`` (``[target, source]``), ``tract_lengths`` (mm), ``labels``, ``name``,
    ``coord_frame`` and, when known, ``centres`` (mm), ``orientations``, ``areas`` (mm²),
    ``hemispheres``, ``cortical``. :func:`read_matrix` reads it back exactly.

    Parameters
    ----------
    conn : Connectome
        The connectome.
    path : str | path-like
        Output file (written as given, ``.npz`` is not appended).
    overwrite : bool
        Replace an existing file.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The written file.
    """
    path = C.writable_target(path, overwrite, conn, ".npz")
    arrays = {"weights": conn.weights, "tract_lengths": conn.tract_lengths,
              "labels": np.array(conn.labels, dtype=str),
              "name": np.array([conn.name], dtype=str),
              "coord_frame": np.array([conn.coord_frame], dtype=str)}
    for key in ("centres", "orientations", "areas", "hemispheres", "cortical"):
        val = getattr(conn, key)
        if val is not None:
            arrays[key] = val
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    F.commit({path: buf.getvalue()})
    logger.info(f"Wrote {conn!r} to {path}")
    return path


def _format_table(labels, mat, delimiter):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow([_CORNER] + list(labels))
    for lab, row in zip(labels, mat):
        w.writerow([lab] + [C.FLOAT_FMT % v for v in row])
    return buf.getvalue()


@verbose
def write_csv(conn, path, *, overwrite=False, verbose=None):
    """Write a connectome as CSV (``.csv``) or TSV (``.tsv``) text, read back exactly.

    Writes ``path`` (weights, a header row of source labels and a first column of target
    labels: ``weights[target, source]``), ``<stem>_tract_lengths<ext>`` (mm, same layout) and,
    if the connectome has any per-region data or a coordinate frame,
    ``<stem>_regions<ext>`` (``label,x,y,z,hemisphere,cortical,ox,oy,oz,area`` as known;
    centres in mm, areas in mm²). Floats have 17 significant digits, so :func:`read_matrix`
    reads the same values back (the name is not stored: it becomes the file stem).

    Parameters
    ----------
    conn : Connectome
        The connectome. Labels must not be empty, start/end with whitespace or hold line
        breaks or control characters.
    path : str | path-like
        Output ``.csv`` or ``.tsv`` file.
    overwrite : bool
        Replace existing files.
    %(verbose)s

    Returns
    -------
    paths : list of pathlib.Path
        The written files.
    """
    path = C.as_path(path)
    ext = C.suffixes(path)
    if ext not in (".csv", ".tsv"):
        raise ValueError(f"{path}: write_csv writes .csv or .tsv files, got {ext!r}")
    delim = "," if ext == ".csv" else "\t"
    C.check_writable_strings(conn.labels, path, "CSV")
    C.check_writable_strings([conn.coord_frame], path, "CSV", "coord_frame")
    for lab in conn.labels:
        if not lab or lab != lab.strip() or any(c.isspace() and c != " " for c in lab):
            raise ValueError(f"{path}: label {lab!r} cannot be written to CSV (empty labels, "
                             f"leading/trailing whitespace and line breaks do not survive)")
    if conn.coord_frame != conn.coord_frame.strip():
        raise ValueError(f"{path}: coord_frame {conn.coord_frame!r} has leading/trailing "
                         f"whitespace, which CSV does not keep")
    lengths_path = _sibling(path, "_tract_lengths")
    regions_path = _sibling(path, "_regions")
    for p in (path, lengths_path, regions_path):
        C.writable_target(p, overwrite)
    files = {path: _format_table(conn.labels, conn.weights, delim),
             lengths_path: _format_table(conn.labels, conn.tract_lengths, delim)}
    table = _format_regions(conn, delim)
    if table is not None:
        files[regions_path] = table
    # all at once; with overwrite=True a stale region table would be read back: removed
    F.commit(files, remove=[] if table is not None or not regions_path.exists()
             else [regions_path])
    written = list(files)
    logger.info(f"Wrote {conn!r} to {[p.name for p in written]}")
    return written


def _format_regions(conn, delim):
    """Text of the region table (``label,x,y,z,...``), or None when there is nothing to keep."""
    cols, blocks = [], []
    for field, names in _REGION_COLUMNS.items():
        val = getattr(conn, field)
        if val is None:
            continue
        cols += names
        if field in ("hemispheres", "cortical"):
            blocks.append([[str(int(b))] for b in val])
        else:
            arr = np.asarray(val, dtype=float).reshape(conn.n_regions, -1)
            blocks.append([[C.FLOAT_FMT % v for v in row] for row in arr])
    if not cols and conn.coord_frame == "unknown":
        return None
    buf = io.StringIO()
    buf.write(f"# coord_frame={conn.coord_frame}\n")
    w = csv.writer(buf, delimiter=delim, lineterminator="\n")
    w.writerow(["label"] + cols)
    for k, lab in enumerate(conn.labels):
        w.writerow([lab] + [v for block in blocks for v in block[k]])
    return buf.getvalue()
