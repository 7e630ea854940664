"""Learning-rate schedule of pix2pix/CycleGAN: constant for ``niter`` steps, then linear to ~0.

The reference counts epochs; here the unit is a training step so that progress, checkpoints and
tiny test runs share one clock. Factor at step ``s`` (0-based):
``1 - max(0, s + 1 - niter) / (niter_decay + 1)``, the reference's ``lambda_rule``.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class LinearDecay:
    """Callable LR factor (an object, not a closure, so the scheduler's state dict stays plain)."""

    def __init__(self, niter: int, niter_decay: int):
        self.niter = int(niter)
        self.niter_decay = int(niter_decay)

    def __call__(self, step: int) -> float:
        return 1.0 - max(0, step + 1 - self.niter) / float(self.niter_decay + 1)


def linear_decay_scheduler(optimizer: Optimizer, niter: int, niter_decay: int) -> LambdaLR:
    """A scheduler to ``step()`` once per training step."""
    return LambdaLR(optimizer, lr_lambda=LinearDecay(niter, niter_decay))
