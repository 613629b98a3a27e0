"""The :class:`Connectome`: one structure every connectome reader produces and every writer takes."""
import numpy as np

from ._common import stem


class Connectome:
    """Structural connectivity of a set of brain regions.

    Parameters
    ----------
    weights : array-like, shape (n_regions, n_regions)
        Connection strengths, **target-major**: ``weights[target, source]`` is the strength of
        the connection from region ``source`` onto region ``target`` (TVB's convention).
    tract_lengths : array-like, shape (n_regions, n_regions) | None
        Tract lengths in mm, same ``[target, source]`` layout. ``None`` means no delays (zeros).
    labels : list of str | None
        Unique region labels; ``"r0", "r1", ...`` if None.
    centres : array-like, shape (n_regions, 3) | None
        Region centres in mm, in the frame named by ``coord_frame``.
    coord_frame : str
        Frame of ``centres``/``orientations`` (e.g. ``"mri"``, ``"mni_tal"``, ``"tvb"``, ``"unknown"``).
    hemispheres : array-like of bool, shape (n_regions,) | None
        True for right-hemisphere regions (TVB's convention).
    cortical : array-like of bool, shape (n_regions,) | None
        True for cortical regions.
    orientations : array-like, shape (n_regions, 3) | None
        Mean unit normal of each region (dipole orientation).
    areas : array-like, shape (n_regions,) | None
        Region areas in mm².
    name : str
        A name for the connectome (e.g. its file name).
    """

    def __init__(self, weights, tract_lengths=None, labels=None, centres=None, *,
                 coord_frame="unknown", hemispheres=None, cortical=None, orientations=None,
                 areas=None, name="connectome"):
        self.name = str(name)
        weights = _as_float_matrix(weights, "weights", self.name)
        n = weights.shape[0]
        if tract_lengths is None:
            tract_lengths = np.zeros((n, n))
        tract_lengths = _as_float_matrix(tract_lengths, "tract_lengths", self.name)
        if tract_lengths.shape != weights.shape:
            raise ValueError(f"{self.name}: tract_lengths has shape {tract_lengths.shape} but "
                             f"weights has shape {weights.shape}")
        if (tract_lengths < 0).any():
            i, j = np.argwhere(tract_lengths < 0)[0]
            raise ValueError(f"{self.name}: tract_lengths must be >= 0 mm, got "
                             f"{tract_lengths[i, j]} at [target={i}, source={j}]")
        if labels is None:
            labels = [f"r{i}" for i in range(n)]
        labels = [str(lab) for lab in labels]
        if len(labels) != n:
            raise ValueError(f"{self.name}: {len(labels)} labels for {n} regions")
        seen = set()
        dup = [lab for lab in labels if lab in seen or seen.add(lab)]
        if dup:
            raise ValueError(f"{self.name}: duplicated region labels {sorted(set(dup))}")
        self.weights = weights
        self.tract_lengths = tract_lengths
        self.labels = labels
        self.coord_frame = str(coord_frame)
        self.centres = _optional_array(centres, (n, 3), "centres", self.name)
        self.orientations = _optional_array(orientations, (n, 3), "orientations", self.name)
        self.areas = _optional_array(areas, (n,), "areas", self.name)
        self.hemispheres = _optional_array(hemispheres, (n,), "hemispheres", self.name, bool)
        self.cortical = _optional_array(cortical, (n,), "cortical", self.name, bool)

    @property
    def n_regions(self):
        return self.weights.shape[0]

    def __len__(self):
        return self.n_regions

    def __repr__(self):
        n_edges = int(np.count_nonzero(self.weights))
        return (f"<Connectome {self.name!r} | {self.n_regions} regions, {n_edges} edges, "
                f"frame {self.coord_frame!r}>")

    def delays(self, speed):
        """Per-edge conduction delays in seconds for a speed in m/s (= mm/ms).

        Returns ``tract_lengths [mm] / (speed [m/s] * 1000 [mm/m])``, shape (n, n),
        ``[target, source]``.
        """
        speed = float(speed)
        if not np.isfinite(speed) or speed <= 0:
            raise ValueError(f"speed must be a positive finite number in m/s, got {speed}")
        return self.tract_lengths / (speed * 1e3)

    def copy(self):
        import copy
        return copy.deepcopy(self)

    def equals(self, other, *, check_name=False):
        """True if ``other`` has exactly the same arrays, labels and frame (and name if asked).

        Floats are compared exactly (no tolerance); absent optional fields must be absent in
        both.
        """
        if not isinstance(other, Connectome):
            return False
        if self.labels != other.labels or self.coord_frame != other.coord_frame:
            return False
        if check_name and self.name != other.name:
            return False
        for key in ("weights", "tract_lengths", "centres", "orientations", "areas",
                    "hemispheres", "cortical"):
            a, b = getattr(self, key), getattr(other, key)
            if (a is None) != (b is None):
                return False
            if a is not None and (a.shape != b.shape or not np.array_equal(a, b)):
                return False
        return True

    # The convenience methods below import graph/operations inside their bodies: those modules
    # build Connectomes and import this one at module level, never the other way round
    # (tests/test_template_defaults.py checks the package has no import-time cycle).
    def to_networkx(self):
        """Directed graph with an edge ``source -> target`` per connection (see
        :func:`rate_bridge.adapters.to_networkx`)."""
        from .graph import to_networkx
        return to_networkx(self)

    def normalise(self, method="max"):
        """New connectome with normalised weights (``"max"``, ``"row_sum"``,
        ``"spectral_radius"``; see :func:`rate_bridge.adapters.normalise`)."""
        from .operations import normalise
        return normalise(self, method)

    def threshold(self, value=None, *, proportion=None):
        """New connectome without weak connections (see
        :func:`rate_bridge.adapters.threshold`)."""
        from .operations import threshold
        return threshold(self, value, proportion=proportion)

    def symmetrise(self, method="mean"):
        """New symmetric connectome (see :func:`rate_bridge.adapters.symmetrise`)."""
        from .operations import symmetrise
        return symmetrise(self, method)

    def select(self, regions):
        """New connectome of the given regions (labels or indices), in that order."""
        from .operations import select_regions
        return select_regions(self, regions)

    def plot(self, **kwargs):
        """Figure of weights and tract lengths (see
        :func:`rate_bridge.adapters.plot_connectome`)."""
        from .operations import plot_connectome
        return plot_connectome(self, **kwargs)


def build_connectome(source, **kwargs):
    """Create a :class:`Connectome` for a reader, its validation errors naming the file.

    Parameters
    ----------
    source : str | path-like
        The file (or folder) read; names the errors, and the connectome after its stem
        unless ``name`` is given.
    **kwargs
        Arguments of :class:`Connectome`.
    """
    name = kwargs.pop("name", None) or stem(source)
    try:
        conn = Connectome(name=str(source), **kwargs)
    except ValueError as err:
        raise ValueError(str(err)) from None
    conn.name = str(name)
    return conn


def _as_float_matrix(arr, what, name):
    try:
        arr = np.array(arr, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: {what} must be a numeric matrix ({err})") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name}: {what} must be a square (n_regions, n_regions) matrix, "
                         f"got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: {what} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {what} has {int(bad.sum())} NaN/inf entries, the first at "
                         f"[target={i}, source={j}]")
    return arr


def _optional_array(arr, shape, what, name, dtype=float):
    if arr is None:
        return None
    arr = np.array(arr, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name}: {what} must have shape {shape}, got {arr.shape}")
    if dtype is float and not np.isfinite(arr).all():
        raise ValueError(f"{name}: {what} contains NaN or inf")
    return arr
