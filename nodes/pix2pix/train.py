"""Pix2Pix training (Isola et al.): conditional GAN + lambda * L1, as the reference's pix2pix model.

One step: ``fake_B = G(real_A)``; D learns ``D(A, B) -> real`` and ``D(A, G(A)) -> fake`` (loss
halved); then G minimises ``GAN(D(A, G(A)), real) + lambda_l1 * |G(A) - B|``. Adam (lr 2e-4,
beta1 0.5), LR constant for ``niter`` steps then linear decay over ``niter_decay`` steps.

Modes: ``aligned`` (A -> B image pairs), ``colorization`` (L -> ab of any colour image, the
reference's colorization model: input ``L/50 - 1``, target ``ab/110``), ``gray2rgb`` (luminance ->
RGB). The trainer is independent of nodes so it can be unit-tested and scripted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nodeflow.errors import NodeError
from nodeflow.types import luminance

from ..gan.data import PairedImages, SingleImages
from ..gan.discriminators import define_D
from ..gan.lab import lab_norm_to_rgb, rgb_to_lab_norm
from ..gan.losses import GANLoss, gradient_penalty
from ..gan.schedule import linear_decay_scheduler
from ..gan.training import OptionsFromParams, stack_preview
from .handle import Pix2PixHandle
from .networks import GeneratorSpec


@dataclass(frozen=True)
class Pix2PixOptions(OptionsFromParams):
    """Training options (the TrainPix2Pix node's params minus file/bookkeeping ones)."""

    mode: str = "aligned"
    layout: str = "auto"
    direction: str = "AtoB"
    generator: str = "unet_256"
    ngf: int = 64
    discriminator: str = "basic"
    ndf: int = 64
    n_layers_d: int = 3
    norm: str = "batch"
    dropout: bool = True
    init_type: str = "normal"
    init_gain: float = 0.02
    gan_mode: str = "vanilla"
    lambda_l1: float = 100.0
    lr: float = 2e-4
    beta1: float = 0.5
    niter: int = 2000
    niter_decay: int = 2000
    batch_size: int = 1
    load_size: int = 286
    crop_size: int = 256
    preprocess: str = "resize_and_crop"
    flip: bool = True
    seed: int = 0

    @property
    def channels(self) -> tuple[int, int]:
        return {"colorization": (1, 2), "gray2rgb": (1, 3)}.get(self.mode, (3, 3))



def check_crop(spec: GeneratorSpec, crop_size: int) -> None:
    if crop_size % spec.multiple:
        raise NodeError(f"crop_size {crop_size} is not a multiple of {spec.multiple}, which {spec.arch} needs",
                        field="crop_size", hint=f"use a multiple of {spec.multiple} or a smaller generator")


class Pix2PixTrainer:
    """Networks, optimisers and one training step. Batches come from ``data.batch(step, n)``."""

    def __init__(self, opts: Pix2PixOptions, root: Path, device: torch.device):
        self.opts = opts
        self.device = device
        in_nc, out_nc = opts.channels
        self.spec = GeneratorSpec(opts.generator, in_nc, out_nc, opts.ngf, opts.norm, opts.dropout)
        check_crop(self.spec, opts.crop_size)
        common = dict(preprocess=opts.preprocess, load_size=opts.load_size, crop_size=opts.crop_size,
                      flip=opts.flip, seed=opts.seed)
        if opts.mode == "aligned":
            self.data: Any = PairedImages(root, layout=opts.layout, direction=opts.direction, **common)
        else:
            self.data = SingleImages(root, **common)
        torch.manual_seed(opts.seed)
        self.net_g = self.spec.build(opts.init_type, opts.init_gain).to(device).train()
        self.net_d = define_D(in_nc + out_nc, opts.ndf, opts.discriminator, opts.n_layers_d, opts.norm,
                              opts.init_type, opts.init_gain).to(device).train()
        self.criterion_gan = GANLoss(opts.gan_mode).to(device)
        self.criterion_l1 = nn.L1Loss()
        betas = (opts.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=opts.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=opts.lr, betas=betas)
        self.sched_g = linear_decay_scheduler(self.opt_g, opts.niter, opts.niter_decay)
        self.sched_d = linear_decay_scheduler(self.opt_d, opts.niter, opts.niter_decay)
        self.gp_generator = torch.Generator(device=device).manual_seed(opts.seed + 17)
        self.last: tuple[Tensor, Tensor, Tensor] | None = None

    # -- data ----------------------------------------------------------------------------------
    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        """(real_A, real_B) in [-1, 1] on the device for training step ``step``."""
        n = self.opts.batch_size
        if self.opts.mode == "aligned":
            a, b = self.data.batch(step, n)
            return (a.to(self.device) * 2 - 1), (b.to(self.device) * 2 - 1)
        rgb = self.data.batch(step, n).to(self.device)
        if self.opts.mode == "colorization":
            return rgb_to_lab_norm(rgb)
        return luminance(rgb) * 2 - 1, rgb * 2 - 1

    # -- one step ------------------------------------------------------------------------------
    def train_step(self, step: int) -> dict[str, Tensor]:
        real_a, real_b = self.batch(step)
        fake_b = self.net_g(real_a)

        # discriminator: real pairs -> real, generated pairs -> fake
        self.net_d.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        fake_ab = torch.cat([real_a, fake_b], 1).detach()
        real_ab = torch.cat([real_a, real_b], 1)
        loss_d_fake = self.criterion_gan(self.net_d(fake_ab), False)
        loss_d_real = self.criterion_gan(self.net_d(real_ab), True)
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        if self.opts.gan_mode == "wgangp":
            loss_d = loss_d + gradient_penalty(self.net_d, real_ab, fake_ab, generator=self.gp_generator)
        loss_d.backward()
        self.opt_d.step()

        # generator: fool D and stay close to the target
        self.net_d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g_gan = self.criterion_gan(self.net_d(torch.cat([real_a, fake_b], 1)), True)
        loss_g_l1 = self.criterion_l1(fake_b, real_b) * self.opts.lambda_l1
        (loss_g_gan + loss_g_l1).backward()
        self.opt_g.step()

        self.sched_g.step()
        self.sched_d.step()
        self.last = (real_a.detach(), fake_b.detach(), real_b.detach())
        return {"G_GAN": loss_g_gan.detach(), "G_L1": loss_g_l1.detach(), "D_real": loss_d_real.detach(),
                "D_fake": loss_d_fake.detach()}

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"net_g": self.net_g.state_dict(), "net_d": self.net_d.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                "gp_rng": self.gp_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net_g.load_state_dict(state["net_g"])
        self.net_d.load_state_dict(state["net_d"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.gp_generator.set_state(state["gp_rng"])

    # -- outputs -------------------------------------------------------------------------------
    def to_rgb(self, a: Tensor, b: Tensor) -> Tensor:
        """A network-space target ``b`` (with its input ``a``) as RGB in [0, 1] for previews."""
        if self.opts.mode == "colorization":
            return lab_norm_to_rgb(a, b)
        return (b.expand(-1, 3, -1, -1) + 1) / 2

    def preview(self) -> Tensor:
        """Rows: input, output, target of the last batch."""
        if self.last is None:
            real_a, real_b = self.batch(0)
            with torch.no_grad():
                self.last = (real_a, self.net_g(real_a), real_b)
        real_a, fake_b, real_b = self.last
        shown_a = (real_a.expand(-1, 3, -1, -1) + 1) / 2 if real_a.shape[1] == 1 else (real_a + 1) / 2
        return stack_preview([shown_a, self.to_rgb(real_a, fake_b), self.to_rgb(real_a, real_b)])

    def handle(self) -> Pix2PixHandle:
        return Pix2PixHandle(self.net_g.eval(), self.spec, mode=self.opts.mode, direction=self.opts.direction,
                             net_size=self.opts.crop_size)
