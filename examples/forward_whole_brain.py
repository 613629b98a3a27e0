"""Whole-brain Jansen-Rit simulation -> EEG as an MNE Raw, PSD/topomap figure, source estimate.

Needs tvb-data for the 76-region connectome (``pip install rate_bridge[tvb]``). Everything runs
offline: the default forward model is a spherical head with BioSemi 64 electrodes.

    python examples/forward_whole_brain.py [output_dir]
"""
import sys
from pathlib import Path

import mne

import rate_bridge as rb

out = Path(sys.argv[1] if len(sys.argv) > 1 else "forward_example_output")
out.mkdir(parents=True, exist_ok=True)

conn = rb.adapters.read_tvb_connectome(76)                       # centres in TVB's frame, mm
net = rb.Network.from_connectome(conn, node=rb.load_template("jansen_rit"),
                                 coupling=("pc.m_out", "pc.m_in_e"),
                                 global_coupling=0.1, speed=3.0)
res = rb.simulate(net, duration=20.0, dt=1e-4, noise={"pc.u": 22.0}, seed=0,
                  record=["pc.v"], sampling_rate=250.0)

# Lead field: sphere fitted to the electrodes; the centres are reoriented (TVB: ALS -> RAS),
# centred in the head and shrunk if needed to fit inside the inner skull.
fm = rb.forward_models.from_sphere(conn, montage="biosemi64")
print(fm, fm.provenance["placement"])

# pc.v (mV) -> 10 nA·m per mV (the jansen_rit default, stated explicitly here), average
# reference, 0.5 µV white sensor noise, stimulus annotations every 2 s.
raw = fm.to_raw(res, signal="pc.v", moment_scale=1e-8, reference="average",
                noise={"eeg": 0.5e-6}, random_state=0,
                events=[(t, 0.0, "marker") for t in range(2, 20, 2)])
raw.save(out / "jansen_rit_eeg_raw.fif", overwrite=True)
print(raw)

# Any MNE pipeline from here on.
raw.filter(1.0, 40.0)
epochs = mne.Epochs(raw, *mne.events_from_annotations(raw), tmin=-0.2, tmax=1.0,
                    preload=True)
print(epochs)
fig_png = rb.forward_models.save_psd_topomap(raw, out / "psd_topomap.png")
print("figure:", fig_png)

# Ground truth at the sources (one dipole per region here: a VolSourceEstimate in A·m).
stc = fm.to_source_estimate(res, signal="pc.v", moment_scale=1e-8)
print(stc)

# Other lead fields (same to_raw/to_source_estimate API):
#   rb.forward_models.from_bem(conn, {"inner_skull": ..., "outer_skull": ..., "outer_skin": ...})
#   rb.forward_models.from_forward(mne.read_forward_solution("sub-fwd.fif"), labels)
#   head = rb.forward_models.read_tvb_head(region_labels=conn.labels)
#   rb.forward_models.from_sphere(conn, montage=head.eeg_info(), surface=head.cortex)
#   rb.forward_models.from_tvb_projection(conn)          # TVB's precomputed EEG projection
