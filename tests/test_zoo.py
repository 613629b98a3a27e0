"""The whole model zoo: every shipped circuit template loads, describes itself, declares units,
couplings, observables and references, and runs 1 s in a 3-region network without NaN.

Each template runs on the structure its own tests already compile (the declared couplings and
the integrator below), so this file adds a kernel only for the templates whose tests use lone
circuits (Montbrió, Wilson-Cowan).
"""
import numpy as np
import pytest

import rate_bridge as rb

#: integrator and step of each template's network in the suite (test_zoo_*.py: euler; the
#: conftest structures: jr_network heun, kuramoto_network rk4); qif_sfa needs dt <= 0.01 ms
RUNS = {"jansen_rit": ("heun", 1e-4), "kuramoto": ("rk4", 1e-4)}
EULER = ("euler", 1e-5)


def _circuits():
    found = []
    for file, names in rb.model.library_templates().items():
        for name in names:
            template = rb.load_template(f"{file}:{name}")
            if isinstance(template, rb.model.Circuit):
                found.append(name)
    return found


CIRCUITS = _circuits()


def test_the_zoo_holds_the_models_of_the_issue():
    assert {"jansen_rit", "montbrio", "wilson_cowan", "kuramoto", "reduced_wong_wang",
            "reduced_wong_wang_ei", "hopf", "generic_2d_oscillator", "fitzhugh_nagumo",
            "larter_breakspear", "epileptor", "zetterberg_jansen", "coombes_byrne",
            "qif_sfa"} <= set(CIRCUITS)


@pytest.mark.parametrize("name", CIRCUITS)
def test_every_template_declares_what_a_study_needs(name):
    circuit = rb.load_template(name)
    units = circuit.units
    assert all(units[v] for v in circuit.variables), [v for v in circuit.variables
                                                      if not units[v]]
    assert circuit.reference and circuit.description
    assert circuit.couplings and all(c["reference"] for c in circuit.couplings)
    assert set(circuit.observables) == {"eeg_meg", "bold"}
    text = circuit.describe()
    for qname in list(circuit.state_variables) + [c["target"] for c in circuit.couplings]:
        assert qname in text
    params = circuit.parameters
    assert params and all(np.isfinite(v) for v in params.values())


@pytest.mark.parametrize("name", CIRCUITS)
def test_every_template_runs_in_a_three_region_network(name):
    rng = np.random.default_rng(0)
    W = rng.uniform(0.1, 0.5, (3, 3))
    np.fill_diagonal(W, 0.0)
    net = rb.Network.from_arrays(W, name, delays=np.full((3, 3), 2e-3))
    assert [c.target for c in net.couplings] == [
        c["target"] for c in rb.load_template(name).couplings]
    integrator, dt = RUNS.get(name, EULER)
    res = rb.simulate(net, 1.0, dt, integrator=integrator, params={"global_coupling": 0.1},
                      sampling_rate=1000.0)
    assert res.status == "completed"
    assert res.data.shape[:2] == (1000, 3) and np.isfinite(res.data).all()
