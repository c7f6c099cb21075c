"""The networks: mapping, the StyleGAN1/2/3 synthesis networks, both discriminators, their layers
and configs, and building them from a config and a state dict (build.py)."""
