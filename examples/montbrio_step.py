"""Montbrió-Pazó-Roxin QIF mean field: a step of current moves the bistable population
(eta = -5, J = 15, Delta = 1) from the low to the high state through damped oscillations
(Montbrió, Pazó & Roxin 2015, Fig. 2).

    python examples/montbrio_step.py
"""
import matplotlib.pyplot as plt
import numpy as np

import rate_bridge as rb

dt, duration = 1e-6, 0.08                       # s (the template's time unit is ms, tau = 1 ms)
t = np.arange(int(round(duration / dt))) * dt
current = np.where((t >= 0.02) & (t < 0.05), 3.0, 0.0)
res = rb.simulate("montbrio", duration, dt, integrator="rk4", inputs={"p.I": current},
                  initial_state={"p.r": 0.05, "p.v": -2.0}, record=["p.r", "p.v"],
                  sampling_rate=1e5)
fig, axes = plt.subplots(3, 1, sharex=True, figsize=(6, 5))
axes[0].plot(t * 1e3, current)
axes[0].set_ylabel("I")
axes[1].plot(res.time * 1e3, res["p.r"][:, 0])
axes[1].set_ylabel("r (1/ms)")
axes[2].plot(res.time * 1e3, res["p.v"][:, 0])
axes[2].set_ylabel("v")
axes[2].set_xlabel("time (ms)")
fig.tight_layout()
fig.savefig("montbrio_step.png", dpi=100)
print(f"rate before the step {res['p.r'][1500, 0]:.3f}, during {res['p.r'][4900, 0]:.3f}, "
      f"after {res['p.r'][-1, 0]:.3f} (bistable: stays high)")
