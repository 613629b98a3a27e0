"""Whole-brain Jansen-Rit network -> 64-channel EEG as MNE objects.

A 76-region connectome (tvb-data; pip install rate_bridge[tvb]) with delays at 3 m/s, noisy
input, projected through a spherical head to BioSemi-64 EEG. Then MNE as usual: PSD, filter,
epochs on simulated visual stimuli (a pulse train into the occipital regions), evoked response.

    python examples/whole_brain_eeg.py
"""
import numpy as np

import rate_bridge as rb

conn = rb.adapters.read_tvb_connectome(n_regions=76)
net = rb.Network.from_connectome(conn, node="jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                 global_coupling=0.1, speed=3.0)
dt, duration = 1e-4, 20.0
n_steps = int(round(duration / dt))
onsets = np.arange(1.0, duration - 1.0, 1.0)                    # one flash per second
pulse = np.zeros((n_steps, conn.n_regions))
visual = [i for i, lab in enumerate(conn.labels) if lab[1:] in ("V1", "V2")]
for onset in onsets:
    k = int(round(onset / dt))
    pulse[k:k + 100, visual] = 300.0                              # 10 ms, +300 Hz
res = rb.simulate(net, duration, dt, integrator="heun", inputs={"pc.u": pulse},
                  noise={"pc.u": 22.0}, record=["pc.v"], sampling_rate=1000.0, seed=1)

fm = rb.forward_models.from_sphere(conn, montage="biosemi64")
raw = fm.to_raw(res, signal="pc.v", moment_scale=1e-8, events=list(onsets),
                noise={"eeg": 1e-6})
print(raw)
raw.filter(1.0, 40.0)
import mne  # noqa: E402
events, event_id = mne.events_from_annotations(raw)
epochs = mne.Epochs(raw, events, event_id, tmin=-0.2, tmax=0.6, baseline=(None, 0),
                    preload=True)
evoked = epochs.average()
print(evoked)
fig = evoked.plot_joint(show=False)
fig.savefig("whole_brain_evoked.png", dpi=100)
raw.compute_psd(fmax=45).plot(show=False).savefig("whole_brain_psd.png", dpi=100)
