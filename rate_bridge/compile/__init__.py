"""Compile a network: compute graph -> generated numba source -> cached kernel."""
from .cache import cache_dir, kernel_for
from .codegen import KernelSpec, generate
from .integrators import INTEGRATORS

__all__ = ["cache_dir", "kernel_for", "KernelSpec", "generate", "INTEGRATORS"]
