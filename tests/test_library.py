"""Shipped templates against their published behaviour and independent solutions.

Kernels: the Jansen-Rit circuit with heun, Montbrió and Wilson-Cowan circuits with rk4, the
Kuramoto network with rk4 (conftest.py's shared structures)."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve

import rate_bridge as rb


def _peak_hz(x, fs):
    x = x - x.mean()
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return f[np.argmax(np.abs(np.fft.rfft(x)) ** 2)]


# -- Jansen-Rit ----------------------------------------------------------------------------------
U_VALUES = [50.0, 100.0, 125.0, 150.0, 220.0, 400.0]


@pytest.fixture(scope="module")
def jr_sweep():
    jr = rb.load_template("jansen_rit")
    res = rb.simulate(jr, 12.0, 1e-4, integrator="heun", params=[{"pc.u": u} for u in U_VALUES],
                      record=["pc.v"], sampling_rate=1000.0)
    return {u: r["pc.v"][4000:, 0] for u, r in zip(U_VALUES, res)}


def test_jansen_rit_alpha_oscillation(jr_sweep):
    """Jansen & Rit 1995 (Fig. 3-4): alpha-like activity for p in the oscillating range."""
    for u in (150.0, 220.0):
        v = jr_sweep[u]
        assert v.std() > 0.5
        assert 9.0 <= _peak_hz(v, 1000.0) <= 12.5


def test_jansen_rit_transitions(jr_sweep):
    """Fixed points below the saddle-node on the invariant circle near 113.6 Hz and above the
    Hopf point near 315.7 Hz; large slow 'spike-like' waves between ~113.6 and ~137.4 Hz
    (Grimbert & Faugeras 2006, Neural Comput 18:3052, Fig. 4)."""
    assert jr_sweep[50.0].std() < 1e-6
    assert jr_sweep[100.0].std() < 1e-6
    assert jr_sweep[400.0].std() < 1e-3
    slow = jr_sweep[125.0]
    assert np.ptp(slow) > 8.0 and _peak_hz(slow, 1000.0) < 5.0
    assert np.ptp(jr_sweep[220.0]) < 4.0          # alpha waves are smaller than the spikes


def _jr_classic_fixed_point(p, guess):
    """Fixed point of the paper's own 6-variable form (y0..y5), solved independently."""
    A, B, a, b, C = 3.25, 22.0, 100.0, 50.0, 135.0
    C1, C2, C3, C4 = C, 0.8 * C, 0.25 * C, 0.25 * C
    S = lambda v: 5.0 / (1 + np.exp(0.56 * (6.0 - v)))  # noqa: E731

    def f(y):
        y0, y1, y2 = y
        return [A / a * S(y1 - y2) - y0, A / a * (p + C2 * S(C1 * y0)) - y1,
                B / b * C4 * S(C3 * y0) - y2]
    y0, y1, y2 = fsolve(f, guess, xtol=1e-13)
    return y1 - y2


@pytest.mark.parametrize("u, guess, rtol", [(50.0, [0.005, 2.5, 2.8], 1e-6),
                                            (100.0, [0.005, 4.0, 2.8], 1e-6),
                                            (400.0, [0.1, 20.0, 15.0], 1e-3)])
def test_jansen_rit_fixed_point_matches_paper_equations(jr_sweep, u, guess, rtol):
    """The low-input rest state is the paper's stable low fixed point (several exist)."""
    np.testing.assert_allclose(jr_sweep[u][-1], _jr_classic_fixed_point(u, guess), rtol=rtol)


def test_jansen_rit_matches_solve_ivp_of_the_paper_equations():
    A, B, a, b, C = 3.25, 22.0, 100.0, 50.0, 135.0
    S = lambda v: 5.0 / (1 + np.exp(0.56 * (6.0 - v)))  # noqa: E731

    def f(t, y):
        y0, y1, y2, y3, y4, y5 = y
        return [y3, y4, y5, A * a * S(y1 - y2) - 2 * a * y3 - a * a * y0,
                A * a * (220.0 + 0.8 * C * S(C * y0)) - 2 * a * y4 - a * a * y1,
                B * b * 0.25 * C * S(0.25 * C * y0) - 2 * b * y5 - b * b * y2]
    # Heun converges to it at second order; Richardson's extrapolation cancels the dt^2 term
    runs = [rb.simulate("jansen_rit", 2.0, dt, integrator="heun", record=["pc.v"],
                        sampling_rate=1000.0)["pc.v"][:, 0] for dt in (1e-4, 5e-5)]
    t = np.arange(2000) * 1e-3
    ref = solve_ivp(f, (0, 2.0), [0.0] * 6, t_eval=t, rtol=1e-11, atol=1e-11, method="DOP853")
    v = ref.y[1] - ref.y[2]
    errors = [np.abs(x - v).max() for x in runs]
    assert abs(np.log2(errors[0] / errors[1]) - 2) < 0.1 and errors[1] < 5e-4, errors
    np.testing.assert_allclose((4 * runs[1] - runs[0]) / 3, v, atol=1e-5)


# -- Montbrió-Pazó-Roxin --------------------------------------------------------------------------
def _mpr_fixed_points(eta, J, delta):
    """Rates r* > 0 from -pi^2 r^4 + J r^3 + eta r^2 + delta^2 / (4 pi^2) = 0 (tau = 1)."""
    roots = np.roots([-np.pi ** 2, J, eta, 0.0, delta ** 2 / (4 * np.pi ** 2)])
    return np.sort(roots[(abs(roots.imag) < 1e-12) & (roots.real > 0)].real)


def test_montbrio_bistability_matches_analytic_fixed_points():
    """eta = -5, J = 15, Delta = 1 is bistable (Montbrió et al. 2015, Fig. 1-2)."""
    fps = _mpr_fixed_points(-5.0, 15.0, 1.0)
    assert len(fps) == 3
    low, _, high = fps
    # initial states chosen in each basin
    res_low = rb.simulate("montbrio", 0.1, 1e-5, integrator="rk4", record=["p.r", "p.v"],
                          initial_state={"p.r": 0.05, "p.v": -2.0})
    res_high = rb.simulate("montbrio", 0.1, 1e-5, integrator="rk4", record=["p.r", "p.v"],
                           initial_state={"p.r": 1.0, "p.v": -0.15})
    np.testing.assert_allclose(res_low["p.r"][-1, 0], low, rtol=1e-6)
    np.testing.assert_allclose(res_high["p.r"][-1, 0], high, rtol=1e-6)
    np.testing.assert_allclose(res_high["p.v"][-1, 0], -1.0 / (2 * np.pi * high), rtol=1e-6)


def test_montbrio_damped_oscillation_after_input_step():
    """A step of input I = 3 sends the low state to the high focus through damped oscillations
    whose period and decay match the Jacobian's eigenvalues there (paper Fig. 2)."""
    eta, J, delta, I = -5.0, 15.0, 1.0, 3.0
    r_star = _mpr_fixed_points(eta + I, J, delta)[-1]
    v_star = -delta / (2 * np.pi * r_star)
    jac = np.array([[2 * v_star, 2 * r_star],
                    [J - 2 * np.pi ** 2 * r_star, 2 * v_star]])     # per ms
    lam = np.linalg.eigvals(jac)[0]
    assert lam.imag != 0 and lam.real < 0
    dt = 1e-6
    t_on = 0.005                                               # 5 ms
    n = int(round(0.04 / dt))
    step = np.where(np.arange(n) * dt >= t_on, I, 0.0)
    res = rb.simulate("montbrio", 0.04, dt, integrator="rk4", inputs={"p.I": step},
                      initial_state={"p.r": 0.05, "p.v": -2.0}, record=["p.r"],
                      sampling_rate=1e5)
    r, t = res["p.r"][:, 0], res.time
    late = t > t_on + 0.004
    peaks = [i for i in np.where(late)[0][1:-1] if r[i] > r[i - 1] and r[i] >= r[i + 1]]
    assert len(peaks) >= 11
    linear = peaks[6:11]          # later peaks: small deviations, where linearisation holds
    period_ms = np.diff(t[linear]).mean() * 1e3
    np.testing.assert_allclose(period_ms, 2 * np.pi / abs(lam.imag), rtol=0.02)
    ratio = (r[linear[-1]] - r_star) / (r[linear[-2]] - r_star)
    np.testing.assert_allclose(np.log(ratio), lam.real * period_ms, rtol=0.1)
    np.testing.assert_allclose(r[-1], r_star, rtol=1e-3)


# -- Wilson-Cowan --------------------------------------------------------------------------------
def _wc_rhs(t, y, P):
    E, I = y
    c1, c2, c3, c4, ae, te, ai, ti, tau = 16, 12, 15, 3, 1.3, 4, 2, 3.7, 10.0
    Se = lambda x: 1 / (1 + np.exp(-ae * (x - te))) - 1 / (1 + np.exp(ae * te))  # noqa: E731
    Si = lambda x: 1 / (1 + np.exp(-ai * (x - ti))) - 1 / (1 + np.exp(ai * ti))  # noqa: E731
    ke, ki = 1 - 1 / (1 + np.exp(ae * te)), 1 - 1 / (1 + np.exp(ai * ti))
    return [(-E + (ke - E) * Se(c1 * E - c2 * I + P)) / tau,
            (-I + (ki - I) * Si(c3 * E - c4 * I)) / tau]


def test_wilson_cowan_matches_solve_ivp_and_has_its_limit_cycle():
    res = rb.simulate("wilson_cowan", 0.5, 1e-5, integrator="rk4", record=["wc.E", "wc.I"],
                      initial_state={"wc.E": 0.1}, sampling_rate=1000.0)
    t_ms = res.time * 1e3
    ref = solve_ivp(_wc_rhs, (0, t_ms[-1]), [0.1, 0.0], t_eval=t_ms, args=(1.25,),
                    rtol=1e-11, atol=1e-13, method="DOP853")
    np.testing.assert_allclose(res["wc.E"][:, 0], ref.y[0], atol=1e-7)
    np.testing.assert_allclose(res["wc.I"][:, 0], ref.y[1], atol=1e-7)
    # Wilson & Cowan 1972: sustained oscillation (limit cycle) for P = 1.25
    assert res["wc.E"][200:, 0].std() > 0.02


def test_wilson_cowan_rest_state_is_a_fixed_point():
    res = rb.simulate("wilson_cowan", 0.2, 1e-4, integrator="rk4", params={"wc.P": 0.0},
                      record=["wc.E"])
    assert np.abs(res["wc.E"]).max() < 1e-12


# -- Kuramoto ------------------------------------------------------------------------------------
def test_kuramoto_free_oscillator_is_exact(kuramoto_network):
    res = rb.simulate(kuramoto_network(np.zeros((1, 1))), 1.0, 1e-3, integrator="rk4",
                      params={"osc.omega": 3.0}, record=["osc.theta"])
    np.testing.assert_allclose(res["osc.theta"][:, 0], 3.0 * res.time, rtol=1e-12)


@pytest.mark.parametrize("mode", ["decimate", "average"])
def test_jansen_rit_recorded_rate_is_the_sigmoid_of_the_recorded_potential(mode):
    res = rb.simulate("jansen_rit", 0.5, 1e-4, record=["pc.v", "pc.m_out"], record_mode=mode,
                      sampling_rate=1e4)
    v, m = res["pc.v"][:, 0], res["pc.m_out"][:, 0]
    np.testing.assert_allclose(m, 5.0 / (1 + np.exp(0.56 * (6.0 - v))), rtol=1e-12)
