import os
import tempfile

import matplotlib
import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable

matplotlib.use("Agg")
# kernels compiled by the tests go to the user cache (reused across runs) unless told otherwise
os.environ.setdefault("RATE_BRIDGE_CACHE", os.path.join(
    os.path.expanduser("~"), ".cache", "rate_bridge", "kernels"))


@pytest.fixture
def write_yaml(tmp_path):
    """Write a YAML text to a file in a temporary folder and return its path."""
    def _write(text, name="model.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


# -- canonical model structures ------------------------------------------------------------------
# One numba kernel is compiled per model *structure* (templates, couplings, integrator, parallel
# mode) and costs seconds; sizes, parameters, weights, delays, noise, inputs, records and seeds
# are run-time values. The suite shares these structures, each with the integrators listed, so
# that a cold run compiles few kernels. A test that must simulate reuses one of them (any size,
# any values); a structure of its own only where the feature under test is structural.
#
#   oscillator                        euler, heun, rk4
#   sde_network                       euler_maruyama, heun_stochastic
#   leaky_network (linear n.x->n.I)   euler, heun; heun with parallel="regions"
#   "jansen_rit" circuit              heun
#   jr_network (declared coupling)    heun
#   kuramoto_network (declared)       rk4
#   "wilson_cowan", "montbrio"        rk4
# Structures of a feature: the mixed Wilson-Cowan/Kuramoto network (rk4), the composite circuit
# of test_templates.py (sub-circuits and an edge operator, rk4), the README's model (heun) and
# the 400-term model of test_security_codegen.py (rk4).


def _circuit(name, equations, variables):
    return Circuit(name, {"n": Node("n", [Operator(name + "_op", equations, variables)])})


@pytest.fixture(scope="session")
def oscillator():
    """Damped harmonic oscillator ``x'' = -w^2 x - 2 z w x'`` from x = 1, v = x' = 0 (w = 20
    rad/s, z = 0.1; exact solution: the ``oscillator_exact`` fixture). Do not mutate it: use
    ``.copy()`` first."""
    return _circuit("osc", ["d/dt * x = v", "d/dt * v = -w**2 * x - 2 * z * w * v"],
                    {"x": Variable("state", 1.0), "v": Variable("state", 0.0),
                     "w": Variable("parameter", 20.0), "z": Variable("parameter", 0.1)})


@pytest.fixture(scope="session")
def oscillator_exact():
    """``f(t, w=20, z=0.1)``: x(t) of the oscillator fixture (underdamped)."""
    def exact(t, w=20.0, z=0.1):
        wd = w * np.sqrt(1 - z ** 2)
        return np.exp(-z * w * t) * (np.cos(wd * t) + z * w / wd * np.sin(wd * t))
    return exact


def sde_network_of(n):
    """``n`` uncoupled regions (n = 1: the single circuit's kernel) with two independent
    states for noise tests: ``x`` an Ornstein-Uhlenbeck process under additive noise
    (``dx = -x / tau dt + s dW``, tau = 50 ms, x(0) = 0) and ``y`` a geometric Brownian
    motion under multiplicative noise (``dy = mu y dt + s y dW``, mu = 0.5, y(0) = 1). Also
    used by cuda_sim_check.py."""
    circuit = _circuit("sde", ["d/dt * x = -x / tau", "d/dt * y = mu * y"],
                       {"x": Variable("state", 0.0), "y": Variable("state", 1.0, noise="y"),
                        "tau": Variable("parameter", 0.05), "mu": Variable("parameter", 0.5)})
    return rb.Network.from_arrays(np.zeros((n, n)), circuit)


@pytest.fixture(scope="session")
def sde_network():
    """Factory of the noise tests' networks: :func:`sde_network_of`."""
    return sde_network_of


@pytest.fixture(scope="session")
def leaky_network():
    """Factory of leaky-integrator networks ``dx/dt = (-x + I) / tau`` (tau = 10 ms) coupled
    linearly ``I_i = G sum_j w_ij x_j(t - d_ij)``, any size (zero weights allowed), on one
    kernel per integrator."""
    circuit = _circuit("leaky", ["d/dt * x = (-x + I) / tau"],
                       {"x": Variable("state"), "I": Variable("input"),
                        "tau": Variable("parameter", 0.01)})

    def make(weights, **kw):
        kw.setdefault("allow_negative", True)
        return rb.Network.from_arrays(weights, circuit.copy(), coupling=("n.x", "n.I"), **kw)
    return make


@pytest.fixture(scope="session")
def jr_network():
    """Factory of Jansen-Rit networks with the template's declared coupling (the sigmoid of
    the delayed ``pc.v`` onto ``pc.m_in_e``), any size (zero weights allowed)."""

    def make(weights, **kw):
        return rb.Network.from_arrays(weights, "jansen_rit", coupling=("pc.v", "pc.m_in_e"),
                                      **kw)
    return make


@pytest.fixture(scope="session")
def kuramoto_network():
    """Factory of Kuramoto networks with the declared coupling ``sin(theta_j - theta_i)``, any
    size (zero weights allowed)."""

    def make(weights, **kw):
        return rb.Network.from_arrays(weights, "kuramoto", coupling=("osc.theta", "osc.c"), **kw)
    return make


@pytest.fixture(scope="session")
def tvb_connectivity_76():
    """tvb-data's 76-region connectome as (weights, tract_lengths, labels), or skip."""
    pytest.importorskip("tvb_data")
    import io
    import zipfile
    from pathlib import Path

    import tvb_data
    path = Path(tvb_data.__file__).parent / "connectivity" / "connectivity_76.zip"
    with zipfile.ZipFile(path) as zf:
        weights = np.loadtxt(io.BytesIO(zf.read("weights.txt")))
        lengths = np.loadtxt(io.BytesIO(zf.read("tract_lengths.txt")))
        labels = [line.split()[0] for line in zf.read("centres.txt").decode().splitlines()
                  if line.strip()]
    return weights, lengths, labels


del tempfile


def pytest_terminal_summary(terminalreporter):
    """Report how many kernel structures the session loaded (compiled or read from the cache):
    each new one costs seconds of compile on a cold cache."""
    import sys
    cache = sys.modules.get("rate_bridge.compile.cache")
    if cache is None:
        return
    ready = {key for module, _, key in cache._LOADED.values()
             if getattr(getattr(module, "run", None), "signatures", None)}
    if ready:
        terminalreporter.write_line(f"rate_bridge: {len(ready)} distinct kernel(s) compiled or "
                                    f"loaded in this process (folder {cache.cache_dir()})")
