"""Integration schemes, as small pieces of generated code.

Each scheme advances the flat state vector ``x`` by one step ``dt`` using ``_stage(x, c, ...)``,
which evaluates the vector field at time ``t_n + c * dt`` (``c`` matters for delayed inputs).
Stochastic schemes add ``gdw`` = diffusion * dW, with dW ~ N(0, dt) drawn once per step.
The loop over steps, coupling, delays and recording live elsewhere: schemes stay composable with
any model the compiler emits.
"""

#: name -> (description, code); STOCHASTIC_VERSION says which take noise on states
#: In the code: ``S`` is the state count, ``STAGE(x, c, out)`` evaluates the vector field,
#: ``DIFF(x, out)`` fills diffusion * dW; ``RANGE`` is ``range`` or ``prange``.
INTEGRATORS = {
    "euler": ("explicit Euler", """
STAGE(x, 0.0, k1)
for j in RANGE(S):
    x[j] += dt * k1[j]
"""),
    "heun": ("Heun (explicit trapezoid)", """
STAGE(x, 0.0, k1)
for j in RANGE(S):
    xt[j] = x[j] + dt * k1[j]
STAGE(xt, 1.0, k2)
for j in RANGE(S):
    x[j] += 0.5 * dt * (k1[j] + k2[j])
"""),
    "rk4": ("classic fourth-order Runge-Kutta", """
STAGE(x, 0.0, k1)
for j in RANGE(S):
    xt[j] = x[j] + 0.5 * dt * k1[j]
STAGE(xt, 0.5, k2)
for j in RANGE(S):
    xt[j] = x[j] + 0.5 * dt * k2[j]
STAGE(xt, 0.5, k3)
for j in RANGE(S):
    xt[j] = x[j] + dt * k3[j]
STAGE(xt, 1.0, k4)
for j in RANGE(S):
    x[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])
"""),
    "euler_maruyama": ("Euler-Maruyama (Itô)", """
STAGE(x, 0.0, k1)
DIFF(x, g1)
for j in RANGE(S):
    x[j] += dt * k1[j] + g1[j]
"""),
    "heun_stochastic": ("stochastic Heun (Stratonovich)", """
STAGE(x, 0.0, k1)
DIFF(x, g1)
for j in RANGE(S):
    xt[j] = x[j] + dt * k1[j] + g1[j]
STAGE(xt, 1.0, k2)
DIFF(xt, g2)
for j in RANGE(S):
    x[j] += 0.5 * dt * (k1[j] + k2[j]) + 0.5 * (g1[j] + g2[j])
"""),
}

#: deterministic scheme -> its stochastic counterpart when state noise is requested
STOCHASTIC_VERSION = {"euler": "euler_maruyama", "heun": "heun_stochastic",
                      "euler_maruyama": "euler_maruyama", "heun_stochastic": "heun_stochastic"}


def integrator_code(name, parallel_nodes):
    """The step code of scheme ``name`` with STAGE/DIFF/RANGE filled in."""
    try:
        code = INTEGRATORS[name][1]
    except KeyError:
        raise ValueError(f"unknown integrator {name!r}; choose one of "
                         f"{sorted(INTEGRATORS)}") from None
    return code.replace("RANGE", "prange" if parallel_nodes else "range")
