"""Helpers shared by the adapters: paths, text parsing, validation and exact float formatting.

Every reader reports problems as ``ValueError("<file>: <problem>")`` so that the user sees
which file is wrong and why; nothing here returns a partially parsed result.
"""
import os
from pathlib import Path

import numpy as np

from ..utils import validate_type
from . import _files as F

#: printf format that round-trips every float64 exactly (17 significant digits).
FLOAT_FMT = "%.17g"

_COMPRESSIONS = (".bz2", ".gz")


def as_path(path, what="path"):
    """Return ``path`` as a :class:`~pathlib.Path` or raise a TypeError saying what was got."""
    return Path(validate_type(path, "path-like", what)).expanduser()


def check_exists(path):
    """Raise FileNotFoundError naming ``path`` if it does not exist."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return path


def suffixes(path):
    """Lower-case extension of ``path`` including a compression suffix (``'.txt.bz2'``)."""
    name = Path(path).name.lower()
    suf = Path(name).suffix
    if suf in _COMPRESSIONS:
        inner = Path(name[:-len(suf)]).suffix
        return inner + suf
    return suf


def stem(path):
    """File name without its (possibly compressed) extension."""
    name = Path(path).name
    ext = suffixes(path)
    return name[:-len(ext)] if ext else name


def read_text(path, budget=None):
    """Read a (possibly .bz2/.gz compressed) text file as str, within the size limit."""
    return decode(F.read_file(path, text=True, budget=budget), path)


def decode(data, name):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{name}: not a UTF-8 text file ({err})") from None


def _lines(text, comments=True):
    """(line number, stripped line) of non-empty (and, if ``comments``, non-``#``) lines."""
    out = []
    for k, line in enumerate(text.split("\n"), start=1):
        s = line.strip()
        if s and not (comments and s.startswith("#")):
            out.append((k, s))
    return out


def to_float(token, where):
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"{where}: expected a number, got {token!r}") from None


def parse_table(text, name, delimiter=None):
    """Parse a whitespace- (or ``delimiter``-) separated numeric table into a 2D float array.

    Every row must have the same number of values; the error names the file and line.
    """
    tokens = []
    ncol = None
    lines = _lines(text)
    for k, line in lines:
        row = line.split(delimiter)
        if delimiter is not None:
            row = [t.strip() for t in row]
        if ncol is None:
            ncol = len(row)
        elif len(row) != ncol:
            raise ValueError(f"{name}, line {k}: {len(row)} values, expected {ncol} like "
                             f"the first row")
        tokens.extend(row)
    if not tokens:
        raise ValueError(f"{name}: no numeric data found (empty file)")
    try:  # numpy parses decimal strings with correct rounding, like float()
        values = np.array(tokens, dtype=float)
    except ValueError:
        for k, line in lines:  # find the culprit for the message
            for t in line.split(delimiter):
                to_float(t.strip(), f"{name}, line {k}")
        raise
    return values.reshape(len(lines), ncol)


def parse_vector(text, name, length=None, what="values"):
    """Parse one number per line (or a single row) into a 1D float array."""
    table = parse_table(text, name)
    if table.shape[1] == 1:
        vec = table[:, 0]
    elif table.shape[0] == 1:
        vec = table[0]
    else:
        raise ValueError(f"{name}: expected one column of {what}, got a table of shape "
                         f"{table.shape}")
    if length is not None and vec.size != length:
        raise ValueError(f"{name}: {vec.size} {what} for {length} regions")
    return vec


def parse_bools(text, name, length):
    """Parse one 0/1 (or true/false) per line into a bool array of ``length``."""
    values = []
    for k, line in _lines(text):
        for tok in line.split():
            low = tok.lower()
            if low in ("1", "1.0", "true"):
                values.append(True)
            elif low in ("0", "0.0", "false"):
                values.append(False)
            else:
                raise ValueError(f"{name}, line {k}: expected 0/1 or true/false, got {tok!r}")
    if len(values) != length:
        raise ValueError(f"{name}: {len(values)} values for {length} regions")
    return np.array(values, dtype=bool)


def parse_labels(text, name):
    """One label per line; blank lines inside the list are an error (a missing label)."""
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    labels = []
    for k, line in enumerate(lines, start=1):
        lab = line.strip()
        if not lab:
            raise ValueError(f"{name}, line {k}: empty label (missing region label)")
        labels.append(lab)
    if not labels:
        raise ValueError(f"{name}: no labels found (empty file)")
    return labels


def check_weights(weights, name, what="weights"):
    """Square, finite, non-negative float matrix, or a ValueError naming the file."""
    try:
        w = np.array(weights, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: {what} must be numeric ({err})") from None
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"{name}: {what} must be a square (n_regions, n_regions) matrix, got "
                         f"shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"{name}: {what} is empty")
    bad = ~np.isfinite(w)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {what} has {int(bad.sum())} NaN/inf entries, the first at "
                         f"[target={i}, source={j}]")
    neg = w < 0
    if neg.any():
        i, j = np.argwhere(neg)[0]
        raise ValueError(f"{name}: {what} must be >= 0, got {int(neg.sum())} negative entries, "
                         f"the first {float(w[i, j])!r} at [target={i}, source={j}]")
    return w


def check_same_shape(a, b, what_a, what_b, name):
    if a.shape != b.shape:
        raise ValueError(f"{name}: {what_b} has shape {b.shape} but {what_a} has shape "
                         f"{a.shape}")


def check_labels(labels, n, name):
    """Labels must be n unique, non-empty strings."""
    labels = [str(lab) for lab in labels]
    if len(labels) != n:
        raise ValueError(f"{name}: {len(labels)} labels for {n} regions")
    empty = [k for k, lab in enumerate(labels) if not lab.strip()]
    if empty:
        raise ValueError(f"{name}: empty (missing) labels at region indices {empty[:10]}")
    seen, dup = set(), []
    for lab in labels:
        if lab in seen:
            dup.append(lab)
        seen.add(lab)
    if dup:
        raise ValueError(f"{name}: duplicated region labels {sorted(set(dup))[:10]}")
    return labels


def check_centres(centres, n, name, what="centres"):
    c = np.array(centres, dtype=float)
    if c.shape != (n, 3):
        raise ValueError(f"{name}: {what} must have shape ({n}, 3) (x, y, z in mm per "
                         f"region), got {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError(f"{name}: {what} contain NaN or inf")
    return c


def check_writable_strings(strings, name, fmt, what="label"):
    """Refuse empty strings and control/surrogate characters, which no text format keeps."""
    import unicodedata
    for lab in strings:
        bad = [ch for ch in lab if unicodedata.category(ch) in ("Cc", "Cs")]
        if bad:
            raise ValueError(f"{name}: {what} {lab!r} cannot be written to {fmt}: it contains "
                             f"control characters {bad[:3]}")


def check_writable_labels(labels, name, fmt):
    """Labels must be non-blank and free of control characters to be written and read back."""
    check_writable_strings(labels, name, fmt)
    blank = [k for k, lab in enumerate(labels) if not lab.strip()]
    if blank:
        raise ValueError(f"{name}: empty labels at region indices {blank[:10]} cannot be "
                         f"written to {fmt} (readers refuse missing labels)")


def check_text_labels(labels, name, fmt):
    """Labels written to whitespace/text formats may not contain whitespace or be empty."""
    check_writable_strings(labels, name, fmt)
    for lab in labels:
        if not lab or any(ch.isspace() for ch in lab):
            raise ValueError(f"{name}: label {lab!r} cannot be written to {fmt} (labels there "
                             f"are whitespace-separated; rename regions without whitespace)")


def check_overwrite(path, overwrite):
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")


def format_row(values):
    return " ".join(FLOAT_FMT % v for v in values)


def format_matrix(mat):
    return "\n".join(format_row(row) for row in np.asarray(mat, dtype=float)) + "\n"


def writable_target(path, overwrite, conn=None, fmt=None):
    """The output path of a writer, after checking that it may be written.

    Refuses an existing file without ``overwrite``, a folder, and a dangling symbolic link
    (writing would create the file it points to, anywhere). With ``conn``, also checks that
    the connectome's labels, name and frame can be stored in ``fmt``. Writers then replace
    their files all at once with :func:`rate_bridge.adapters._files.commit`.
    """
    path = as_path(path)
    if path.is_symlink() and not path.exists():
        raise ValueError(f"{path}: is a dangling symbolic link (to {os.readlink(path)}); "
                         f"refusing to write through it; remove the link or choose another "
                         f"path")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; expected a file name to write")
    check_overwrite(path, overwrite)
    if conn is not None:
        check_writable_labels(conn.labels, path, fmt)
        check_writable_strings([conn.name, conn.coord_frame], path, fmt, "string")
    return path
