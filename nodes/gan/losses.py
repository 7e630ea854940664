"""GAN objectives (vanilla / LSGAN / WGAN-GP) and the WGAN gradient penalty."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

GanMode = Literal["vanilla", "lsgan", "wgangp"]


class GANLoss(nn.Module):
    """Loss of discriminator scores against "real" or "fake", whatever the score map's shape.

    ``vanilla``: BCE with logits (the discriminator has no sigmoid); ``lsgan``: MSE to 1/0;
    ``wgangp``: -mean for real, +mean for fake (add :func:`gradient_penalty` to the D loss).
    """

    def __init__(self, gan_mode: str, real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(real_label))
        self.register_buffer("fake_label", torch.tensor(fake_label))
        self.gan_mode = gan_mode
        if gan_mode == "lsgan":
            self.loss: nn.Module | None = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        elif gan_mode == "wgangp":
            self.loss = None
        else:
            raise ValueError(f"unknown gan_mode {gan_mode!r}; expected vanilla, lsgan or wgangp")

    def forward(self, prediction: Tensor, target_is_real: bool) -> Tensor:
        if self.loss is None:
            return -prediction.mean() if target_is_real else prediction.mean()
        target = (self.real_label if target_is_real else self.fake_label).to(prediction.dtype)
        return self.loss(prediction, target.expand_as(prediction))


def gradient_penalty(net_d: nn.Module, real: Tensor, fake: Tensor, *, generator: torch.Generator | None = None,
                     constant: float = 1.0, weight: float = 10.0) -> Tensor:
    """WGAN-GP penalty ``weight * (||grad D(x_hat)|| - constant)^2`` on random real/fake mixes.

    ``generator`` (on ``real``'s device) draws the mixing weights, so resumed training repeats them.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=generator)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = net_d(mixed)
    (grads,) = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(scores), create_graph=True)
    norms = (grads.flatten(1) + 1e-16).norm(2, dim=1)
    return ((norms - constant) ** 2).mean() * weight
