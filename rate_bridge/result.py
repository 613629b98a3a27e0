"""Simulation results: recorded time series with labels, units and provenance.

Vocabulary: a *region* is one circuit of the network (a row of the connectome); a *node* is a
population inside a circuit (``"pc"`` in ``"pc.v"``). Results are indexed by region.
"""
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .adapters._files import temp_beside
from .utils import UnknownNameError, check_option, region_indices, validate_type

#: the region dimension/column of :meth:`Result.to_xarray` and :meth:`Result.to_dataframe`
#: (``"node"`` in files written by earlier versions, still read by :meth:`Result.from_xarray`)
REGION_DIM, _OLD_REGION_DIM = "region", "node"
STATUSES = ("completed", "diverged", "interrupted")


class Result:
    """Recorded variables of one simulation.

    Parameters
    ----------
    time : ndarray, shape (n_times,)
        Sample times in seconds.
    data : dict of str -> ndarray, shape (n_times, n_regions)
        Recorded variables by qualified name (``"pc.v"``).
    labels : list of str
        One label per region of the simulated network.
    units : dict of str -> str
        Unit of each recorded variable, as declared by its template.
    provenance : dict
        Model, parameters, integrator, dt, seed and package versions of the run.
    status : {"completed", "diverged", "interrupted"}
        How the run ended: samples after a divergence or an interruption are NaN.
    diverged_at : dict | None
        Where a diverged run's state became NaN or infinite: ``time`` (s), ``step``,
        ``region``, ``variable``.

    Attributes
    ----------
    monitors : dict of str -> MonitorResult
        What the run's streaming monitors kept (:mod:`rate_bridge.monitors`), by name, each
        with its own axis (``time`` in s, or ``freqs`` in Hz).

    Notes
    -----
    ``res["pc.v"]`` is an array of shape ``(n_times, n_regions)``; ``res.time`` is in seconds.
    ``res["bold"]`` is a monitor's data (``res.monitors["bold"].time`` its times).
    """

    def __init__(self, time, data, labels, units=None, provenance=None, status="completed",
                 diverged_at=None):
        check_option("status", status, STATUSES)
        self.status, self.diverged_at = status, diverged_at
        self.time = np.asarray(time, dtype=float)
        self._data = {k: np.asarray(v) for k, v in data.items()}
        self.labels = list(labels)
        self.units = dict(units or {})
        self.provenance = dict(provenance or {})
        self.monitors = {}
        for name, arr in self._data.items():
            if arr.shape != (len(self.time), len(self.labels)):
                raise ValueError(f"recorded variable {name!r} has shape {arr.shape}, expected "
                                 f"(n_times, n_regions) = ({len(self.time)}, {len(self.labels)})")

    # -- access ------------------------------------------------------------------------------
    @property
    def variables(self):
        """Names of the recorded variables."""
        return list(self._data)

    @property
    def sfreq(self):
        """Sampling rate of the recorded data in Hz."""
        if len(self.time) < 2:
            return float(self.provenance.get("sampling_rate", np.nan))
        return float(self.provenance.get("sampling_rate", 1.0 / (self.time[1] - self.time[0])))

    @property
    def n_regions(self):
        """Number of regions (columns of each recorded variable)."""
        return len(self.labels)

    @property
    def n_nodes(self):
        """Deprecated alias of :attr:`n_regions` (a node is a population inside a region)."""
        warnings.warn("Result.n_nodes is deprecated: use Result.n_regions (a node is a "
                      "population inside a region's circuit)", DeprecationWarning, stacklevel=2)
        return self.n_regions

    @property
    def data(self):
        """All recorded variables as one array of shape (n_times, n_regions, n_variables)."""
        return np.stack([self._data[k] for k in self.variables], axis=-1)

    def __getitem__(self, name):
        try:
            return self._data[name]
        except (KeyError, TypeError):
            if isinstance(name, str) and name in self.monitors:
                return self.monitors[name].data
            raise UnknownNameError(f"{name!r} was not recorded; recorded variables: "
                                   f"{self.variables}, monitors: {sorted(self.monitors)}. Pass "
                                   "record=[...] to simulate() to record it.") from None

    def __contains__(self, name):
        return name in self._data or name in self.monitors

    def __repr__(self):
        dur = self.time[-1] - self.time[0] if len(self.time) else 0.0
        ended = "" if self.status == "completed" else f", {self.status}"
        mons = f", monitors {sorted(self.monitors)}" if self.monitors else ""
        return (f"<Result | {len(self.time)} samples ({dur:.3g} s at {self.sfreq:g} Hz), "
                f"{self.n_regions} regions, variables {self.variables}{mons}{ended}>")

    # -- conversions -------------------------------------------------------------------------
    def to_dataframe(self, long=False):
        """Return a :class:`pandas.DataFrame`.

        Parameters
        ----------
        long : bool
            If False (default) one column per (variable, region) pair, indexed by time in
            seconds, with a two-level column index. If True a tidy frame with columns
            ``time, region, variable, value``.
        """
        import pandas as pd
        if long:
            frames = []
            for var in self.variables:
                arr = self._data[var]
                frames.append(pd.DataFrame({
                    "time": np.repeat(self.time, self.n_regions),
                    REGION_DIM: np.tile(self.labels, len(self.time)),
                    "variable": var, "value": arr.ravel()}))
            return pd.concat(frames, ignore_index=True)
        cols = pd.MultiIndex.from_tuples([(v, lab) for v in self.variables for lab in self.labels],
                                         names=["variable", REGION_DIM])
        values = np.concatenate([self._data[v] for v in self.variables], axis=1)
        return pd.DataFrame(values, index=pd.Index(self.time, name="time"), columns=cols)

    def to_xarray(self):
        """Return the whole result as an :class:`xarray.Dataset`.

        One variable per recorded name, dimensions ``(time, region)`` (``"pc.v"`` as
        ``pc_v``, its name and unit as attributes); each monitor's output as ``monitor_<i>``
        with its own axis (``monitor_<i>_time`` in s or ``monitor_<i>_freqs`` in Hz) and
        labels (``monitor_<i>_label``); provenance, status and monitor settings as JSON
        attributes. :meth:`save` writes it, :func:`read_result` reads it back.
        """
        import xarray as xr
        keys = _variable_keys(self.variables)
        variables = {keys[v]: (("time", REGION_DIM), self._data[v],
                               {"unit": self.units.get(v, ""), "name": v})
                     for v in self.variables}
        coords = {"time": ("time", self.time, {"unit": "s"}), REGION_DIM: self.labels}
        for i, mres in enumerate(self.monitors.values()):
            _monitor_variables(i, mres, variables, coords)
        ds = xr.Dataset(variables, coords)
        ds.attrs.update({k: str(v) for k, v in self.provenance.items()
                         if isinstance(k, str) and _ATTR_NAME.fullmatch(k)})
        ds.attrs["rate_bridge_result"] = _dumps(
            {"provenance": self.provenance, "status": self.status,
             "diverged_at": self.diverged_at, "units": self.units})
        ds.attrs.update({_FORMAT_ATTR: "result", _VERSION_ATTR: FILE_VERSION})
        return ds

    @classmethod
    def from_xarray(cls, dataset):
        """The Result a :meth:`to_xarray` Dataset holds (also one written with the former
        ``node`` dimension).

        Parameters
        ----------
        dataset : xarray.Dataset
            Variables of dimensions ``(time, region)``, each with its qualified ``name``
            and ``unit`` attributes, and the monitors :meth:`to_xarray` writes.

        Returns
        -------
        Result
        """
        import xarray as xr
        validate_type(dataset, xr.Dataset, "dataset")
        if _OLD_REGION_DIM in dataset.dims and REGION_DIM not in dataset.dims:
            dataset = dataset.rename({_OLD_REGION_DIM: REGION_DIM})
        for dim in ("time", REGION_DIM):
            if dim not in dataset.dims:
                raise ValueError(f"dataset has dimensions {sorted(dataset.dims)}: a Result "
                                 f"needs 'time' and {REGION_DIM!r}")
        data, units = {}, {}
        for key, var in dataset.data_vars.items():
            if _MONITOR_ATTR in var.attrs or _MONITOR_PART in var.attrs:
                continue
            if set(var.dims) != {"time", REGION_DIM}:
                raise ValueError(f"dataset variable {key!r} has dimensions {var.dims}; a "
                                 f"recorded variable has ('time', {REGION_DIM!r})")
            name = str(var.attrs.get("name", key))
            data[name] = var.transpose("time", REGION_DIM).values
            units[name] = str(var.attrs.get("unit", ""))
        attrs = dict(dataset.attrs)
        saved = _loads(attrs.pop("rate_bridge_result", "null")) or {
            "provenance": attrs, "status": attrs.get("status", "completed")}
        res = cls(dataset["time"].values, data, [str(x) for x in dataset[REGION_DIM].values],
                  saved.get("units", units), saved["provenance"], status=saved["status"],
                  diverged_at=saved.get("diverged_at"))
        res.monitors = _read_monitors(dataset)
        return res

    def save(self, fname, overwrite=False):
        """Save the result to a NetCDF-4 file (read back by :func:`read_result`).

        Everything round-trips exactly: the samples (NaN included) in their dtype, time,
        labels, units, status, ``diverged_at``, the provenance (nested dicts, lists, tuples,
        numpy arrays; numpy scalars come back as Python numbers, other objects as their text)
        and the monitors' outputs with their axes and settings (a Sensors monitor's
        ForwardModel is not stored: its gain matrix and channel names are). The file is the
        Dataset of :meth:`to_xarray`, readable by any NetCDF tool.

        Parameters
        ----------
        fname : path-like
            The file to write (``.nc`` by convention), written to a temporary file in the same
            folder first and then renamed, so an existing file is never left half written.
        overwrite : bool
            Replace an existing file; otherwise an existing ``fname`` raises FileExistsError.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        ds = self.to_xarray()
        return _write_atomic(fname, overwrite, lambda tmp: ds.to_netcdf(
            tmp, engine="netcdf4", encoding=_exact_encoding(ds)))

    def plot(self, variables=None, regions=None, ax=None, show=False, *, nodes=None):
        """Plot time series of recorded variables (one axis per variable).

        Parameters
        ----------
        variables : list of str | None
            Variables to plot; all recorded ones by default.
        regions : list of int | list of str | None
            Regions to plot, by index or label; at most the first 10 by default.
        ax : matplotlib Axes | array of Axes | None
            Axes to draw in (one per variable); a new figure by default.
        show : bool
            Show the figure.
        nodes : list of int | list of str | None
            Deprecated alias of ``regions``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        if nodes is not None:
            warnings.warn("Result.plot(nodes=...) is deprecated: use regions=...",
                          DeprecationWarning, stacklevel=2)
            regions = nodes if regions is None else regions
        variables = variables or self.variables
        for var in variables:
            self[var]                       # an unknown variable: named before drawing
        if regions is None:
            idx = list(range(min(self.n_regions, 10)))
        else:
            idx = list(region_indices(regions, self.labels))
        if ax is None:
            fig, axes = plt.subplots(len(variables), 1, sharex=True, squeeze=False,
                                     figsize=(8, 2.5 * len(variables)))
            axes = axes[:, 0]
        else:
            axes = np.atleast_1d(ax)
            fig = axes[0].figure
        for a, var in zip(axes, variables):
            a.plot(self.time, self[var][:, idx], lw=0.8)
            a.set_ylabel(f"{var} ({self.units.get(var) or 'a.u.'})")
            if len(idx) > 1 and len(idx) <= 10:
                a.legend([self.labels[i] for i in idx], fontsize="x-small", ncol=5)
        for a in axes[:len(variables)] if ax is not None else axes[-1:]:   # ours share x
            a.set_xlabel("time (s)")
        if show:
            plt.show()
        return fig


def read_result(fname):
    """Read a file written by :meth:`Result.save` or :meth:`ResultBatch.save` (also one
    written by ``result.to_xarray().to_netcdf(fname)`` or ``rate-bridge simulate`` without a
    forward model).

    Parameters
    ----------
    fname : path-like
        The NetCDF file.

    Returns
    -------
    Result | ResultBatch
        What the file holds: a ResultBatch for a file written by :meth:`ResultBatch.save`.
    """
    import xarray as xr
    path = Path(validate_type(fname, "path-like", "fname"))
    if not path.is_file():
        raise FileNotFoundError(f"result file {path} does not exist" if not path.exists()
                                else f"result file {path} is not a file")
    try:
        with xr.open_datatree(path, engine="netcdf4", **_EXACT_READ) as tree:
            version, kind = tree.attrs.get(_VERSION_ATTR, 1), tree.attrs.get(_FORMAT_ATTR)
            if int(version) > FILE_VERSION:
                raise ValueError(f"the file's layout version {version} is newer than this "
                                 f"rate_bridge's ({FILE_VERSION}): update rate_bridge")
            if kind == "batch":
                n = int(tree.attrs[_MEMBERS_ATTR])
                return ResultBatch(Result.from_xarray(tree[f"member{k}"].to_dataset().load())
                                   for k in range(n))
            return Result.from_xarray(tree.to_dataset().load())
    except Exception as err:        # a damaged or foreign file: name it, whatever broke
        raise ValueError(f"{path} cannot be read as a rate_bridge result file (expected a "
                         f"NetCDF-4 file written by Result.save or ResultBatch.save): "
                         f"{type(err).__name__}: {err}") from err


# -- files -------------------------------------------------------------------------------------
#: version of the file layout written by :meth:`Result.save` (root attribute)
FILE_VERSION = 1
_FORMAT_ATTR, _VERSION_ATTR, _MEMBERS_ATTR = ("rate_bridge_format", "rate_bridge_format_version",
                                              "rate_bridge_members")
_MONITOR_ATTR, _MONITOR_PART = "rate_bridge_monitor", "rate_bridge_monitor_part"
_ATTR_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
# raw values back: no fill-value masking, no time decoding (NaN samples stay NaN as written)
_EXACT_READ = dict(mask_and_scale=False, decode_times=False, decode_timedelta=False)


def _write_atomic(fname, overwrite, write):
    """``write(tmp)`` to a temporary file beside ``fname``, then rename it to ``fname``."""
    path = Path(validate_type(fname, "path-like", "fname"))
    validate_type(overwrite, bool, "overwrite")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give the name of the file to write")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of {path} does not exist")
    tmp = temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ValueError(f"cannot write {path}: {err}") from err
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _exact_encoding(ds):
    """No fill value on numeric variables: every number is stored as it is."""
    return {k: {"_FillValue": None} for k, v in ds.variables.items() if v.dtype.kind in "fiucb"}


def _variable_keys(names):
    """Dataset keys of recorded variables (``pc.v`` -> ``pc_v``), unique and not clashing with
    the coordinates or the monitors."""
    keys, used = {}, {"time", REGION_DIM}
    for k, name in enumerate(names):
        key = name.replace(".", "_")
        if key in used or not key or "/" in key or key.startswith("monitor_"):
            key = f"variable_{k}"
        keys[name] = key
        used.add(key)
    return keys


# what a MonitorResult holds besides its extras (count, mean, segments, ...)
_MONITOR_RESULT_FIELDS = ("monitor", "kind", "name", "data", "labels", "unit", "time", "freqs")


def _monitor_variables(i, mres, variables, coords):
    """Add monitor ``i``'s output, axis, labels and array settings to ``variables``/``coords``;
    its name, kind, unit and other settings go to a JSON attribute of its data."""
    key = f"monitor_{i}"
    data = np.asarray(mres.data)
    axis = "time" if mres.time is not None else "freqs" if mres.freqs is not None else None
    dims = [f"{key}_dim{d}" for d in range(data.ndim)]
    lab_dim = f"{key}_label"
    if data.ndim >= 2 and data.shape[-1] == len(mres.labels):
        dims[-1] = lab_dim
    coords[lab_dim] = (lab_dim, np.array(mres.labels, dtype=str))
    if axis is not None:
        values = np.asarray(getattr(mres, axis))
        ax_dim = f"{key}_{axis}"
        if data.ndim and data.shape[0] == len(values) and dims[0] != lab_dim:
            dims[0] = ax_dim
        coords[ax_dim] = (ax_dim, values, {"unit": "s" if axis == "time" else "Hz"})
    meta = {"name": mres.name, "kind": mres.kind, "unit": mres.unit, "axis": axis}
    for part, state in (("extra", {k: v for k, v in vars(mres).items()
                                   if k not in _MONITOR_RESULT_FIELDS}),
                        ("monitor", vars(mres.monitor))):
        meta[part], meta[f"{part}_arrays"], meta[f"{part}_order"] = {}, {}, list(state)
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                vkey = f"{key}_{part}_{len(meta[f'{part}_arrays'])}"
                variables[vkey] = ([f"{vkey}_dim{d}" for d in range(value.ndim)], value,
                                   {_MONITOR_PART: i})
                meta[f"{part}_arrays"][name] = vkey
            else:
                meta[part][name] = value
    # objects (a Sensors monitor's ForwardModel) are not stored: they read back as None
    variables[key] = (dims, data, {_MONITOR_ATTR: _dumps(meta, unknown=lambda v: None)})


def _read_monitors(ds):
    """``{name: MonitorResult}`` from the monitor variables of a :meth:`Result.to_xarray`
    Dataset, in their order."""
    from .monitors import Monitor, MonitorResult
    classes, todo = {}, [Monitor]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        classes.setdefault(cls.kind, cls)
    found = sorted((int(k.rsplit("_", 1)[1]), k) for k, v in ds.data_vars.items()
                   if _MONITOR_ATTR in v.attrs)
    out = {}
    for _, key in found:
        meta = _loads(ds[key].attrs[_MONITOR_ATTR])
        if meta["kind"] not in classes:
            raise ValueError(f"monitor {meta['name']!r} is of kind {meta['kind']!r}, not one "
                             f"of this version's kinds {sorted(k for k in classes if k)}")
        state = {}
        for part in ("extra", "monitor"):     # values, then arrays, in the saved order
            values = {**meta[part], **{n: ds[v].values for n, v in
                                       meta[f"{part}_arrays"].items()}}
            state[part] = {n: values[n] for n in meta[f"{part}_order"]}
        monitor = object.__new__(classes[meta["kind"]])     # its settings as saved
        monitor.__dict__.update(state["monitor"])
        axis = meta["axis"]
        axes = {axis: ds[f"{key}_{axis}"].values} if axis else {}
        out[meta["name"]] = MonitorResult(
            monitor, ds[key].values, [str(x) for x in ds[f"{key}_label"].values],
            meta["unit"], **axes, **state["extra"])
    return out


# -- JSON with numpy arrays, tuples and non-text keys ------------------------------------------
_TAGS = ("__ndarray__", "__tuple__", "__items__")


def _encode(value, unknown=str):
    """``value`` as plain JSON types, arrays, tuples and dicts with non-text keys tagged;
    numpy scalars as Python numbers; anything else ``unknown(value)``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return _encode(value.item(), unknown)
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _encode(value.tolist(), unknown), "dtype": value.dtype.str,
                "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, unknown) for v in value]}
    if isinstance(value, list):
        return [_encode(v, unknown) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in value):
            return {k: _encode(v, unknown) for k, v in value.items()}
        return {"__items__": [[_encode(k, unknown), _encode(v, unknown)]
                              for k, v in value.items()]}
    return unknown(value)


def _decode(obj):
    """json.loads object hook undoing :func:`_encode`'s tags."""
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=obj["dtype"]).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(obj["__tuple__"])
    if "__items__" in obj:
        return {k: v for k, v in obj["__items__"]}
    return obj


def _dumps(value, unknown=str):
    return json.dumps(_encode(value, unknown), allow_nan=True)


def _loads(text):
    return json.loads(text, object_hook=_decode)


class ResultBatch(list):
    """Results of a batch of parameter sets simulated in one call (a list of :class:`Result`)."""

    def stack(self, name):
        """Return one variable of every run as an array of shape (n_runs, n_times, n_regions)."""
        return np.stack([r[name] for r in self])

    @property
    def status(self):
        """How each run ended: ``"completed"``, ``"diverged"`` or ``"interrupted"``."""
        return [r.status for r in self]

    def save(self, fname, overwrite=False):
        """Save every run to one NetCDF-4 file (read back by :func:`read_result`).

        Member ``k`` is the group ``member<k>`` of the file, holding what
        :meth:`Result.save` writes for one result (members may differ in length, variables
        or monitors); the root group says how many there are.

        Parameters
        ----------
        fname : path-like
            The file to write (written to a temporary file beside it, then renamed).
        overwrite : bool
            Replace an existing file; otherwise an existing ``fname`` raises FileExistsError.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        import xarray as xr
        for k, res in enumerate(self):
            validate_type(res, Result, f"ResultBatch[{k}]")
        groups = {f"member{k}": res.to_xarray() for k, res in enumerate(self)}
        root = xr.Dataset(attrs={_FORMAT_ATTR: "batch", _VERSION_ATTR: FILE_VERSION,
                                 _MEMBERS_ATTR: len(self)})
        tree = xr.DataTree.from_dict({"/": root, **groups})
        encoding = {f"/{g}": _exact_encoding(ds) for g, ds in groups.items()}
        return _write_atomic(fname, overwrite, lambda tmp: tree.to_netcdf(
            tmp, engine="netcdf4", encoding=encoding))

    def __repr__(self):
        bad = {s: self.status.count(s) for s in ("diverged", "interrupted") if s in self.status}
        return (f"<ResultBatch | {len(self)} runs"
                + "".join(f", {n} {s}" for s, n in bad.items()) + ">")
