"""On-disk cache of generated kernels.

Each kernel's source is written once to ``<cache>/rb_kernel_<hash>.py`` (the hash covers the
structure, the package version and numba's version) and imported as a module; numba's
``cache=True`` then stores the machine code beside it, so a new process loads a compiled
kernel instead of compiling it again. The folder is ``$RATE_BRIDGE_CACHE`` or the user cache
folder (``~/.cache/rate_bridge/kernels``).
"""
import importlib.util
import os
import sys
import time
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
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)   # atomic: concurrent processes never see half a file
    t0 = time.perf_counter()
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    logger.debug(f"kernel {name} imported in {time.perf_counter() - t0:.3f} s from {path}")
    _LOADED[text] = (module, source, key)
    return _LOADED[text]
