"""Safe file access for the adapters: bounded reads of untrusted files, all-or-nothing writes.

Connectomes, atlases and surfaces come from colleagues, papers and the internet, so every
reader takes its bytes through this module and one limit bounds what a file may cost:

* a file, or an archive member, may decompress to at most :func:`byte_limit` bytes, and all the
  members read from one archive or folder share that budget;
* text gets an eighth of it (:data:`TEXT_COST`): parsing text into numbers takes up to about
  8 bytes of memory per character;
* decompression is streamed and stops one chunk past the budget, so neither a zip header nor a
  gzip/bz2 stream that lies can make a reader take more; sizes declared in headers (zip entries,
  NumPy, NIfTI, GIFTI, FreeSurfer) are checked before anything is allocated.

The limit is :data:`MAX_BYTES` (2 GiB) unless the environment variable
``RATE_BRIDGE_MAX_FILE_BYTES`` holds another number of bytes (e.g. ``8e9`` for a genuinely huge
atlas). Refusals are ``ValueError("<file>[/<member>]: ...")`` and say how to raise the limit.

Folders are read only where the user pointed: a symbolic link in a folder that resolves outside
it is refused. Writers replace their files all at once (:func:`commit`).
"""
import bz2
import contextlib
import functools
import gzip
import math
import os
import secrets
import struct
import zipfile
import zlib
from pathlib import Path

#: Default number of bytes one file (or one archive, all members together) may expand to.
MAX_BYTES = 2 * 1024 ** 3
#: Environment variable that overrides :data:`MAX_BYTES` (a number of bytes).
LIMIT_ENV = "RATE_BRIDGE_MAX_FILE_BYTES"
#: Text files get ``limit // TEXT_COST`` bytes: parsed numbers take ~8 bytes per character.
TEXT_COST = 8
_CHUNK = 1 << 20
# errors with which zipfile, gzip, bz2, zlib, struct and numpy report a truncated/corrupt file
_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error,
            gzip.BadGzipFile, UnicodeDecodeError)


def byte_limit():
    """The limit in bytes: ``$RATE_BRIDGE_MAX_FILE_BYTES`` if set, else :data:`MAX_BYTES`."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return MAX_BYTES
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(f"environment variable {LIMIT_ENV}={raw!r}: expected a positive "
                         f"number of bytes (e.g. 4e9)")
    return int(value)


def _hint():
    return (f"; if the file is genuine, raise the limit with the environment variable "
            f"{LIMIT_ENV} (now {byte_limit()} bytes)")


class Budget:
    """Bytes one file, archive or folder may still expand to; members share it.

    Parameters
    ----------
    where : str | path-like
        The file or folder, for messages.
    text : bool
        Whether the data is text (gets ``limit // TEXT_COST``).
    """

    def __init__(self, where, text=False):
        self.where = where
        self.text = text
        self.limit = max(1, byte_limit() // TEXT_COST) if text else byte_limit()
        self.left = self.limit

    def exceeded(self, name, what="expands to"):
        kind = f" for text ({LIMIT_ENV} / {TEXT_COST})" if self.text else ""
        left = "" if self.left == self.limit else f"the {self.left} bytes left of "
        together = "" if str(name) == str(self.where) else f", shared by all of {self.where}"
        return ValueError(f"{name}: {what} more than {left}the limit of {self.limit} "
                          f"bytes{kind}{together}{_hint()}")

    def check(self, nbytes, name, what="declares"):
        """Refuse a declared size that does not fit what is left."""
        if nbytes > self.left:
            raise self.exceeded(name, f"{what} {nbytes} bytes,")

    def read(self, fobj, name):
        """All of ``fobj`` (bytes), refusing it one chunk past what is left."""
        chunks, total = [], 0
        try:
            while True:
                chunk = fobj.read(min(_CHUNK, self.left - total + 1))
                if not chunk:
                    break
                total += len(chunk)
                if total > self.left:
                    raise self.exceeded(name)
                chunks.append(chunk)
        except _CORRUPT + (OSError,) as err:
            raise corrupt(name, err) from None
        self.left -= total
        return b"".join(chunks)


def corrupt(name, err):
    """The ValueError for a truncated or corrupt file (``err``: what the library said)."""
    text = str(err).strip() or "no details"
    return ValueError(f"{name}: cannot decompress or read it, truncated or corrupt file "
                      f"({type(err).__name__}: {text})")


def check_alloc(nbytes, where, what):
    """Refuse to allocate ``nbytes`` for ``what`` when that is over the limit."""
    if nbytes > byte_limit():
        raise ValueError(f"{where}: {what} would need {int(nbytes)} bytes of memory, more "
                         f"than the limit of {byte_limit()} bytes{_hint()}")


def _decompressor(fobj, name):
    low = str(name).lower()
    if low.endswith(".gz"):
        return gzip.GzipFile(fileobj=fobj, mode="rb")
    if low.endswith(".bz2"):
        return bz2.BZ2File(fobj, mode="rb")
    return fobj


def read_file(path, *, text=False, budget=None, name=None):
    """Bytes of a file, decompressed if its name ends with ``.gz``/``.bz2``, within the limit.

    Parameters
    ----------
    path : path-like
        The file.
    text : bool
        Text gets ``limit // TEXT_COST`` (ignored when ``budget`` is given).
    budget : Budget | None
        Shared budget (a folder's); default a new one for this file.
    name : str | None
        Name for messages (default ``path``).
    """
    budget = budget or Budget(path, text)
    name = name or str(path)
    if not str(path).lower().endswith((".gz", ".bz2")):
        budget.check(os.stat(path).st_size, name, "holds")
    with open(path, "rb") as raw:
        return budget.read(_decompressor(raw, path), name)


def open_zip(path, what="zip archive"):
    """A :class:`zipfile.ZipFile`, or a ValueError naming ``path``."""
    try:
        return zipfile.ZipFile(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable {what}, truncated or corrupt ({err})"
                         ) from None


def read_member(zf, info, where, budget):
    """Bytes of one zip member (decompressed again if it is ``.gz``/``.bz2``).

    Its declared size is checked first, then the actual bytes are counted as they stream.
    """
    name = f"{where}/{info.filename}"
    budget.check(info.file_size, name)
    try:
        raw = zf.open(info)
    except (NotImplementedError, RuntimeError) as err:  # unknown method, encrypted member
        raise ValueError(f"{name}: cannot read this zip member ({err})") from None
    except _CORRUPT + (OSError,) as err:
        raise corrupt(name, err) from None
    with raw:
        return budget.read(_decompressor(raw, info.filename), name)


def inside(root, path):
    """``path`` after checking that it (followed through any link) stays inside ``root``."""
    try:
        real = Path(path).resolve(strict=True)
        top = Path(root).resolve(strict=True)
    except (OSError, RuntimeError) as err:  # dangling link, link loop
        raise ValueError(f"{path}: cannot be resolved ({err})") from None
    if real != top and top not in real.parents:
        raise ValueError(f"{path}: is a symbolic link to {real}, outside the folder {root}; "
                         f"links leaving the folder are not followed")
    return path


# ------------------------------------------------------------------------------- NumPy


def npy_from_bytes(data, name):
    """Array of a ``.npy`` held in ``data``; refuses pickles and truncated data by name."""
    import io

    import numpy as np
    fmt = np.lib.format
    fobj = io.BytesIO(data)
    try:
        version = fmt.read_magic(fobj)
        read_header = {(1, 0): fmt.read_array_header_1_0,
                       (2, 0): fmt.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read_header(fobj)
    except Exception as err:  # ValueError, SyntaxError, tokenize.TokenError, EOFError...
        raise ValueError(f"{name}: not a readable .npy array ({type(err).__name__}: "
                         f"{err})") from None
    if dtype.hasobject:
        raise ValueError(f"{name}: not a readable .npy array: it holds Python objects "
                         f"(pickles), which are not loaded for safety; store labels as a "
                         f"string array")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > len(data) - fobj.tell():
        raise ValueError(f"{name}: truncated .npy array: its header declares shape {shape} "
                         f"of {dtype} ({nbytes} bytes) but only {len(data) - fobj.tell()} "
                         f"bytes follow")
    fobj.seek(0)
    return np.load(fobj, allow_pickle=False)


def load_npy(path):
    """Array of a ``.npy`` file, within the limit."""
    return npy_from_bytes(read_file(path), str(path))


def load_npz(path):
    """``{key: array}`` of an ``.npz`` file; every member within the shared limit."""
    budget = Budget(path)
    with open_zip(path, ".npz file (zip archive)") as zf:
        out = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            data = read_member(zf, info, path, budget)
            out[key] = npy_from_bytes(data, f"{path}[{key!r}]")
    return out


# ------------------------------------------------------------------------------- errors


_LIBRARIES = {"nibabel", "numpy", "scipy", "networkx", "mne", "xml", "csv", "zipfile", "gzip",
              "bz2", "_compression", "struct", "io", "json"}


def _from_library(err):
    """Whether ``err`` was raised inside a third-party or stdlib reading library."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return module.split(".")[0] in _LIBRARIES


@contextlib.contextmanager
def reading(where):
    """Turn deep-library errors from a malformed file into a ValueError naming ``where``.

    FileNotFoundError, PermissionError and other specific OS errors pass unchanged, and so do
    errors raised by rate_bridge itself (they already name the file); a MemoryError gets a
    message.
    """
    from xml.parsers.expat import ExpatError
    try:
        yield
    except MemoryError:
        raise MemoryError(f"{where}: not enough memory to read this file (lower "
                          f"{LIMIT_ENV} to refuse such files early)") from None
    except _CORRUPT + (ExpatError,) as err:
        raise corrupt(where, err) from None
    except OSError as err:  # a plain one without errno: nibabel's "could the file be damaged"
        if type(err) is not OSError or err.errno is not None:
            raise
        raise corrupt(where, err) from None
    except Exception as err:  # nibabel's ImageFileError, numpy's reshape ValueError...
        if isinstance(err, (TypeError, ImportError)) or not _from_library(err):
            raise
        raise corrupt(where, err) from None


def reader(func):
    """Decorator for readers whose first argument is the file: see :func:`reading`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with reading(args[0] if args else kwargs.get("path")):
            return func(*args, **kwargs)
    return wrapper


# ------------------------------------------------------------------------------- writing


def temp_beside(path):
    """Name of a new hidden file next to ``path`` (never existing)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _write_temp(path, data):
    while True:
        tmp = temp_beside(path)
        try:  # O_EXCL: never reuse a name; mode 0o666 lets the umask decide, as open() does
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as fid:
                fid.write(data)
        except BaseException:
            tmp.unlink()
            raise
        return tmp


def commit(files, remove=()):
    """Write ``{path: bytes}`` and delete the paths in ``remove``, all or nothing.

    Every file is first written to a hidden temporary file beside its target; only when all
    are written are old files moved aside and the new ones renamed into place. If anything
    fails, the old files are put back and no temporary file is left. A link at a target is
    replaced by the new file, never written through.
    """
    files = {Path(p): (d.encode("utf-8") if isinstance(d, str) else d) for p, d in files.items()}
    temps, backups, placed = {}, {}, []
    try:
        for path, data in files.items():
            temps[path] = _write_temp(path, data)
        for path in list(files) + [Path(p) for p in remove]:
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(f"{path}: is a folder; cannot replace it by a file")
            if os.path.lexists(path):
                backups[path] = temp_beside(path)
                os.replace(path, backups[path])
        for path in files:
            os.replace(temps.pop(path), path)
            placed.append(path)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for path in placed:
            path.unlink(missing_ok=True)
        for path, bak in backups.items():
            os.replace(bak, path)
        raise
    for bak in backups.values():
        bak.unlink(missing_ok=True)
