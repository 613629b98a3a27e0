"""Jansen-Rit: regimes as the extrinsic input p grows (Jansen & Rit 1995; Grimbert & Faugeras
2006, Fig. 4): rest, slow large "spike-like" waves (~113-137 Hz), alpha oscillations
(~137-315 Hz), then a high fixed point. Forty input values run as one batch in one kernel call.

    python examples/jansen_rit_bifurcation.py
"""
import matplotlib.pyplot as plt
import numpy as np

import rate_bridge as rb
from rate_bridge.sweep import grid, summary_features, sweep

inputs = np.linspace(50, 400, 36)
table = sweep("jansen_rit", grid(**{"pc.u": inputs}), duration=8.0, dt=1e-4, integrator="rk4",
              record=["pc.v"], batch_size=36,
              reduce=lambda r: {**summary_features(r, "pc.v", skip=3.0),
                                "min": float(r["pc.v"][3000:].min()),
                                "max": float(r["pc.v"][3000:].max())})
fig, (a1, a2) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
a1.fill_between(table["pc.u"], table["min"], table["max"], alpha=0.4)
a1.plot(table["pc.u"], table["mean"], "k")
a1.set_ylabel("pc.v = y1 - y2 (mV)")
a2.plot(table["pc.u"], np.where(table["std"] > 1e-3, table["peak_hz"], np.nan), "o-")
a2.set_ylabel("dominant frequency (Hz)")
a2.set_xlabel("extrinsic input p (Hz)")
fig.suptitle("Jansen-Rit: min/max of pc.v and its frequency")
fig.tight_layout()
fig.savefig("jansen_rit_bifurcation.png", dpi=100)
print(table.round(3).to_string())
