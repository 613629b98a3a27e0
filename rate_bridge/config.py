"""Run configurations (YAML) for the command line: read, validate, run."""
import copy
from importlib import resources
from pathlib import Path

from .model import ModelError
from .model.loader import resolve_reference
from .model.yamlio import loads_yaml, read_yaml
from .utils import check_option, logger

_TOP = {"connectome", "model", "coupling", "global_coupling", "speed", "params", "noise",
        "simulation", "forward"}
_SIM = {"duration", "dt", "integrator", "seed", "sampling_rate", "record", "record_mode",
        "delay_mode"}
_FWD = {"kind", "montage", "signal", "moment_scale", "noise", "reference"}


class ConfigError(ValueError):
    """A run configuration is invalid; the message names the file and field."""


def default_config():
    """The packaged default configuration (a dict)."""
    text = resources.files("rate_bridge.data").joinpath("default_config.yaml").read_text()
    return loads_yaml(text, name="default_config.yaml")


def load_config(path=None, overrides=None):
    """Read a YAML configuration over the defaults and check its fields.

    Parameters
    ----------
    path : path-like | None
        YAML file; None for the default run. A ``model: path/file.yaml:Template`` in it is
        relative to the file's folder and, like references inside template files, may only
        reach that folder (and below) and the shipped library.
    overrides : dict | None
        Dotted keys to set after reading (``{"simulation.duration": 2.0}``).
    """
    cfg = default_config()
    where = "default configuration"
    if path is not None:
        where = str(path)
        try:
            user = read_yaml(path)
        except ModelError as err:
            raise ConfigError(f"{where}: {err.reason}") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{where}: a configuration is a mapping of fields")
        if isinstance(user.get("model"), str):
            try:
                user["model"] = resolve_reference(user["model"], Path(path).parent)
            except ModelError as err:
                raise ConfigError(f"{where}: model: {err.reason}") from None
        _merge(cfg, user)
    for key, value in (overrides or {}).items():
        node = cfg
        parts = key.split(".")
        if parts[0] in ("params", "noise") and len(parts) > 2:   # names hold dots: pc.u
            parts = [parts[0], ".".join(parts[1:])]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    _check(cfg, where)
    return cfg


def _merge(base, over):
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in (
                "params", "noise"):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _check(cfg, where):
    unknown = sorted(set(cfg) - _TOP)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_TOP)}")
    for section, allowed in (("simulation", _SIM), ("forward", _FWD)):
        if not isinstance(cfg.get(section), dict):
            raise ConfigError(f"{where}: '{section}' must be a mapping")
        unknown = sorted(set(cfg[section]) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {unknown} in '{section}'; allowed: "
                              f"{sorted(allowed)}")
    for key in ("duration", "dt"):
        value = cfg["simulation"].get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{where}: simulation.{key} must be a positive number of seconds, "
                              f"got {value!r}")
    cpl = cfg.get("coupling")
    if not isinstance(cpl, dict) or not {"source", "target"} <= set(cpl):
        raise ConfigError(f"{where}: 'coupling' needs 'source' and 'target'")


def build_connectome(spec):
    """``"tvb:76"`` (tvb-data) or a path to any connectome file."""
    from . import adapters
    if isinstance(spec, str) and spec.startswith("tvb:"):
        try:
            return adapters.read_tvb_connectome(n_regions=int(spec.split(":", 1)[1]))
        except ImportError as err:
            raise ImportError(f"connectome: {spec!r} needs tvb-data ({err}). Or use your own "
                              f"connectome: set 'connectome: path/to/file' in a configuration "
                              f"file (any format rate_bridge.adapters.read_connectome reads: "
                              f"TVB zip or folder, .npy/.npz/.mat/.csv/.tsv/.txt matrices, "
                              f".graphml), e.g. `rate-bridge simulate --set "
                              f"connectome=my_connectome.zip`; in Python, "
                              f"rb.Network.from_connectome(rb.adapters.read_connectome(path), "
                              f"node='jansen_rit', ...)") from None
    return adapters.read_connectome(spec)


def regional_values(values, conn, where="params"):
    """Resolve a ``params``/``noise`` mapping against a connectome: a value given as
    ``{anterior: a, posterior: p}`` becomes one value per region, linear in the region centre's
    anterior-posterior position (``a`` at the most anterior centre, ``p`` at the most posterior).

    Parameters
    ----------
    values : dict
        Name -> number, per-region list, or ``{anterior: a, posterior: p}``.
    conn : Connectome
        Its ``centres`` and ``coord_frame`` (or hemisphere flags) give the axis.
    where : str
        The configuration field, for error messages.

    Returns
    -------
    dict
    """
    out = {}
    for name, value in (values or {}).items():
        if not isinstance(value, dict):
            out[name] = value
            continue
        ends = [value.get(k) for k in ("anterior", "posterior")]
        if set(value) != {"anterior", "posterior"} or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in ends):
            raise ConfigError(f"{where}.{name}: a gradient is {{anterior: number, posterior: "
                              f"number}}, got {value!r}")
        if conn.centres is None:
            raise ConfigError(f"{where}.{name}: an anterior-posterior gradient needs region "
                              f"centres, and connectome {conn.name!r} has none")
        out[name] = (ends[0] + (ends[1] - ends[0]) * _posteriority(conn)).tolist()
    return out


def _posteriority(conn):
    """0 at the most anterior region centre, 1 at the most posterior (placement's axes)."""
    import numpy as np
    from .forward_models.placement import axes_matrix, infer_axes
    code, _ = infer_axes(conn.centres, conn.hemispheres, conn.coord_frame)
    y = (np.asarray(conn.centres, float) @ axes_matrix(code).T)[:, 1]     # RAS: +y anterior
    return (y.max() - y) / max(np.ptp(y), 1e-12)


def run_config(cfg, verbose=None):
    """Build the network, simulate, and (if configured) project to EEG.

    Returns
    -------
    result : Result
    raw : mne.io.RawArray | None
    """
    from .network import Network
    from .simulate import simulate
    conn = build_connectome(cfg["connectome"])
    cpl = cfg["coupling"]
    net = Network.from_connectome(conn, node=cfg["model"],
                                  coupling=(cpl["source"], cpl["target"]),
                                  coupling_function=cpl.get("function"),
                                  coupling_params=cpl.get("params"),
                                  global_coupling=cfg.get("global_coupling", 1.0),
                                  speed=cfg.get("speed"))
    sim = dict(cfg["simulation"])
    logger.info(f"simulating {net}")
    result = simulate(net, sim.pop("duration"), sim.pop("dt"),
                      params=regional_values(cfg.get("params"), conn, "params"),
                      noise=regional_values(cfg.get("noise"), conn, "noise"), verbose=verbose,
                      **sim)
    fwd = cfg["forward"]
    if fwd.get("kind", "sphere") == "none":
        return result, None
    check_option("forward.kind", fwd.get("kind"), ("sphere", "none"), error=ConfigError)
    from . import forward_models
    fm = forward_models.from_sphere(conn, montage=fwd.get("montage", "biosemi64"))
    raw = fm.to_raw(result, signal=fwd.get("signal"), moment_scale=fwd.get("moment_scale"),
                    noise=fwd.get("noise"), reference=fwd.get("reference", "average"))
    return result, raw
