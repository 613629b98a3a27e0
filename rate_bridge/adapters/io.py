"""Dispatch: :func:`read_connectome` / :func:`write_connectome` choose the format from the
path's extension (or the object's type)."""
from ..utils import check_option, validate_type, verbose
from . import _common as C
from .connectome import Connectome
from .graph import from_networkx, read_graphml, write_graphml
from .matrix import MATRIX_EXTS, read_matrix, write_csv, write_npz
from .tvb import read_tvb, write_tvb

READ_EXTS = (".zip", ".graphml") + MATRIX_EXTS
_WRITERS = {"tvb": write_tvb, "npz": write_npz, "csv": write_csv, "graphml": write_graphml}
_WRITE_EXTS = {".zip": "tvb", ".npz": "npz", ".csv": "csv", ".tsv": "csv",
               ".graphml": "graphml"}


@verbose
def read_connectome(source, *, verbose=None, **kwargs):
    """Read a connectome from any supported file, folder or object.

    Parameters
    ----------
    source : str | path-like | networkx.Graph | Connectome
        * ``.zip`` archive or folder: TVB connectivity (:func:`read_tvb`);
        * ``.npy``, ``.npz``, ``.mat``, ``.csv``, ``.tsv``, ``.txt`` (+ ``.gz``/``.bz2``):
          matrices (:func:`read_matrix`);
        * ``.graphml``: GraphML (:func:`read_graphml`);
        * a NetworkX graph (:func:`from_networkx`; edge ``u -> v`` = source u, target v);
        * a :class:`Connectome` (a copy is returned).
    %(verbose)s
    **kwargs
        Passed to the format's reader (e.g. ``tract_lengths=``, ``labels=`` for matrices,
        ``speed=`` for graphs with delays).

    Returns
    -------
    conn : Connectome
        ``weights[target, source]``, ``tract_lengths`` in mm, ``centres`` in mm.

    Raises
    ------
    ValueError
        Naming the file (and archive member) for malformed, truncated or corrupt input, and
        for files that expand past the size limit (2 GiB, text an eighth of it; set the
        environment variable ``RATE_BRIDGE_MAX_FILE_BYTES`` to change it).
    """
    import networkx as nx
    if isinstance(source, Connectome):
        return source.copy()
    if isinstance(source, nx.Graph):
        return from_networkx(source, **kwargs)
    path = C.as_path(source, "source")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory{_tvb_hint(path)}")
    if path.is_dir():
        return read_tvb(path, **kwargs)
    ext = C.suffixes(path)
    if ext == ".zip":
        return read_tvb(path, **kwargs)
    if ext == ".graphml":
        return read_graphml(path, **kwargs)
    if ext in MATRIX_EXTS:
        return read_matrix(path, **kwargs)
    raise ValueError(f"{path}: unknown connectome file extension {ext!r}; supported: "
                     f"{list(READ_EXTS)}, a TVB folder or a networkx graph")


def _tvb_hint(path):
    """Point to tvb-data when a missing file has the name of one of its files."""
    try:
        from .tvb import tvb_data_path
        found = tvb_data_path(path.name)
    except (ImportError, FileNotFoundError, ValueError):
        return ""
    return (f" (tvb-data ships {path.name}: read it with "
            f"rate_bridge.adapters.read_connectome(rate_bridge.adapters.tvb_data_path("
            f"{path.name!r})), i.e. {found})")


@verbose
def write_connectome(conn, path, *, fmt=None, overwrite=False, verbose=None):
    """Write a connectome; the format comes from the extension (or ``fmt``).

    Parameters
    ----------
    conn : Connectome
        The connectome.
    path : str | path-like
        ``.zip`` (TVB archive), ``.npz``, ``.csv``/``.tsv`` (plus side files for tract lengths
        and region data, see :func:`write_csv`) or ``.graphml``.
    fmt : None | "tvb" | "npz" | "csv" | "graphml"
        Force a format (``"tvb"`` with a path without ``.zip`` writes a TVB folder).
    overwrite : bool
        Replace existing files.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path | list of pathlib.Path
        What was written. Reading it back with :func:`read_connectome` gives identical arrays
        (floats are written with 17 significant digits).
    """
    validate_type(conn, Connectome, "conn")
    path = C.as_path(path)
    if fmt is None:
        ext = C.suffixes(path)
        fmt = _WRITE_EXTS.get(ext)
        if fmt is None:
            raise ValueError(f"{path}: unknown extension {ext!r} for writing a connectome; "
                             f"supported: {sorted(_WRITE_EXTS)} (or fmt='tvb' for a folder)")
    check_option("fmt", fmt, sorted(_WRITERS), extra=" or None")
    return _WRITERS[fmt](conn, path, overwrite=overwrite)
