"""On-disk cache of generated kernels.

Each kernel's source is written once to ``<cache>/rb_kernel_<hash>.py`` (the hash covers the
structure, the package version and numba's version) and imported as a module; numba's
``cache=True`` then stores the machine code beside it, so a new process loads a compiled
kernel instead of compiling it again. The folder is ``$RATE_BRIDGE_CACHE`` or the user cache
folder (``~/.cache/rate_bridge/kernels``).

A damaged cache entry (a truncated or corrupt index ``.nbi`` or data ``.nbc`` file) is discarded
with a warning and the kernel compiled again; the module itself is executed from the source
generated in memory, never read back from the folder.
"""
import os
import sys
import time
import traceback
import types
from pathlib import Path

from ..utils import logger
from .codegen import generate
from .graph import structure_hash

_LOADED = {}


def cache_dir():
    """The folder holding generated kernels (created if needed)."""
    root = os.environ.get("RATE_BRIDGE_CACHE")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "rate_bridge" / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kernel_for(spec):
    """Return ``(module, source, key)`` of the compiled kernel for a KernelSpec."""
    import numba

    from .. import __version__
    text = spec.text()
    if text in _LOADED:
        return _LOADED[text]
    source = generate(spec)
    # keyed by the generated source itself: any change of the code generator makes a new kernel
    key = structure_hash(source, __version__, numba.__version__)
    name = f"rb_kernel_{key}"
    path = cache_dir() / f"{name}.py"
    if _read(path) != source:          # missing, truncated or changed: write it anew
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)   # atomic: concurrent processes never see half a file
    t0 = time.perf_counter()
    # executed from the verified source in memory, not re-read from the folder: what runs is
    # exactly what was generated (no .pyc to go stale or corrupt); numba finds its cache
    # beside the file named in the code objects
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    logger.debug(f"kernel {name} imported in {time.perf_counter() - t0:.3f} s from {path}")
    _LOADED[text] = (module, source, key)
    return _LOADED[text]


def _read(path):
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def compiled_entry(spec, args):
    """The kernel's entry point ``run`` compiled for the types of ``args`` (loaded from numba's
    cache when there), and the kernel's key.

    A cache entry numba cannot read (truncated or corrupt ``.nbi`` / ``.nbc`` files) is
    discarded with a warning, and the kernel compiled again.
    """
    import numba
    types_ = tuple(numba.typeof(a) for a in args)
    module, _, key = kernel_for(spec)
    if not module.run.signatures and not any(cache_dir().rglob(f"rb_kernel_{key}.run-*.nbi")):
        logger.info(f"compiling the kernel for {_summary(spec)} (first time only: a few "
                    f"seconds; later runs of this structure, any size, load it)")
    try:
        module.run.compile(types_)
    except Exception as err:
        if not _from_numba_cache(err):
            raise
        removed = _discard(key)
        logger.warning(f"the kernel cache entry rb_kernel_{key} in {cache_dir()} could not be "
                       f"read ({type(err).__name__}: {err!s:.100}); discarded {len(removed)} "
                       "file(s), compiling the kernel again")
        _LOADED.pop(spec.text(), None)
        module, _, key = kernel_for(spec)
        module.run.compile(types_)
    return module.run, key


def _summary(spec):
    """A structure in words: circuits, couplings, integrator, monitors."""
    names = sorted({flat.name for flat in spec.flats})
    words = [", ".join(names), f"{len(spec.couplings)} coupling(s)", spec.integrator]
    return " / ".join(words + ([" + ".join(spec.monitors) + " monitors"] if spec.monitors
                               else []))


def _from_numba_cache(err):
    """Whether ``err`` (or an error it was raised from) came from numba reading or writing its
    on-disk cache."""
    where = os.path.join("numba", "core", "caching.py")
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if any(frame.filename.endswith(where)
               for frame in traceback.extract_tb(err.__traceback__)):
            return True
        err = err.__cause__ or err.__context__
    return False


def _discard(key):
    """Delete numba's cached index and data files of kernel ``key``; return their paths."""
    removed = []
    for path in cache_dir().rglob(f"rb_kernel_{key}.*"):
        if path.suffix in (".nbi", ".nbc", ".pyc"):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
