"""Connectome and parcellation readers and writers (TVB zips, matrices, NetworkX, atlases, MNE).

Every reader returns one :class:`Connectome` (``weights[target, source]``, tract lengths and
centres in mm) or :class:`Parcellation`; every writer takes one.

Files are treated as untrusted: a file, archive member or whole archive may expand to at most
2 GiB in memory (an eighth of that for text), checked on declared sizes before allocating and
on actual bytes while decompressing; set the environment variable
``RATE_BRIDGE_MAX_FILE_BYTES`` (bytes, e.g. ``8e9``) to change it. Links leaving a connectome
or surface folder are not followed. Writers never replace files without ``overwrite=True``,
refuse dangling links, and replace a set of files all at once.
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
