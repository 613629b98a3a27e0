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
        return adapters.read_tvb_connectome(n_regions=int(spec.split(":", 1)[1]))
    return adapters.read_connectome(spec)


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
    result = simulate(net, sim.pop("duration"), sim.pop("dt"), params=cfg.get("params") or {},
                      noise=cfg.get("noise") or {}, verbose=verbose, **sim)
    fwd = cfg["forward"]
    if fwd.get("kind", "sphere") == "none":
        return result, None
    check_option("forward.kind", fwd.get("kind"), ("sphere", "none"), error=ConfigError)
    from . import forward_models
    fm = forward_models.from_sphere(conn, montage=fwd.get("montage", "biosemi64"))
    raw = fm.to_raw(result, signal=fwd.get("signal"), moment_scale=fwd.get("moment_scale"),
                    noise=fwd.get("noise"), reference=fwd.get("reference", "average"))
    return result, raw
