"""StyleGAN networks, W+ controls, checkpoints and the command-line tools."""

from core.checkpoints.load import load_generator
from core.checkpoints.ours import save_generator
from core.errors import CheckpointError
from core.networks.config import DiscriminatorConfig, GeneratorConfig
from core.networks.discriminator_stylegan2 import Discriminator
from core.networks.discriminator_stylegan1 import ProgressiveDiscriminator
from core.networks.generator import Generator
from core.noise import NoiseControl

__all__ = ["Generator", "Discriminator", "ProgressiveDiscriminator", "GeneratorConfig",
           "DiscriminatorConfig", "NoiseControl", "CheckpointError", "load_generator",
           "save_generator"]
