"""Training: options and presets, datasets and users' image files, ADA, the four losses, one
training step as a table of phases, the run loop (ticks, snapshots, metrics, plot), starting or
resuming a run, several processes, FID."""
