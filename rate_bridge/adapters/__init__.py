"""Connectome and parcellation readers and writers (TVB zips, matrices, NetworkX, atlases, MNE).

Every reader returns one :class:`Connectome` (``weights[target, source]``, tract lengths and
centres in mm) or :class:`Parcellation`; every writer takes one.
"""
from .connectome import Connectome
from .parcellation import Parcellation, combine_parcellations
from .io import read_connectome, write_connectome
from .tvb import (read_tvb, write_tvb, read_tvb_connectome, tvb_data_path,
                  hemispheres_from_labels)
from .matrix import read_matrix, write_npz, write_csv
from .graph import to_networkx, from_networkx, read_graphml, write_graphml
from .atlas import (read_parcellation, read_surface, read_tvb_parcellation, surface_geometry)
from .labels import (labels_to_parcellation, labels_to_connectome_regions,
                     connectome_to_labels, parcellation_to_labels)
from .operations import normalise, threshold, symmetrise, select_regions, plot_connectome

__all__ = [
    "Connectome", "Parcellation", "combine_parcellations",
    "read_connectome", "write_connectome",
    "read_tvb", "write_tvb", "read_tvb_connectome", "tvb_data_path", "hemispheres_from_labels",
    "read_matrix", "write_npz", "write_csv",
    "to_networkx", "from_networkx", "read_graphml", "write_graphml",
    "read_parcellation", "read_surface", "read_tvb_parcellation", "surface_geometry",
    "labels_to_parcellation", "labels_to_connectome_regions", "connectome_to_labels",
    "parcellation_to_labels",
    "normalise", "threshold", "symmetrise", "select_regions", "plot_connectome",
]
