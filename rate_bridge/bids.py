"""Simulations as BIDS datasets, written through :mod:`mne_bids` (``pip install
rate_bridge[bids]``).

One call writes, under ``bids_root``:

- the sensor data (:meth:`ForwardModel.to_raw`) as a BIDS EEG, MEG or iEEG recording, with the
  sidecars mne-bids writes (channels, electrodes, coordinate system, events, scans,
  participants, dataset description);
- the ground-truth region time series as a derivative,
  ``derivatives/rate_bridge/sub-<label>/[ses-<label>/]<datatype>/<name>_desc-sources_timeseries.nc``
  (the whole :class:`~rate_bridge.Result`, read back exactly by :func:`rate_bridge.read_result`)
  with its JSON sidecar (``.json`` beside it) holding the simulation's full provenance (model,
  parameters, seed, kernel hash, network, forward model with a hash of its gain, projection,
  package versions) under the key ``"RateBridgeProvenance"``. The recording's own sidecar
  keeps to the keys BIDS defines (the bids-validator rejects others there): its
  ``TaskDescription`` and ``SoftwareVersions`` name rate_bridge and the provenance file.

Precision of the recording: EEG and iEEG are written as BrainVision, float32 in µV (relative
error <= 6e-8 of each sample, the BrainVision writer's format); MEG (with any EEG channels) as
FIF in float64, exactly.
"""
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from .utils import finite_number, validate_type

#: key of the provenance in the sources' JSON sidecar
PROVENANCE_KEY = "RateBridgeProvenance"
DERIVATIVE = "rate_bridge"


def _mne_bids():
    try:
        import mne_bids
    except ImportError:
        raise ImportError("writing BIDS needs mne-bids (and pybv for EEG/iEEG): pip install "
                          "'rate_bridge[bids]'") from None
    return mne_bids


def write_bids(fm, result, bids_root, subject, task, session=None, run=None, *, signal=None,
               moment_scale=None, reference="average", noise=None, events=None,
               event_id=None, random_state=None, line_freq=None, format="auto", space=None,
               overwrite=False):
    """Write a simulation as a BIDS dataset; see :meth:`ForwardModel.to_bids`."""
    mne_bids = _mne_bids()
    from .result import Result
    validate_type(result, Result, "result", "a rate_bridge Result")
    validate_type(overwrite, bool, "overwrite")
    line_freq = None if line_freq is None else finite_number(line_freq, "line_freq")
    datatype = _datatype(fm.info.get_channel_types())
    space, described = _space(fm.info, datatype, space)
    bids_path = mne_bids.BIDSPath(subject=subject, session=session, task=task, run=run,
                                  datatype=datatype, space=space, root=bids_root)
    format = _format(format, bids_path.datatype)
    sidecar = bids_path.copy().update(suffix=bids_path.datatype, extension=".json")
    paths = _derivative_paths(bids_path)
    if not overwrite:
        for path in [Path(sidecar.fpath), *paths.values()]:    # before writing anything
            if path.exists():
                raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    raw = fm.to_raw(result, signal, moment_scale, reference=reference, noise=noise,
                    events=events, event_id=event_id, random_state=random_state)
    raw.info["line_freq"] = line_freq
    if described:
        _frame_unknown(raw)
    bids_path = mne_bids.write_raw_bids(raw, bids_path, format=format, allow_preload=True,
                                        overwrite=overwrite, verbose=False)
    mne_bids.update_sidecar_json(sidecar, _sidecar_entries(fm, result, reference, bids_path),
                                 verbose=False)
    if described:
        coords = bids_path.copy().update(task=None, run=None, suffix="coordsystem",
                                         extension=".json")
        mne_bids.update_sidecar_json(coords, {"iEEGCoordinateSystemDescription": described},
                                     verbose=False)
    provenance = _provenance(fm, result, signal, moment_scale, reference, noise, bids_path)
    _write_sources(result, bids_path, paths, provenance, overwrite)
    return {"raw": bids_path, "sidecar": Path(sidecar.fpath), **paths}


def _datatype(channel_types):
    """BIDS datatype of the channels (as mne-bids decides it): MEG, else iEEG, else EEG."""
    types = set(channel_types)
    if types & {"mag", "grad"}:
        return "meg"
    if types & {"seeg", "ecog", "dbs"}:
        return "ieeg"
    return "eeg"


#: MNE frames of iEEG contacts that BIDS iEEG has no name for, written in space "Other"
_FRAMES = {"head": "MNE's head coordinates (m): x towards the right preauricular point, y "
                   "through the nasion, z up",
           "mri": "the subject's MRI surface RAS coordinates (FreeSurfer tkr-RAS, m)"}


def _space(info, datatype, space):
    """The BIDS space of the contacts, and a description when it is "Other"."""
    montage = info.get_montage()
    if datatype != "ieeg" or space is not None or montage is None:
        return space, None
    frame = montage.get_positions()["coord_frame"]
    return ("Other", _FRAMES[frame]) if frame in _FRAMES else (None, None)


def _frame_unknown(raw):
    """Mark the positions' frame unknown (mne-bids writes them as they are, in space
    "Other"; it relabels frames the same way itself)."""
    from mne.io.constants import FIFF
    with raw.info._unlock():
        for item in (*raw.info["chs"], *(raw.info["dig"] or [])):
            item["coord_frame"] = FIFF.FIFFV_COORD_UNKNOWN


def _format(format, datatype):
    """The file format mne-bids writes data held in memory as (it needs one named)."""
    allowed = {"meg": ("FIF",), "eeg": ("BrainVision", "EDF", "BDF", "EEGLAB"),
               "ieeg": ("BrainVision", "EDF", "EEGLAB")}[datatype]
    if format == "auto":
        return allowed[0]
    if format not in allowed:
        raise ValueError(f"format={format!r} cannot hold {datatype.upper()} data in BIDS; "
                         f"expected 'auto' or one of {list(allowed)}")
    return format


def _derivative_paths(bids_path):
    """The derivative's files: the sources (a Result) and their JSON sidecar."""
    root = Path(bids_path.root) / "derivatives" / DERIVATIVE
    base = bids_path.copy().update(root=root, suffix="timeseries", description="sources",
                                   extension=".nc", check=False)
    return {"sources": Path(base.fpath), "provenance": Path(base.fpath).with_suffix(".json")}


def _provenance(fm, result, signal, moment_scale, reference, noise, bids_path):
    """Everything needed to redo the simulation and its projection, as JSON values."""
    import mne

    from . import __version__
    meta = fm._moments_setup(result, signal, moment_scale, demean=True)[-1]
    return _json_safe({
        "simulation": {**result.provenance, "status": result.status,
                       "diverged_at": result.diverged_at, "regions": result.labels,
                       "variables": {v: result.units.get(v, "") for v in result.variables}},
        "forward_model": {"kind": fm.kind, "mode": fm.mode, "n_channels": len(fm.ch_names),
                          "channel_types": fm.ch_types, "regions": fm.labels,
                          "gain_sha256": hashlib.sha256(np.ascontiguousarray(
                              fm.gain, dtype="<f8").tobytes()).hexdigest(),
                          "provenance": fm.provenance},
        "projection": {**meta, "reference": reference,
                       "noise": None if noise is None else repr(noise)},
        "written_by": {"rate_bridge": __version__, "mne": mne.__version__,
                       "mne_bids": _mne_bids().__version__, "numpy": np.__version__},
    })


def _sidecar_entries(fm, result, reference, bids_path):
    """Standard keys of the recording's sidecar that say it is a simulation, and where its
    provenance is."""
    from . import __version__
    model = result.provenance.get("model", "unknown")
    where = _derivative_paths(bids_path)["provenance"].relative_to(bids_path.root).as_posix()
    entries = {"TaskDescription": f"Simulated with rate_bridge {__version__}: model {model}, "
                                  f"{result.n_regions} regions, lead field {fm.kind}/{fm.mode}; "
                                  f"full provenance in {where}",
               "Manufacturer": "rate_bridge (simulated data)",
               "SoftwareVersions": f"rate_bridge {__version__}"}
    # the reference applied to the data written ("projection" leaves it unapplied: n/a)
    if bids_path.datatype in ("eeg", "ieeg") and reference not in (None, "projection"):
        refs = reference if isinstance(reference, str) else ", ".join(reference)
        entries[f"{'EEG' if bids_path.datatype == 'eeg' else 'iEEG'}Reference"] = refs
    return entries


def _write_sources(result, bids_path, paths, provenance, overwrite):
    """The ground truth: the Result (NetCDF) and a BIDS-style JSON description."""
    from . import __version__
    root = Path(bids_path.root) / "derivatives" / DERIVATIVE
    paths["sources"].parent.mkdir(parents=True, exist_ok=True)
    description = root / "dataset_description.json"
    if not description.exists():
        from mne_bids.config import BIDS_VERSION
        _write_json(description, {
            "Name": "rate_bridge ground-truth sources", "BIDSVersion": BIDS_VERSION,
            "DatasetType": "derivative", "DatasetLinks": {"raw": "../../"},
            "GeneratedBy": [{"Name": "rate_bridge", "Version": __version__}]})
    result.save(paths["sources"], overwrite=overwrite)
    raw_uri = "bids:raw:" + Path(bids_path.fpath).relative_to(bids_path.root).as_posix()
    _write_json(paths["provenance"], {
        "Description": "Ground-truth region time series of the simulation that made the "
                       "recording (rate_bridge Result as NetCDF-4: rate_bridge.read_result "
                       "reads it back exactly)",
        "Sources": [raw_uri], "SamplingFrequency": result.sfreq,
        "StartTime": float(result.time[0]) if len(result.time) else 0.0,
        "Regions": result.labels,
        "Variables": {v: {"Units": result.units.get(v, "")} for v in result.variables},
        PROVENANCE_KEY: provenance})


def _write_json(path, content):
    Path(path).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def _json_safe(value):
    """Strict JSON values: arrays as lists, numpy scalars as numbers, NaN/inf as text, other
    objects as their text (BIDS JSON files must parse everywhere)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return str(value)
