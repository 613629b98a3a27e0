"""Simulation results: recorded time series with labels, units and provenance."""
import numpy as np


class Result:
    """Recorded variables of one simulation.

    Parameters
    ----------
    time : ndarray, shape (n_times,)
        Sample times in seconds.
    data : dict of str -> ndarray, shape (n_times, n_nodes)
        Recorded variables by qualified name (``"pc.v"``).
    labels : list of str
        One label per node (region) of the simulated network.
    units : dict of str -> str
        Unit of each recorded variable, as declared by its template.
    provenance : dict
        Model, parameters, integrator, dt, seed and package versions of the run.
    status : {"completed", "diverged", "interrupted"}
        How the run ended: samples after a divergence or an interruption are NaN.
    diverged_at : dict | None
        Where a diverged run's state became NaN or infinite: ``time`` (s), ``step``,
        ``region``, ``variable``.

    Notes
    -----
    ``res["pc.v"]`` is an array of shape ``(n_times, n_nodes)``; ``res.time`` is in seconds.
    """

    def __init__(self, time, data, labels, units=None, provenance=None, status="completed",
                 diverged_at=None):
        if status not in ("completed", "diverged", "interrupted"):
            raise ValueError(f"status must be 'completed', 'diverged' or 'interrupted', got "
                             f"{status!r}")
        self.status, self.diverged_at = status, diverged_at
        self.time = np.asarray(time, dtype=float)
        self._data = {k: np.asarray(v) for k, v in data.items()}
        self.labels = list(labels)
        self.units = dict(units or {})
        self.provenance = dict(provenance or {})
        for name, arr in self._data.items():
            if arr.shape != (len(self.time), len(self.labels)):
                raise ValueError(f"recorded variable {name!r} has shape {arr.shape}, expected "
                                 f"(n_times, n_nodes) = ({len(self.time)}, {len(self.labels)})")

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
    def n_nodes(self):
        return len(self.labels)

    @property
    def data(self):
        """All recorded variables as one array of shape (n_times, n_nodes, n_variables)."""
        return np.stack([self._data[k] for k in self.variables], axis=-1)

    def __getitem__(self, name):
        try:
            return self._data[name]
        except KeyError:
            raise KeyError(f"{name!r} was not recorded; recorded variables: {self.variables}. "
                           f"Pass record=[...] to simulate() to record it.") from None

    def __contains__(self, name):
        return name in self._data

    def __repr__(self):
        dur = self.time[-1] - self.time[0] if len(self.time) else 0.0
        ended = "" if self.status == "completed" else f", {self.status}"
        return (f"<Result | {len(self.time)} samples ({dur:.3g} s at {self.sfreq:g} Hz), "
                f"{self.n_nodes} nodes, variables {self.variables}{ended}>")

    # -- conversions -------------------------------------------------------------------------
    def to_dataframe(self, long=False):
        """Return a :class:`pandas.DataFrame`.

        Parameters
        ----------
        long : bool
            If False (default) one column per (variable, node) pair, indexed by time in seconds,
            with a two-level column index. If True a tidy frame with columns
            ``time, node, variable, value``.
        """
        import pandas as pd
        if long:
            frames = []
            for var in self.variables:
                arr = self._data[var]
                frames.append(pd.DataFrame({
                    "time": np.repeat(self.time, self.n_nodes),
                    "node": np.tile(self.labels, len(self.time)),
                    "variable": var, "value": arr.ravel()}))
            return pd.concat(frames, ignore_index=True)
        cols = pd.MultiIndex.from_tuples([(v, lab) for v in self.variables for lab in self.labels],
                                         names=["variable", "node"])
        values = np.concatenate([self._data[v] for v in self.variables], axis=1)
        return pd.DataFrame(values, index=pd.Index(self.time, name="time"), columns=cols)

    def to_xarray(self):
        """Return an :class:`xarray.Dataset` (one variable per recorded name, dims time x node)."""
        import xarray as xr
        ds = xr.Dataset(
            {v.replace(".", "_"): (("time", "node"), self._data[v],
                                   {"unit": self.units.get(v, ""), "name": v})
             for v in self.variables},
            coords={"time": ("time", self.time, {"unit": "s"}), "node": self.labels})
        ds.attrs.update({k: str(v) for k, v in self.provenance.items()})
        return ds

    def plot(self, variables=None, nodes=None, ax=None, show=False):
        """Plot time series of recorded variables (one axis per variable).

        Parameters
        ----------
        variables : list of str | None
            Variables to plot; all recorded ones by default.
        nodes : list of int | list of str | None
            Nodes to plot, by index or label; at most the first 10 by default.
        """
        import matplotlib.pyplot as plt
        variables = variables or self.variables
        if nodes is None:
            idx = list(range(min(self.n_nodes, 10)))
        else:
            idx = [self.labels.index(n) if isinstance(n, str) else int(n) for n in nodes]
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


class ResultBatch(list):
    """Results of a batch of parameter sets simulated in one call (a list of :class:`Result`)."""

    def stack(self, name):
        """Return one variable of every run as an array of shape (n_runs, n_times, n_nodes)."""
        return np.stack([r[name] for r in self])

    @property
    def status(self):
        """How each run ended: ``"completed"``, ``"diverged"`` or ``"interrupted"``."""
        return [r.status for r in self]

    def __repr__(self):
        bad = {s: self.status.count(s) for s in ("diverged", "interrupted") if s in self.status}
        return (f"<ResultBatch | {len(self)} runs"
                + "".join(f", {n} {s}" for s, n in bad.items()) + ">")
