"""Shared GAN parts for the pix2pix and CycleGAN families (and anyone else's GAN).

- :mod:`.generators`: the U-Net and ResNet generators (and their spec) both families use;
- :mod:`.norm` / :mod:`.init`: norm layers and weight init as the reference chooses them;
- :mod:`.discriminators`: PatchGAN and PixelGAN discriminators;
- :mod:`.losses` / :mod:`.image_pool` / :mod:`.schedule`: objectives, fake history, LR decay;
- :mod:`.checkpoints`: reading reference ``.pth`` files (clean-up, key diffs);
- :mod:`.data`: image-folder datasets; :mod:`.lab`: normalised Lab;
- :mod:`.training`: the resumable training loop; :mod:`.inference`: pad/tile/autocast helpers.

Not a node family: it has no ``NODES``.
"""

from .discriminators import NLayerDiscriminator, PixelDiscriminator, define_D
from .image_pool import ImagePool
from .init import init_weights
from .losses import GANLoss, gradient_penalty
from .norm import Identity, get_norm_layer
from .schedule import LinearDecay, linear_decay_scheduler

__all__ = [
    "GANLoss",
    "Identity",
    "ImagePool",
    "LinearDecay",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "define_D",
    "get_norm_layer",
    "gradient_penalty",
    "init_weights",
    "linear_decay_scheduler",
]
