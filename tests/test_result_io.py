"""Results saved and read back: Result.save / ResultBatch.save / rb.read_result (NetCDF-4).

No kernel is compiled here: results and monitor outputs are built directly."""
import configparser
import os
from pathlib import Path

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge import monitors as M
from rate_bridge.cli import _write_simulation
from rate_bridge.forward_models import ForwardModel

LABELS = ["lV1", "rA1 é", "中央", "🧠", "lV1"]          # unicode, and a repeated label


def _result(seed=0, diverged=True):
    """Two recorded variables (float64 and float32), NaN after a divergence, every kind of
    monitor output, provenance with nested dicts, tuples, arrays and numpy scalars."""
    rng = np.random.default_rng(seed)
    t = np.arange(40) * 2.5e-3
    v = rng.normal(size=(40, 5))
    y = rng.normal(size=(40, 5)).astype(np.float32)
    where = None
    if diverged:
        v[31:], y[31:] = np.nan, np.nan
        where = {"time": 0.0775, "step": 31, "region": "🧠", "variable": "pc.v"}
    prov = {"model": "jansen_rit", "seed": np.uint64(7), "dt": 1e-4, "sampling_rate": 400.0,
            "params": {"pc.u": [120.0, 150.5, 1e-300, -0.0, 220.0], "global_coupling": 0.1},
            "versions": {"rate_bridge": rb.__version__, "numba": "0.60"},
            "noise": {"pc.v": np.array([[1.0, 2.5]], dtype=np.float32)},
            "kernel": "ab12cd", "window": ("tukey", 0.25), "by_index": {3: "three"},
            "inf": np.inf, "nan": np.nan, "nested": {"a": {"b": [1, None, True, "ü"]}}}
    res = rb.Result(t, {"pc.v": v, "pc.y": y}, LABELS, {"pc.v": "mV", "pc.y": ""}, prov,
                    status="diverged" if diverged else "completed", diverged_at=where)
    res.monitors = _monitors(rng, t)
    return res


def _monitors(rng, t):
    import mne
    info = mne.create_info(["Cz", "Pz"], 400.0, "eeg")
    fm = ForwardModel(rng.normal(size=(2, 5)), info, [f"r{k}" for k in range(5)])
    mons = [M.Bold("pc.v", tr=0.05, constants={"tau": 1.5}),
            M.Covariance("pc.v", sampling_rate=200.0, start=0.01, mode="decimate"),
            M.Welch("pc.v", nperseg=8, noverlap=2, window=("tukey", 0.25)),
            M.Sensors("pc.v", gain=rng.normal(size=(3, 5)), name="raw_gain"),
            M.Sensors(None, gain=fm, sampling_rate=200.0, name="eeg")]
    cov = rng.normal(size=(5, 5))
    return {
        "bold": M.MonitorResult(mons[0], rng.normal(size=(2, 5)), LABELS, "1",
                                time=np.array([0.05, 0.1])),
        "fc": M.MonitorResult(mons[1], cov @ cov.T, LABELS, "mV", count=17,
                              mean=rng.normal(size=5)),
        "psd": M.MonitorResult(mons[2], rng.random((5, 5)), LABELS, "(mV)**2/Hz",
                               freqs=np.arange(5) * 50.0, segments=3),
        "raw_gain": M.MonitorResult(mons[3], rng.normal(size=(40, 3)), mons[3].channels, "mV",
                                    time=t),
        "eeg": M.MonitorResult(mons[4], rng.normal(size=(20, 2)), ["Cz", "Pz"], "V or T",
                               time=t[::2]),
    }


def assert_same(a, b):
    """Every field of two results equal: arrays bit for bit (NaN where NaN, same dtype)."""
    assert type(a) is type(b) and a.variables == b.variables
    assert a.labels == b.labels and a.units == b.units
    assert a.status == b.status and a.diverged_at == b.diverged_at
    np.testing.assert_array_equal(a.time, b.time)
    for name in a.variables:
        assert a[name].dtype == b[name].dtype
        np.testing.assert_array_equal(a[name], b[name])
    _assert_equal_values(a.provenance, b.provenance)
    assert list(a.monitors) == list(b.monitors)
    for name, ma in a.monitors.items():
        mb = b.monitors[name]
        assert type(ma.monitor) is type(mb.monitor)
        fields = set(vars(ma)) - {"monitor"}
        assert fields == set(vars(mb)) - {"monitor"}
        for key in fields:
            _assert_equal_values(getattr(ma, key), getattr(mb, key))
        state = {k: v for k, v in vars(ma.monitor).items() if k != "forward"}
        _assert_equal_values(state, {k: v for k, v in vars(mb.monitor).items()
                                     if k != "forward"})


def _assert_equal_values(x, y):
    assert type(x) is type(y), (x, y)
    if isinstance(x, np.ndarray):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)
    elif isinstance(x, dict):
        assert list(x) == list(y)
        for k in x:
            _assert_equal_values(x[k], y[k])
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            _assert_equal_values(u, v)
    elif isinstance(x, float) and np.isnan(x):
        assert np.isnan(y)
    else:
        assert x == y and str(x) == str(y)          # -0.0 stays -0.0


def _expected_provenance(res):
    """What reads back: numpy scalars as Python numbers, the rest as it was."""
    prov = dict(res.provenance)
    prov["seed"] = 7
    return prov


def test_result_round_trips_exactly(tmp_path):
    res = _result()
    path = res.save(tmp_path / "run.nc")
    assert path == tmp_path / "run.nc"
    back = rb.read_result(path)
    assert isinstance(back, rb.Result) and repr(back) == repr(res)
    res.provenance = _expected_provenance(res)
    assert_same(res, back)
    assert np.isnan(back["pc.v"][31:]).all() and np.isfinite(back["pc.v"][:31]).all()
    # the settings come back as a working monitor: same kernel tables, same derived values
    assert back.monitors["psd"].monitor.rows(1e-3, 1000, 5)["mon"] == \
        res.monitors["psd"].monitor.rows(1e-3, 1000, 5)["mon"]
    np.testing.assert_array_equal(back.monitors["fc"].fc, res.monitors["fc"].fc)
    # a Sensors monitor's ForwardModel is not stored; its gain and channels are
    assert back.monitors["eeg"].monitor.forward is None
    np.testing.assert_array_equal(back.monitors["eeg"].monitor.gain,
                                  res.monitors["eeg"].monitor.gain)
    assert back.monitors["eeg"].monitor.channels == ["Cz", "Pz"]
    assert not [p for p in tmp_path.iterdir() if p.name != "run.nc"]   # no temporary left


def test_saved_file_is_plain_netcdf(tmp_path):
    """The file is the to_xarray() Dataset: each monitor on its own named axis."""
    import xarray as xr
    res = _result(diverged=False)
    res.save(tmp_path / "run.nc")
    with xr.open_dataset(tmp_path / "run.nc") as ds:
        assert ds["pc_v"].dims == ("time", "region")
        assert list(ds["region"].values) == LABELS
        bold = [k for k, v in ds.data_vars.items() if v.attrs.get("rate_bridge_monitor")
                and '"bold"' in v.attrs["rate_bridge_monitor"]][0]
        assert ds[bold].dims == (f"{bold}_time", f"{bold}_label")
        np.testing.assert_array_equal(ds[f"{bold}_time"], [0.05, 0.1])
    # a Dataset built by hand keeps working with from_xarray
    assert_same(rb.Result.from_xarray(res.to_xarray()), rb.read_result(tmp_path / "run.nc"))


def test_variable_names_that_would_clash_are_kept_apart(tmp_path):
    t = np.arange(3.0)
    res = rb.Result(t, {"a.b": np.zeros((3, 1)), "a_b": np.ones((3, 1)),
                        "monitor_0.x": np.full((3, 1), 2.0)}, ["r"])
    res.save(tmp_path / "r.nc")
    back = rb.read_result(tmp_path / "r.nc")
    assert back.variables == res.variables
    for name in res.variables:
        np.testing.assert_array_equal(back[name], res[name])


def test_batch_round_trips_exactly(tmp_path):
    members = [_result(0, diverged=False), _result(1, diverged=True),
               rb.Result(np.arange(3) * 0.1, {"x.x": np.ones((3, 2))}, ["a", "b"],
                         status="interrupted")]
    batch = rb.ResultBatch(members)
    batch.save(tmp_path / "batch.nc")
    back = rb.read_result(tmp_path / "batch.nc")
    assert isinstance(back, rb.ResultBatch) and len(back) == 3
    assert back.status == ["completed", "diverged", "interrupted"]
    for a, b in zip(members, back):
        a.provenance = _expected_provenance(a) if "seed" in a.provenance else a.provenance
        assert_same(a, b)
    rb.ResultBatch().save(tmp_path / "empty.nc")
    assert rb.read_result(tmp_path / "empty.nc") == rb.ResultBatch()


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    first, second = _result(0), _result(1)
    path = first.save(tmp_path / "r.nc")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"r\.nc exists; pass overwrite=True"):
        second.save(path)
    with pytest.raises(FileExistsError, match=r"r\.nc exists"):
        rb.ResultBatch([second]).save(path)
    assert path.read_bytes() == before
    second.save(path, overwrite=True)
    assert_same(rb.read_result(path), rb.read_result(second.save(tmp_path / "s.nc")))
    with pytest.raises(TypeError, match="overwrite"):
        first.save(path, overwrite="yes")
    with pytest.raises(FileNotFoundError, match="folder of"):
        first.save(tmp_path / "missing" / "r.nc")


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = _result().save(tmp_path / "r.nc")
    before = path.read_bytes()
    bad = rb.Result(np.arange(2.0), {"x.x": np.zeros((2, 1), dtype=np.float16)}, ["r"])
    with pytest.raises(ValueError, match=r"cannot write .*r\.nc.*float16"):
        bad.save(path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_damaged_or_foreign_file_is_named(tmp_path):
    import xarray as xr
    path = _result().save(tmp_path / "r.nc")
    data = path.read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.nc cannot be read as a rate_bridge result"):
        rb.read_result(cut)
    text = tmp_path / "notes.nc"
    text.write_text("time,region\n1,2\n")
    with pytest.raises(ValueError, match=r"notes\.nc cannot be read"):
        rb.read_result(text)
    other = tmp_path / "other.nc"
    xr.Dataset({"temperature": ("x", np.arange(3.0))}).to_netcdf(other)
    with pytest.raises(ValueError, match=r"other\.nc cannot be read.*needs 'time'"):
        rb.read_result(other)
    res_ds = _result().to_xarray()
    res_ds.attrs["rate_bridge_format_version"] = 99
    res_ds.to_netcdf(tmp_path / "newer.nc")
    with pytest.raises(ValueError, match=r"newer\.nc cannot be read.*layout version 99 is "
                                         r"newer than this rate_bridge's \(1\)"):
        rb.read_result(tmp_path / "newer.nc")
    with pytest.raises(FileNotFoundError, match=r"nothere\.nc does not exist"):
        rb.read_result(tmp_path / "nothere.nc")
    with pytest.raises(TypeError, match="fname"):
        rb.read_result(3)


def test_netcdf_is_an_install_dependency():
    """The CLI's NetCDF output needs xarray and netCDF4 on a plain install (not test extras)."""
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    required = {line.split(">")[0].split("=")[0].strip().lower()
                for line in cfg["options"]["install_requires"].split("\n") if line.strip()}
    assert {"xarray", "netcdf4"} <= required


def test_cli_writes_a_result_without_forward_model(tmp_path, capsys):
    res = _result()
    out = tmp_path / "sub" / "sim.nc"
    _write_simulation(res, None, out, None, overwrite=False)
    assert f"wrote {out}" in capsys.readouterr().out
    back = rb.read_result(out)
    res.provenance = _expected_provenance(res)
    assert_same(res, back)
    with pytest.raises(FileExistsError):
        _write_simulation(res, None, out, None, overwrite=False)
    assert os.listdir(out.parent) == ["sim.nc"]
