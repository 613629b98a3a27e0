"""One vocabulary: regions (not nodes) in results, one way to check options and types, one
exception for an unknown name, and docstrings with every placeholder filled. No kernel is
compiled here: every error is raised before a simulation would start."""
import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.adapters import Connectome
from rate_bridge.model import UnknownModelNameError
from rate_bridge.utils import (UnknownNameError, check_known, check_option, docdict, fill_doc,
                               validate_type)


def _result():
    rng = np.random.default_rng(0)
    return rb.Result(np.arange(4) * 1e-3, {"pc.v": rng.normal(size=(4, 3)),
                                           "pc.y": rng.normal(size=(4, 3))},
                     ["lA", "lB", "rA"], {"pc.v": "mV", "pc.y": ""},
                     {"seed": np.uint64(7), "params": {"pc.u": 150.0}, "status": "completed"})


# -- regions ------------------------------------------------------------------------------------
def test_result_speaks_of_regions():
    res = _result()
    assert res.n_regions == 3 and "3 regions" in repr(res)
    with pytest.warns(DeprecationWarning, match="n_regions"):
        assert res.n_nodes == 3
    assert res.to_dataframe().columns.names == ["variable", "region"]
    long = res.to_dataframe(long=True)
    assert list(long.columns) == ["time", "region", "variable", "value"]
    # the tidy frame holds the same numbers as the arrays, region by region
    row = long[(long.region == "lB") & (long.variable == "pc.v")]
    np.testing.assert_array_equal(row.value, res["pc.v"][:, 1])
    pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert ds["pc_v"].dims == ("time", "region") and list(ds["region"].values) == res.labels


def test_netcdf_round_trip_and_the_former_node_dimension(tmp_path):
    pytest.importorskip("xarray")
    res = _result()
    res.to_xarray().to_netcdf(tmp_path / "new.nc")
    back = rb.read_result(tmp_path / "new.nc")
    assert back.labels == res.labels and back.units == res.units
    for name in res.variables:
        np.testing.assert_array_equal(back[name], res[name])
    assert back.provenance == {"seed": 7, "params": {"pc.u": 150.0}, "status": "completed"}
    # a file written before the rename: dimension "node", provenance as text attributes
    old = res.to_xarray().rename({"region": "node"})
    del old.attrs["rate_bridge_result"]
    old.to_netcdf(tmp_path / "old.nc")
    back = rb.read_result(tmp_path / "old.nc")
    assert back.labels == res.labels and back.status == "completed"
    np.testing.assert_array_equal(back["pc.y"], res["pc.y"])
    assert back.provenance["seed"] == "7"


def test_plot_takes_regions_and_still_nodes():
    res = _result()
    fig = res.plot(regions=["rA", 0])
    assert [len(a.lines) for a in fig.axes] == [2, 2]
    with pytest.warns(DeprecationWarning, match="regions="):
        fig = res.plot(nodes=[1])
    assert [len(a.lines) for a in fig.axes] == [1, 1]
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), res["pc.v"][:, 1])
    with pytest.raises(UnknownNameError, match="unknown region 'rB'; regions: 'lA', 'lB'"):
        res.plot(regions=["rB"])
    with pytest.raises(IndexError, match="out of range"):
        res.plot(regions=[3])
    with pytest.raises(TypeError, match="region must be a region label .* got float"):
        res.plot(regions=[1.0])


# -- unknown names ------------------------------------------------------------------------------
def _network():
    return rb.Network.from_circuit(rb.load_template("jansen_rit"))


def _conn():
    w = np.array([[0.0, 1.0], [2.0, 0.0]])
    return Connectome(w, np.ones((2, 2)), ["a", "b"])


UNKNOWN_NAMES = {
    "recorded variable": lambda: _result()["pc.nope"],
    "plotted region": lambda: _result().plot(regions=["nope"]),
    "network parameter": lambda: _network().set_parameter("pc.nope", 1.0),
    "network region": lambda: _network().set_parameter("pc.u", 1.0, regions=["nope"]),
    "circuit node": lambda: rb.load_template("jansen_rit").set_parameter("nope.u", 1.0),
    "circuit variable": lambda: rb.load_template("jansen_rit").set_parameter("nope", 1.0),
    "operator": lambda: rb.load_template("jansen_rit").replace_operator("pc", "nope", None),
    "template": lambda: rb.load_template("no_such_template"),
    "simulate record": lambda: rb.simulate(_network(), 0.01, 1e-4, record=["pc.nope"]),
    "simulate params": lambda: rb.simulate(_network(), 0.01, 1e-4, params={"pc.nope": 1.0}),
    "simulate state": lambda: rb.simulate(_network(), 0.01, 1e-4,
                                          initial_state={"pc.nope": 0.0}),
    "simulate noise": lambda: rb.simulate(_network(), 0.01, 1e-4, noise={"pc.nope": 1.0}),
    "connectome region": lambda: rb.adapters.select_regions(_conn(), ["nope"]),
    "montage": lambda: rb.forward_models.sensors.make_sensor_info("biosemi_64"),
    "helmet": lambda: rb.forward_models.meg.read_helmet("nope"),
}


@pytest.mark.parametrize("where", sorted(UNKNOWN_NAMES))
def test_an_unknown_name_raises_one_exception_everywhere(where):
    with pytest.raises(UnknownNameError) as info:
        UNKNOWN_NAMES[where]()
    err = info.value
    # both former exception types keep catching it, and the message is not repr-quoted
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    assert "nope" in str(err) or "no_such_template" in str(err) or "biosemi_64" in str(err)
    assert not str(err).startswith(('"', "'unknown", "\"unknown"))
    assert str(err) == err.args[0]


def test_unknown_names_in_a_model_are_model_errors_too(write_yaml):
    path = write_yaml("c: {kind: circuit, base: no_such_base}\n")
    with pytest.raises(UnknownModelNameError, match="unknown template 'no_such_base'") as info:
        rb.load_template(f"{path}:c")
    assert isinstance(info.value, rb.ModelError) and isinstance(info.value, KeyError)
    assert info.value.file is not None          # the model file is named
    with pytest.raises(UnknownModelNameError, match="unknown function 'expp'"):
        rb.model.parse_expression("expp(x)")


def test_check_known_message_names_what_and_suggests():
    with pytest.raises(UnknownNameError) as info:
        check_known("pc.vv", ["pc.v", "pc.u", "ein.v"], "variable", where="record: ")
    assert str(info.value) == ("record: unknown variable 'pc.vv' (did you mean 'pc.v', "
                               "'pc.u'?); variables: 'pc.v', 'pc.u', 'ein.v'")
    assert check_known("pc.v", ["pc.v"], "variable") == "pc.v"
    with pytest.raises(UnknownNameError, match=r"and 5 more"):
        check_known("x", [f"r{i}" for i in range(25)], "region")


# -- options and types --------------------------------------------------------------------------
def test_check_option_names_argument_choices_and_value():
    assert check_option("mode", "sum", ("mean", "sum")) == "sum"
    assert check_option("hemi", None, ("lh", "rh", None)) is None
    with pytest.raises(ValueError) as info:
        check_option("mode", "avg", ("mean", "sum"))
    assert str(info.value) == "mode must be 'mean' or 'sum', got 'avg'"
    with pytest.raises(ValueError, match="^kind must be one of 'mag', 'grad', 'both', got 1$"):
        check_option("kind", 1, ("mag", "grad", "both"))
    # unhashable and array values are refused with the same message, not a numpy error
    for bad in ([1], np.array(["mean", "sum"]), True):
        with pytest.raises(ValueError, match="mode must be 'mean' or 'sum', got"):
            check_option("mode", bad, ("mean", "sum"))
    with pytest.raises(rb.ModelError, match=r"time_unit must be .* \(in template 't'"):
        check_option("time_unit", "h", ("s", "ms"), error=rb.ModelError, template="t")


def test_validate_type_names_argument_expected_and_got():
    assert validate_type(3, "int", "n") == 3
    assert validate_type(np.int64(3), "int", "n") == 3
    assert validate_type(None, ("numeric", None), "x") is None
    with pytest.raises(TypeError, match="^n_jobs must be an int, got bool True$"):
        validate_type(True, "int", "n_jobs")
    with pytest.raises(TypeError, match="^speed must be a number or None, got str 'x'$"):
        validate_type("x", ("numeric", None), "speed")
    with pytest.raises(TypeError, match="^conn must be a Connectome, got list"):
        validate_type([], Connectome, "conn")
    with pytest.raises(TypeError, match="^fname must be a str or path-like, got int 3$"):
        validate_type(3, "path-like", "fname")
    with pytest.raises(TypeError, match=r"^n must be an int, got str 'a+\.\.\.a+'$") as info:
        validate_type("a" * 10_000, "int", "n")     # long values are cut, not printed whole
    assert len(str(info.value)) < 100


@pytest.mark.parametrize("call, error, message", [
    (lambda: rb.simulate(_network(), 0.01, 1e-4, parallel="threads"), ValueError,
     "parallel must be one of 'auto', 'batch', 'regions'.*, got 'threads'"),
    (lambda: rb.simulate(_network(), 0.01, 1e-4, integrator="midpoint"), ValueError,
     "integrator must be one of .*'euler'.*, got 'midpoint'"),
    (lambda: rb.simulate(_network(), 0.01, 1e-4, record_mode="max"), ValueError,
     "record_mode must be 'decimate' or 'average', got 'max'"),
    (lambda: rb.simulate(_network(), 0.01, 1e-4, sampling_rate="1k"), TypeError,
     "sampling_rate must be a number or None, got str '1k'"),
    (lambda: rb.simulate(_network(), 0.01, 1e-4, params=[{}, 3]), TypeError,
     r"params\[1\] must be a dict, got int 3"),
    (lambda: rb.adapters.normalise(_conn(), "l2"), ValueError,
     "method must be one of 'max', 'row_sum', 'spectral_radius', got 'l2'"),
    (lambda: rb.adapters.write_connectome(_conn(), "x.npz", fmt="xls"), ValueError,
     "fmt must be one of .* or None, got 'xls'"),
    (lambda: rb.Network.from_connectome([[0.0]], "jansen_rit"), TypeError,
     "connectome must be a Connectome .* got list"),
    (lambda: rb.set_log_level("loud"), ValueError, "verbose must be one of .*got 'loud'"),
    (lambda: rb.set_log_level([1]), TypeError, "verbose must be a bool, a str, an int or None"),
])
def test_options_and_types_are_checked_one_way(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- docstrings ---------------------------------------------------------------------------------
def _public_objects():
    """Every public function, class, method and property of the package's modules."""
    seen, out = set(), []
    modules = [rb] + [importlib.import_module(m.name) for m in
                      pkgutil.walk_packages(rb.__path__, "rate_bridge.")
                      if not any(p.startswith("_") for p in m.name.split("."))]
    for module in modules:
        out.append((module.__name__, module))
        for name, obj in vars(module).items():
            if name.startswith("_") or id(obj) in seen:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or \
                    not getattr(obj, "__module__", "").startswith("rate_bridge"):
                continue
            seen.add(id(obj))
            qualname = f"{obj.__module__}.{obj.__qualname__}"
            out.append((qualname, obj))
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__init__":
                        continue
                    member = getattr(member, "__func__", member)        # class/staticmethod
                    if isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        out.append((f"{qualname}.{attr}", member))
    return out


def test_no_docstring_placeholder_reaches_a_user():
    objects = _public_objects()
    names = {n for n, _ in objects}
    # the walk reaches the public API of every sub-package, methods included
    assert {"rate_bridge.simulate.simulate", "rate_bridge.sweep.sweep",
            "rate_bridge.network.Network.from_arrays", "rate_bridge.result.Result.n_nodes",
            "rate_bridge.adapters.io.read_connectome",
            "rate_bridge.forward_models.model.ForwardModel.to_raw",
            "rate_bridge.model.loader.load_template"} <= names
    left = [n for n, obj in objects if "%(" in (inspect.getdoc(obj) or "")]
    assert not left, f"docstring placeholders left unfilled in {left}"
    # every function taking verbose= and documenting its parameters documents verbose
    undocumented = []
    for n, obj in objects:
        doc = obj.__doc__ or ""
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        if "verbose" in params and "Parameters" in doc and "verbose :" not in doc:
            undocumented.append(n)
    assert not undocumented, undocumented


def test_fill_doc_indents_entries_and_refuses_unknown_keys():
    def f(verbose=None):
        """Do it.

        Parameters
        ----------
        %(verbose)s

        Notes
        -----
        100 % plain text.
        """
    doc = fill_doc(f).__doc__
    entry = docdict["verbose"].splitlines()
    assert f"\n        {entry[0]}\n        {entry[1]}\n" in doc
    assert "100 % plain text." in doc and "%(" not in doc

    def g():
        """%(no_such_entry)s"""
    with pytest.raises(KeyError, match="no_such_entry"):
        fill_doc(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rb.simulate.__doc__.count(entry[0]) == 1
