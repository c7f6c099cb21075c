"""Network files: our .pt format (ours.py), snapshots and networks files (snapshot.py), every
foreign format (nvidia_pytorch, nvidia_tf, nvidia_npz, rosinality), the safe unpickler, and the
one load_generator (load.py)."""
