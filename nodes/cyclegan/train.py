"""CycleGAN training (Zhu et al.), as the reference's cycle_gan model.

``G_A: A -> B``, ``G_B: B -> A``; ``D_A`` judges domain B, ``D_B`` domain A. Generator loss =
LSGAN terms + cycle ``lambda_a * |G_B(G_A(a)) - a| + lambda_b * |G_A(G_B(b)) - b|`` + identity
``lambda_identity * (lambda_b * |G_A(b) - b| + lambda_a * |G_B(a) - a|)``. Discriminators see
fakes from a 50-image history pool; their loss is halved. Adam 2e-4, beta1 0.5, linear decay.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..gan.data import UnpairedImages
from ..gan.discriminators import define_D
from ..gan.generators import GeneratorSpec
from ..gan.image_pool import ImagePool
from ..gan.losses import GANLoss, gradient_penalty
from ..gan.schedule import linear_decay_scheduler
from ..gan.training import OptionsFromParams, stack_preview
from ..pix2pix.train import check_crop
from .handle import CycleGANHandle


@dataclass(frozen=True)
class CycleGANOptions(OptionsFromParams):
    generator: str = "resnet_9blocks"
    ngf: int = 64
    discriminator: str = "basic"
    ndf: int = 64
    n_layers_d: int = 3
    norm: str = "instance"
    dropout: bool = False
    init_type: str = "normal"
    init_gain: float = 0.02
    gan_mode: str = "lsgan"
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
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



class CycleGANTrainer:
    def __init__(self, opts: CycleGANOptions, root: Path, device: torch.device):
        self.opts = opts
        self.device = device
        self.spec = GeneratorSpec(opts.generator, 3, 3, opts.ngf, opts.norm, opts.dropout)
        check_crop(self.spec, opts.crop_size)
        self.data = UnpairedImages(root, preprocess=opts.preprocess, load_size=opts.load_size,
                                   crop_size=opts.crop_size, flip=opts.flip, seed=opts.seed)
        torch.manual_seed(opts.seed)
        self.g_a = self.spec.build(opts.init_type, opts.init_gain).to(device).train()
        self.g_b = self.spec.build(opts.init_type, opts.init_gain).to(device).train()
        self.d_a = define_D(3, opts.ndf, opts.discriminator, opts.n_layers_d, opts.norm, opts.init_type,
                            opts.init_gain).to(device).train()
        self.d_b = define_D(3, opts.ndf, opts.discriminator, opts.n_layers_d, opts.norm, opts.init_type,
                            opts.init_gain).to(device).train()
        self.pool_a = ImagePool(opts.pool_size, torch.Generator().manual_seed(opts.seed + 101))
        self.pool_b = ImagePool(opts.pool_size, torch.Generator().manual_seed(opts.seed + 202))
        self.criterion_gan = GANLoss(opts.gan_mode).to(device)
        self.l1 = nn.L1Loss()
        betas = (opts.beta1, 0.999)
        self.opt_g = torch.optim.Adam(itertools.chain(self.g_a.parameters(), self.g_b.parameters()),
                                      lr=opts.lr, betas=betas)
        self.opt_d = torch.optim.Adam(itertools.chain(self.d_a.parameters(), self.d_b.parameters()),
                                      lr=opts.lr, betas=betas)
        self.sched_g = linear_decay_scheduler(self.opt_g, opts.niter, opts.niter_decay)
        self.sched_d = linear_decay_scheduler(self.opt_d, opts.niter, opts.niter_decay)
        self.gp_generator = torch.Generator(device=device).manual_seed(opts.seed + 17)
        self.last: dict[str, Tensor] = {}

    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        a, b = self.data.batch(step, self.opts.batch_size)
        return a.to(self.device) * 2 - 1, b.to(self.device) * 2 - 1

    def _d_loss(self, net_d: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        loss = (self.criterion_gan(net_d(real), True) + self.criterion_gan(net_d(fake.detach()), False)) * 0.5
        if self.opts.gan_mode == "wgangp":
            loss = loss + gradient_penalty(net_d, real, fake, generator=self.gp_generator)
        return loss

    def train_step(self, step: int) -> dict[str, Tensor]:
        o = self.opts
        real_a, real_b = self.batch(step)
        fake_b = self.g_a(real_a)
        rec_a = self.g_b(fake_b)
        fake_a = self.g_b(real_b)
        rec_b = self.g_a(fake_a)

        # generators
        self.d_a.requires_grad_(False)
        self.d_b.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        zero = torch.zeros((), device=self.device)
        idt_a = idt_b = zero
        if o.lambda_identity > 0:
            idt_a = self.l1(self.g_a(real_b), real_b) * o.lambda_b * o.lambda_identity
            idt_b = self.l1(self.g_b(real_a), real_a) * o.lambda_a * o.lambda_identity
        g_a = self.criterion_gan(self.d_a(fake_b), True)
        g_b = self.criterion_gan(self.d_b(fake_a), True)
        cyc_a = self.l1(rec_a, real_a) * o.lambda_a
        cyc_b = self.l1(rec_b, real_b) * o.lambda_b
        (g_a + g_b + cyc_a + cyc_b + idt_a + idt_b).backward()
        self.opt_g.step()

        # discriminators, on real images vs. fakes drawn from the history pools
        self.d_a.requires_grad_(True)
        self.d_b.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        d_a = self._d_loss(self.d_a, real_b, self.pool_b.query(fake_b))
        d_a.backward()
        d_b = self._d_loss(self.d_b, real_a, self.pool_a.query(fake_a))
        d_b.backward()
        self.opt_d.step()

        self.sched_g.step()
        self.sched_d.step()
        self.last = {k: v.detach() for k, v in
                     dict(real_a=real_a, fake_b=fake_b, rec_a=rec_a, real_b=real_b, fake_a=fake_a, rec_b=rec_b).items()}
        return {"D_A": d_a.detach(), "G_A": g_a.detach(), "cycle_A": cyc_a.detach(), "idt_A": idt_a.detach(),
                "D_B": d_b.detach(), "G_B": g_b.detach(), "cycle_B": cyc_b.detach(), "idt_B": idt_b.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"g_a": self.g_a.state_dict(), "g_b": self.g_b.state_dict(), "d_a": self.d_a.state_dict(),
                "d_b": self.d_b.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                "pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(),
                "gp_rng": self.gp_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("g_a", "g_b", "d_a", "d_b", "opt_g", "opt_d", "sched_g", "sched_d"):
            getattr(self, name).load_state_dict(state[name])
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)
        self.gp_generator.set_state(state["gp_rng"])

    def preview(self) -> Tensor:
        """Rows: real A, G_A(A), G_B(G_A(A)), real B, G_B(B), G_A(G_B(B))."""
        if not self.last:
            real_a, real_b = self.batch(0)
            with torch.no_grad():
                fake_b, fake_a = self.g_a(real_a), self.g_b(real_b)
                self.last = dict(real_a=real_a, fake_b=fake_b, rec_a=self.g_b(fake_b), real_b=real_b,
                                 fake_a=fake_a, rec_b=self.g_a(fake_a))
        order = ("real_a", "fake_b", "rec_a", "real_b", "fake_a", "rec_b")
        return stack_preview([(self.last[k] + 1) / 2 for k in order])

    def handle(self) -> CycleGANHandle:
        return CycleGANHandle(self.g_a.eval(), self.spec, self.g_b.eval(), self.spec, net_size=self.opts.crop_size)
