"""Simulation results: recorded time series with labels, units and provenance.

Vocabulary: a *region* is one circuit of the network (a row of the connectome); a *node* is a
population inside a circuit (``"pc"`` in ``"pc.v"``). Results are indexed by region.
"""
import json
import warnings

import numpy as np

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
        """Return an :class:`xarray.Dataset`: one variable per recorded name, dimensions
        ``(time, region)``; ``ds.to_netcdf(fname)`` saves it, :func:`read_result` reads it back.
        """
        import xarray as xr
        ds = xr.Dataset(
            {v.replace(".", "_"): (("time", REGION_DIM), self._data[v],
                                   {"unit": self.units.get(v, ""), "name": v})
             for v in self.variables},
            coords={"time": ("time", self.time, {"unit": "s"}), REGION_DIM: self.labels})
        ds.attrs.update({k: str(v) for k, v in self.provenance.items()})
        ds.attrs["rate_bridge_result"] = json.dumps(
            {"provenance": self.provenance, "status": self.status,
             "diverged_at": self.diverged_at}, default=_json_default)
        return ds

    @classmethod
    def from_xarray(cls, dataset):
        """The Result a :meth:`to_xarray` Dataset holds (also one written with the former
        ``node`` dimension).

        Parameters
        ----------
        dataset : xarray.Dataset
            Variables of dimensions ``(time, region)``, each with its qualified ``name``
            and ``unit`` attributes.

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
            name = str(var.attrs.get("name", key))
            data[name] = var.transpose("time", REGION_DIM).values
            units[name] = str(var.attrs.get("unit", ""))
        attrs = dict(dataset.attrs)
        saved = json.loads(attrs.pop("rate_bridge_result", "null")) or {
            "provenance": attrs, "status": attrs.get("status", "completed")}
        return cls(dataset["time"].values, data, [str(x) for x in dataset[REGION_DIM].values],
                   units, saved["provenance"], status=saved["status"],
                   diverged_at=saved.get("diverged_at"))

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
            a.set_ylabel(f"{var} ({self.units.get(var, '')})")
            if len(idx) > 1 and len(idx) <= 10:
                a.legend([self.labels[i] for i in idx], fontsize="x-small", ncol=5)
        axes[-1].set_xlabel("time (s)")
        if show:
            plt.show()
        return fig


def read_result(fname):
    """Read a Result saved with ``result.to_xarray().to_netcdf(fname)`` (or by
    ``rate-bridge simulate`` without a forward model).

    Parameters
    ----------
    fname : str | path-like
        The netCDF file.

    Returns
    -------
    Result
    """
    import xarray as xr
    validate_type(fname, "path-like", "fname")
    with xr.open_dataset(fname) as ds:
        return Result.from_xarray(ds.load())


def _json_default(value):
    """numpy scalars and arrays as plain numbers and lists; anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class ResultBatch(list):
    """Results of a batch of parameter sets simulated in one call (a list of :class:`Result`)."""

    def stack(self, name):
        """Return one variable of every run as an array of shape (n_runs, n_times, n_regions)."""
        return np.stack([r[name] for r in self])

    @property
    def status(self):
        """How each run ended: ``"completed"``, ``"diverged"`` or ``"interrupted"``."""
        return [r.status for r in self]

    def __repr__(self):
        bad = {s: self.status.count(s) for s in ("diverged", "interrupted") if s in self.status}
        return (f"<ResultBatch | {len(self)} runs"
                + "".join(f", {n} {s}" for s, n in bad.items()) + ">")
