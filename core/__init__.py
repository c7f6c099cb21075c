"""StyleGAN networks, W+ controls, checkpoints and the command-line tools."""

from .checkpoint import CheckpointError, load_generator, save_generator
from .config import DiscriminatorConfig, GeneratorConfig
from .discriminator import Discriminator
from .discriminator_progressive import ProgressiveDiscriminator
from .generator import Generator
from .noise import NoiseControl

__all__ = ["Generator", "Discriminator", "ProgressiveDiscriminator", "GeneratorConfig",
           "DiscriminatorConfig", "NoiseControl", "CheckpointError", "load_generator",
           "save_generator"]
