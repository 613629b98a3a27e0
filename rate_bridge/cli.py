"""The ``rate-bridge`` command line."""
import argparse
import sys
import time
from pathlib import Path


def _value(text):
    """A ``--set`` value read as YAML (``1e-3`` is a number), or the text itself."""
    from .model import ModelError
    from .model.yamlio import loads_yaml
    try:
        return loads_yaml(text, name="--set value")
    except ModelError:
        return text


def _overrides(pairs):
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = _value(value)
    return out


def _refuse_existing(paths, overwrite):
    """Stop before any work if an output file exists and ``--overwrite`` was not given."""
    for path in paths:
        if not overwrite and (path.exists() or path.is_symlink()):
            raise FileExistsError(f"{path} exists; pass --overwrite to replace it")


def _simulate_outputs(args, cfg):
    """The files ``simulate`` writes: a NetCDF without forward model, else a FIF (and PNG)."""
    out = Path(args.output)
    if cfg["forward"].get("kind", "sphere") == "none":
        return out.with_suffix(".nc") if out.suffix == ".fif" else out, None
    if args.no_plot:
        return out, None
    return out, Path(args.png) if args.png else out.with_name(
        out.name.replace("_raw.fif", "").replace(".fif", "") + "_psd_topomap.png")


def cmd_simulate(args):
    from .config import load_config, run_config
    from .utils import set_log_level
    set_log_level("info" if not args.quiet else "warning")
    cfg = load_config(args.config, _overrides(args.set))
    out, png = _simulate_outputs(args, cfg)
    _refuse_existing([p for p in (out, png) if p is not None], args.overwrite)
    t0 = time.perf_counter()
    result, raw = run_config(cfg)
    _write_simulation(result, raw, out, png, args.overwrite)
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def _write_simulation(result, raw, out, png, overwrite):
    """``simulate``'s outputs: the Result as NetCDF (rb.read_result reads it) when there is no
    forward model, else the Raw as FIF and its PSD/topomap PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if raw is None:
        result.save(out, overwrite=overwrite)
        print(f"wrote {out}")
        return
    raw.save(out, overwrite=overwrite)
    print(f"wrote {out} ({len(raw.ch_names)} channels, {raw.times[-1]:.1f} s at "
          f"{raw.info['sfreq']:g} Hz)")
    if png is not None:
        from .forward_models import save_psd_topomap
        save_psd_topomap(raw, png)
        print(f"wrote {png}")


def _axis(text):
    """name=start:stop:num or name=v1,v2,..."""
    import numpy as np
    if "=" not in text:
        raise SystemExit(f"--param expects name=start:stop:num or name=v1,v2, got {text!r}")
    name, spec = text.split("=", 1)
    if ":" in spec:
        start, stop, num = spec.split(":")
        return name, np.linspace(float(start), float(stop), int(num))
    return name, [float(v) for v in spec.split(",")]


_SWEEP_EPILOG = """\
output: one CSV row per grid point, columns
  <each --param NAME>  the value of that axis at this point
  mean                 mean over time (after --skip) and regions of the first recorded
                       variable (simulation.record, e.g. pc.v), in its unit
  std                  its standard deviation over time, averaged over regions
  peak_hz              frequency (Hz) of the peak (above 0 Hz) of its Welch power spectrum
                       averaged over regions
  status               "completed", or "diverged" (features then empty)
Each point uses noise seed simulation.seed + its row number.

example:
  rate-bridge sweep --param pc.u=100:300:11 --param global_coupling=0,0.1 -o sweep.csv
"""


def cmd_sweep(args):
    from .config import build_connectome, load_config, regional_values
    from .network import Network
    from .utils import set_log_level
    set_log_level("info" if not args.quiet else "warning")
    cfg = load_config(args.config, _overrides(args.set))
    _refuse_existing([Path(args.output)], args.overwrite)
    if not args.param:
        raise SystemExit("rate-bridge sweep: give at least one --param NAME=START:STOP:NUM or "
                         "NAME=V1,V2,... (see rate-bridge sweep --help)")
    axes = dict(_axis(p) for p in args.param)
    conn = build_connectome(cfg["connectome"])
    cpl = cfg["coupling"]
    net = Network.from_connectome(conn, node=cfg["model"], coupling=(cpl["source"], cpl["target"]),
                                  coupling_function=cpl.get("function"),
                                  coupling_params=cpl.get("params"),
                                  global_coupling=cfg.get("global_coupling", 1.0),
                                  speed=cfg.get("speed"))
    from .sweep import grid
    base = regional_values(cfg.get("params"), conn, "params")
    design = [{**base, **d} for d in grid(**axes)]
    table = _sweep_with_progress(net, design, cfg, conn, args)
    table = table.drop(columns=[k for k in base if k not in axes])   # fixed, maybe per region
    table.to_csv(args.output, index=False)
    print(table.to_string(max_rows=20))
    print(f"wrote {args.output}")
    return 0


def _sweep_with_progress(net, design, cfg, conn, args):
    """Run the design batch by batch (``--batch-size`` members per kernel call), with a
    progress bar counting members; the table has one row per member."""
    import os

    import pandas as pd
    from mne.utils import ProgressBar

    from .config import regional_values
    from .sweep import summary_features, sweep
    sim = dict(cfg["simulation"])
    duration, dt, seed = sim.pop("duration"), sim.pop("dt"), sim.pop("seed", 0)
    variable = (sim.get("record") or list(net.initial_state))[0]   # recorded by default
    noise = regional_values(cfg.get("noise"), conn, "noise")
    size = args.batch_size or os.cpu_count() or 1
    if size < 1:
        raise ValueError(f"--batch-size must be a positive int, got {size}")
    bar = ProgressBar(len(design), mesg="sweep members") if not args.quiet else None
    tables = []
    for start in range(0, len(design), size):
        tables.append(sweep(net, design[start:start + size], duration, dt, batch_size=size,
                            seed=seed + start, noise=noise, verbose="warning",
                            reduce=lambda r: summary_features(r, variable, skip=args.skip),
                            **sim))
        if bar is not None:
            bar.update(start + len(tables[-1]))
    return pd.concat(tables, ignore_index=True)


def cmd_templates(args):
    """One line per shipped circuit template: the name load_template takes, what it is, where
    it comes from."""
    from .model import list_templates
    entries = list_templates()
    width = max(len(e["name"]) for e in entries)
    for e in entries:
        print(f"{e['name']:<{width}}  {e['description']}  [{e['reference']}]")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="rate-bridge",
        description="Rate-based neural simulation compiled with numba, with MNE forward models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("simulate", help="run a configuration (default: Jansen-Rit whole-brain "
                                        "network on 76 regions -> 64-channel EEG)")
    p.add_argument("config", nargs="?", help="YAML configuration (default: the packaged one; "
                                             "see `rate-bridge show-config`)")
    p.add_argument("-o", "--output", default="sim_raw.fif", help="output -raw.fif (default: "
                                                                  "%(default)s)")
    p.add_argument("--png", help="PSD + topomap PNG (default: next to the output)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a field, e.g. --set simulation.duration=2")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_simulate)
    s = sub.add_parser(
        "sweep", help="grid sweep of parameters, batched in one kernel",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Simulate the configuration's network at every point of a grid of\n"
                    "parameters (the product of the --param axes), several points per kernel\n"
                    "call, and write one CSV row of summary features per point.",
        epilog=_SWEEP_EPILOG)
    s.add_argument("config", nargs="?", help="YAML configuration (default: the packaged one; "
                                             "see `rate-bridge show-config`)")
    s.add_argument("--param", action="append", metavar="NAME=START:STOP:NUM",
                   help="an axis of the grid, repeatable: NAME=START:STOP:NUM (NUM values, "
                        "ends included) or NAME=V1,V2,...; NAME is a parameter "
                        "(pc.u), global_coupling or speed; e.g. --param pc.u=100:300:11 "
                        "--param global_coupling=0,0.1")
    s.add_argument("-o", "--output", default="sweep.csv",
                   help="output CSV (default: %(default)s; columns below)")
    s.add_argument("--batch-size", type=int, default=None,
                   help="points per kernel call, run in parallel; progress is shown after "
                        "each batch (default: the number of CPU cores)")
    s.add_argument("--skip", type=float, default=1.0,
                   help="initial transient left out of the features, in s (default: "
                        "%(default)s)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a configuration field, e.g. --set simulation.duration=5")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    s.add_argument("-q", "--quiet", action="store_true", help="no log and no progress bar")
    s.set_defaults(func=cmd_sweep)
    c = sub.add_parser("show-config", help="print the default configuration")
    c.set_defaults(func=lambda a: print(
        __import__("importlib.resources").resources.files("rate_bridge.data")
        .joinpath("default_config.yaml").read_text()) or 0)
    t = sub.add_parser("templates", help="list the shipped models: name, description, "
                                         "reference")
    t.set_defaults(func=cmd_templates)
    args = parser.parse_args(argv)
    from .config import ConfigError
    from .model import ModelError
    try:
        return args.func(args)
    except (ConfigError, ModelError, KeyError, ValueError, TypeError, FileNotFoundError,
            FileExistsError, ImportError) as err:
        print(f"rate-bridge: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rate-bridge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
