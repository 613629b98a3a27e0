"""Compile a network: compute graph -> generated numba source -> cached kernel."""
from . import abi
from .cache import cache_dir, kernel_for
from .codegen import KernelSpec, generate
from .integrators import INTEGRATORS

__all__ = ["abi", "cache_dir", "kernel_for", "KernelSpec", "generate", "INTEGRATORS"]
