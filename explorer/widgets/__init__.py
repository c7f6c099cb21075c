"""Explorer widgets: each draws its controls and edits the explorer's state, nothing else."""
