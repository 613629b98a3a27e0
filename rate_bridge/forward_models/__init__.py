"""Lead fields and projection of simulated sources to EEG/MEG as MNE objects."""
