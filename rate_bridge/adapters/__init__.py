"""Connectome and parcellation readers and writers (TVB zips, matrices, NetworkX, atlases, MNE)."""
from .connectome import Connectome

__all__ = ["Connectome"]
