"""Lead fields and projection of simulated sources to EEG/MEG as MNE objects.

Build a :class:`ForwardModel` -- a region gain (n_sensors, n_regions) in V or T per A·m plus the
sensors' :class:`mne.Info` -- then turn results into MNE objects::

    fm = rb.forward_models.from_sphere(conn, montage="biosemi64")   # offline default
    raw = fm.to_raw(result, signal="pc.v", moment_scale=1e-8)        # mne.io.RawArray
    stc = fm.to_source_estimate(result, signal="pc.v", moment_scale=1e-8)

Builders: :func:`from_sphere` (spherical head), :func:`from_bem` (BEM from skull/scalp
surfaces), :func:`from_forward` (a user's mne.Forward + parcellation),
:func:`from_tvb_projection` (TVB's precomputed projection matrices), :func:`from_intracranial`
(sEEG/ECoG/DBS contacts), :func:`from_gain` (any matrix). ``fm.save(fname)`` and
:func:`read_forward_model` keep a model in a file. Units at this API: source moments A·m, EEG
and intracranial potentials V, MEG T (T/m for gradiometers), distances mm.
"""
from .model import ForwardModel, SourceMap, from_gain
from .sphere import from_sphere, default_eeg, make_sphere
from .sensors import make_sensor_info
from .meg import make_meg_info, helmet_names
from .surfaces import Surface, read_surface, remesh_radial, icosphere
from .placement import Placement, place_sources, fit_sphere, axes_matrix
from .signals import declared_observable, region_order
from .bem import from_bem, make_bem, fit_points_to_surface
from .user_forward import from_forward
from .tvb_projection import from_tvb_projection, read_tvb_head, TVBHead
from .viz import save_psd_topomap
from .analytic import sphere_dipole_potential
from .intracranial import from_intracranial, read_contacts, contacts_info, infinite_medium_gain
from .storage import read_forward_model


__all__ = [
    "ForwardModel", "SourceMap", "from_sphere", "default_eeg", "make_sphere",
    "make_sensor_info", "make_meg_info", "helmet_names", "Surface", "read_surface",
    "remesh_radial", "icosphere", "Placement", "place_sources", "fit_sphere", "axes_matrix",
    "declared_observable", "region_order", "from_bem", "make_bem", "fit_points_to_surface",
    "from_forward", "from_tvb_projection", "read_tvb_head", "TVBHead", "save_psd_topomap",
    "sphere_dipole_potential", "from_gain", "from_intracranial", "read_contacts",
    "contacts_info", "infinite_medium_gain", "read_forward_model",
]
