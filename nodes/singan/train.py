"""Training a SinGAN pyramid: the faithful recipe and a fast one, resumable scale by scale.

Faithful (tamarott/SinGAN): per scale, from the coarsest up, a fresh generator/critic pair
(copied from the scale below when the widths match) is trained for 2000 iterations of 3 critic
steps (WGAN-GP, λ 0.1) and 3 generator steps (adversarial + α·MSE reconstruction, α 10), Adam
5e-4 (β 0.5, 0.999), learning rate ×0.1 at 80 %. The generator's input at scale k is the
previous scales' random sample resized up, plus noise of amplitude ``0.1·RMSE(real_k, rec_in_k)``
where ``rec_in_k`` is the reconstruction input (the pyramid fed its fixed noise). The
reconstruction noise is zero above scale 0; at scale 0 it is redrawn every iteration and the
last draw is kept, as in the reference.

What differs from the reference code, on purpose:

- Generator steps 2 and 3 recompute the fake with the current weights. The reference reuses the
  graph of the last critic step's fake after ``optimizerG.step()`` changed the weights in place,
  which PyTorch ≥ 1.5 rejects (and which earlier versions silently got wrong).
- No redundant work: the lower scales run under ``no_grad`` in eval mode (the reference builds
  and throws away their graphs), critic-step fakes are computed without a graph except the last
  one, which the first generator step reuses; the critic's own gradients are off during the
  generator steps; the critic's three terms are one backward pass.
- Resizes stay in float (the reference rounds to 8 bits after every resize).

Fast (in the spirit of ConSinGAN): a coarser pyramid (initial factor 0.55 -> 4 scales at 128 px,
5 at 250 px) of 32-channel stages, the top two stages trained together with the lower one's
learning rate ×0.1, the lower scales' sample drawn once per iteration, 140 iterations of one
critic and one generator step plus six reconstruction-only generator steps (no critic, about a
fifth of a full step's cost: reconstruction needs many generator updates, the critic does not).
Harmonization mode (``harmonize_steps`` > 0, issue 10; ConSinGAN-style): each iteration adds
generator steps that inject an augmented scene (regions colour/brightness-jittered or replaced
by a naive paste of a shifted patch, ``augment.py``) at the trained stage or the one below, as
harmonization does, and pull the output back to the real scene. Mode ``harmonize`` of the
``fast`` preset trades three of its six reconstruction-only steps for them (same cost).
``first_scale`` trains only scales ``≥ first_scale``
(enough for harmonization/editing/paint at ``n ≥ first_scale``; the first trained scale then sees
the coarser real image resized up, like the reference's super-resolution training).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from nodeflow.checkpoint import load_json, load_safetensors, save_json, save_safetensors

from .augment import augment_scene
from .generate import noise_map, pad, reconstruct, rmse, upsample_chain
from .handle import SinGANModel
from .imresize import imresize
from .networks import Discriminator, Generator, block_widths, init_weights, scale_width
from .pyramid import PyramidPlan, build_pyramid, first_input, plan_pyramid, upsample_to


class TrainProgress(NamedTuple):
    """Where a training is: reported after every iteration."""

    done: int
    """Iterations done over all scales trained by this call (counting the resumed ones)."""
    total: int
    scale: int
    iteration: int
    """1-based, within ``scale``."""
    iterations: int
    finest: int

    @property
    def message(self) -> str:
        return f"scale {self.scale}/{self.finest} iteration {self.iteration}/{self.iterations}"


Progress = Callable[[TrainProgress], None]
"""Called after every iteration; may raise to cancel."""


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run; the presets below fill them."""

    preset: str = "faithful"
    min_size: int = 25
    max_size: int = 250
    scale_factor: float = 0.75
    """Initial pyramid factor r (the number of scales follows from it, see pyramid.py)."""
    iterations: int = 2000
    """Iterations per scale."""
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    lr_drop: float = 0.8
    """Fraction of a scale's iterations after which the learning rates are multiplied by gamma."""
    gamma: float = 0.1
    d_steps: int = 3
    g_steps: int = 3
    lambda_grad: float = 0.1
    alpha: float = 10.0
    noise_amp: float = 0.1
    nfc: int = 32
    min_nfc: int = 32
    max_nfc: int = 128
    """Cap of the width doubling every 4 scales (the reference caps at 128)."""
    num_layer: int = 5
    ker: int = 3
    concurrent: int = 1
    """Stages trained together (1 = SinGAN; ConSinGAN uses 3)."""
    lr_scale: float = 0.1
    """Learning-rate factor per stage below the newest one when ``concurrent > 1``."""
    rec_steps: int = 0
    """Extra reconstruction-only generator steps per iteration (no critic: about a fifth of a full
    step's cost); 0 in the reference."""
    resample_per_d_step: bool = True
    """Draw a new sample from the lower scales for every critic step (reference) or once per
    iteration (ConSinGAN)."""
    first_scale: int = 0
    amp: bool = False
    """bfloat16 autocast on CUDA."""
    quantize_8bit: bool = False
    """Through 8 bits (truncating) before every resize between scales, as the reference code does
    (pyramid, training inputs and the saved model's generation)."""
    harmonize_steps: int = 0
    """Harmonization-mode generator steps per iteration (0 = off, the reference)."""
    harmonize_weight: float = 1.0
    """Their loss weight, relative to the reconstruction weight ``alpha``."""

    def fingerprint(self) -> str:
        # options at their off value are left out, so checkpoints from before them still resume
        d = asdict(self)
        if not self.quantize_8bit:
            del d["quantize_8bit"]
        if not self.harmonize_steps:
            d.pop("harmonize_steps")
            d.pop("harmonize_weight")
        return hashlib.blake2b(json.dumps(d, sort_keys=True).encode(), digest_size=8).hexdigest()


PRESETS: dict[str, TrainConfig] = {
    "faithful": TrainConfig(),
    # Measured on the coffee scene (benchmarks/singan.py, docs/singan.md "Measured"): 4 scales at 128 px /
    # 5 at 250 px, 32 channels, 1 critic + 1 generator + 6 reconstruction-only steps, 140 iterations,
    # 2 stages trained together. More reconstruction steps lower the RMSE but worsen the samples' patch
    # statistics; fewer push the RMSE past faithful's (singan_variants.json has the sweep).
    "fast": TrainConfig(preset="fast", scale_factor=0.55, max_nfc=32, iterations=140, d_steps=1, g_steps=1,
                        rec_steps=6, concurrent=2, lr_scale=0.1, resample_per_d_step=False),
}


MODES = ("standard", "harmonize")

HARMONIZE_MODE: dict[str, dict[str, Any]] = {
    # three of fast's six reconstruction-only steps become harmonization steps: the same cost per iteration
    "fast": {"harmonize_steps": 3, "rec_steps": 3},
    "faithful": {"harmonize_steps": 2},
}
"""What ``mode="harmonize"`` changes in each preset (explicit overrides still win)."""


def make_config(preset: str = "fast", mode: str = "standard", **overrides: Any) -> TrainConfig:
    """A preset (in a mode) with some fields overridden (None values are ignored)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    cfg = PRESETS[preset]
    if mode == "harmonize":
        cfg = replace(cfg, **HARMONIZE_MODE[preset])
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


# ---------------------------------------------------------------------------------------------


def gradient_penalty(netD: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, weight: float,
                     generator: torch.Generator) -> torch.Tensor:
    """WGAN-GP on one random interpolate (one mixing weight for the whole image, as the reference)."""
    a = torch.rand((1, 1), generator=generator, device=generator.device).to(real.device)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    out = netD(x)
    (grad,) = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean() * weight


@dataclass
class _Run:
    """Mutable state of one training run (what a checkpoint holds)."""

    cfg: TrainConfig
    plan: PyramidPlan
    reals: list[torch.Tensor]
    device: torch.device
    gen: torch.Generator
    """Noise and interpolation weights (on the training device)."""
    init_gen: torch.Generator
    """Weight initialisation (CPU)."""
    generators: list[Generator | None]
    z_rec: list[torch.Tensor | None]
    noise_amp: list[float]
    d_state: dict[str, torch.Tensor] | None = None
    done: int = -1
    """Index of the last finished scale (first_scale - 1 before any)."""
    seconds: list[float | None] | None = None
    scale_rmse: list[float | None] | None = None

    @property
    def N(self) -> int:
        return self.plan.stop_scale

    @cached_property
    def start(self) -> torch.Tensor:
        """What the first trained scale sees (fixed for the whole run)."""
        return first_input(self.reals, self.cfg.first_scale, self.plan.scale_factor, quantize=self.cfg.quantize_8bit)

    def model(self, meta: dict[str, Any] | None = None) -> SinGANModel:
        n = self.done + 1
        return SinGANModel(generators=list(self.generators[:n]), z_rec=list(self.z_rec[:n]),
                           noise_amp=list(self.noise_amp[:n]), reals=list(self.reals[:n]),
                           scale_factor=self.plan.scale_factor, first_scale=self.cfg.first_scale,
                           meta=dict(meta or {}), quantize_8bit=self.cfg.quantize_8bit)


def train_singan(image: torch.Tensor, cfg: TrainConfig, *, seed: int = 0, device: torch.device | str = "cpu",
                 checkpoint_dir: Path | None = None, progress: Progress | None = None,
                 log: Callable[[str], None] | None = None) -> SinGANModel:
    """Train on ``image`` ``(1, 3, H, W)`` in [0, 1]; returns the trained pyramid.

    With ``checkpoint_dir``, every finished scale is saved there and a later call with the same
    image, config and seed resumes at the next scale.
    """
    device = torch.device(device)
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] < 3:
        raise ValueError(f"expected one RGB image (1, 3, H, W), got {tuple(image.shape)}")
    image = image[:, :3].float()
    if cfg.min_size <= cfg.num_layer * (cfg.ker - 1):
        raise ValueError(f"min_size must exceed {cfg.num_layer * (cfg.ker - 1)} (the networks' valid convolutions "
                         f"shrink each side by that much), got {cfg.min_size}")
    plan = plan_pyramid(image.shape[2], image.shape[3], min_size=cfg.min_size, max_size=cfg.max_size,
                        scale_factor=cfg.scale_factor)
    if not 0 <= cfg.first_scale <= plan.stop_scale:
        raise ValueError(f"first_scale {cfg.first_scale} is outside this image's scales 0…{plan.stop_scale}")
    x = (image * 2 - 1).clamp(-1, 1).cpu().double()
    reals = [r.float().to(device) for r in build_pyramid(x, plan, quantize=cfg.quantize_8bit)]
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    init_gen = torch.Generator()
    init_gen.manual_seed(seed + 1)
    n = plan.stop_scale + 1
    run = _Run(cfg, plan, reals, device, gen, init_gen, [None] * n, [None] * n, [0.0] * n,
               done=cfg.first_scale - 1, seconds=[None] * n, scale_rmse=[None] * n)
    key = _run_key(image, cfg, seed)
    if checkpoint_dir is not None:
        _resume(run, Path(checkpoint_dir), key, log)
    total = _total_iterations(run)
    for k in range(run.done + 1, n):
        t0 = time.perf_counter()
        _train_scale(run, k, progress, total)
        run.done = k
        run.seconds[k] = time.perf_counter() - t0  # type: ignore[index]
        with torch.no_grad():
            rec = reconstruct(run.model())
        run.scale_rmse[k] = rmse(rec, reals[k])  # type: ignore[index]
        if log:
            log(f"scale {k}/{run.N} {tuple(reals[k].shape[-2:])}: {run.seconds[k]:.1f} s, "  # type: ignore[index]
                f"reconstruction RMSE {run.scale_rmse[k]:.4f}")  # type: ignore[index]
        if checkpoint_dir is not None:
            _checkpoint(run, Path(checkpoint_dir), key, k)
    return finish(run, seed)


def finish(run: _Run, seed: int) -> SinGANModel:
    model = run.model()
    model.critic = None if run.d_state is None else {n: t.detach().clone() for n, t in run.d_state.items()}
    with torch.no_grad():
        outs = reconstruct(model, keep=True)
        assert isinstance(outs, list)
        finest = upsample_chain(model, outs)
        real = model.reals[-1]
        chain = [rmse(finest[i:i + 1], real) for i in range(finest.shape[0])]
    model.meta = {
        "preset": run.cfg.preset, "config": asdict(run.cfg), "seed": seed,
        "sizes": [list(s) for s in run.plan.sizes], "scale1": run.plan.scale1,
        "seconds_per_scale": run.seconds, "rmse_per_scale": run.scale_rmse,
        "rmse_at_finest_per_scale": [None] * model.first_scale + chain,
        "rmse": run.scale_rmse[-1] if run.scale_rmse else None,
        "seconds": sum(s for s in (run.seconds or []) if s is not None),
    }
    return model


def _total_iterations(run: _Run) -> int:
    return run.cfg.iterations * (run.N + 1 - run.cfg.first_scale)


# -- one scale ---------------------------------------------------------------------------------


def _train_scale(run: _Run, k: int, progress: Progress | None, total: int) -> None:
    cfg, device, gen = run.cfg, run.device, run.gen
    first = cfg.first_scale
    real = run.reals[k]
    size = run.plan.sizes[k]
    sf = run.plan.scale_factor
    cuda = device.type == "cuda"

    nfc, min_nfc = scale_width(k, cfg.nfc, cfg.min_nfc, cfg.max_nfc)
    widths = block_widths(nfc, min_nfc, cfg.num_layer)
    netG = Generator(widths, ker=cfg.ker)
    netD = Discriminator(widths, ker=cfg.ker)
    init_weights(netG, run.init_gen)
    init_weights(netD, run.init_gen)
    prev_g = run.generators[k - 1] if k > first else None
    if prev_g is not None and prev_g.widths == widths and run.d_state is not None:
        netG.load_state_dict(prev_g.state_dict())
        netD.load_state_dict(run.d_state)
    netG.to(device)
    netD.to(device)
    # channels-last convolutions are faster on CUDA and, above tiny sizes, on CPU (oneDNN) too
    channels_last = cuda or size[0] * size[1] >= 2500
    if channels_last:
        netG.to(memory_format=torch.channels_last)
        netD.to(memory_format=torch.channels_last)
    p = netG.pad
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (cuda and cfg.amp) else nullcontext()

    # Stages trained now: low … k (the lower ones at a scaled learning rate).
    low = max(first, k - cfg.concurrent + 1)
    lower = [run.generators[j] for j in range(low, k)]
    stages: list[Generator] = [*lower, netG]  # type: ignore[list-item]
    for g in lower:
        assert g is not None
        g.train()
        g.requires_grad_(True)
    for j in range(first, low):
        g = run.generators[j]
        assert g is not None
        g.eval()
        g.requires_grad_(False)

    # Fixed inputs: the reconstruction input at `low`, and the noise amplitude at k (from the
    # reconstruction of the scales below as they are before this round).
    with torch.no_grad():
        rec_in_low = _rec_input(run, low)
        run.noise_amp[k] = 1.0 if k == 0 else cfg.noise_amp * rmse(real, _rec_input(run, k))
    z_opt = torch.zeros((1, 3, size[0] + 2 * p, size[1] + 2 * p), device=device)

    groups = [{"params": g.parameters(), "lr": cfg.lr_g * cfg.lr_scale ** (k - j)}
              for j, g in zip(range(low, k + 1), stages, strict=True)]
    optG = _adam(groups, cfg.lr_g, cfg.beta1)
    optD = _adam([{"params": netD.parameters(), "lr": cfg.lr_d}], cfg.lr_d, cfg.beta1)
    iters = cfg.iterations
    drop_at = round(cfg.lr_drop * iters)
    done_before = iters * (k - first)

    def rand_input() -> torch.Tensor:
        with torch.no_grad():
            return _rand_input(run, low)

    def noises() -> list[torch.Tensor]:
        return [pad(noise_map(run.plan.sizes[j], j, gen, device), p) for j in range(low, k + 1)]

    def chain(x: torch.Tensor, zs: list[torch.Tensor], amps: list[float], start: int = low) -> torch.Tensor:
        for i, (j, g) in enumerate(zip(range(low, k + 1), stages, strict=True)):
            if j < start:
                continue
            if j > start:
                x = upsample_to(x, sf, run.plan.sizes[j], quantize=cfg.quantize_8bit)
            xp = pad(x, p)
            x = g(amps[i] * zs[i] + xp, xp)
        return x

    amps = [run.noise_amp[j] for j in range(low, k + 1)]
    inject_at = sorted({max(1, low), k}) if k >= 1 else []  # harmonization mode: injection scales trained
    rec_zs = [run.z_rec[j] for j in range(low, k)]
    netG.train()
    netD.train()
    for it in range(iters):
        if it == drop_at:
            for opt in (optG, optD):
                for group in opt.param_groups:
                    group["lr"] *= cfg.gamma
        if k == 0:  # the reference redraws the coarsest reconstruction noise every iteration
            z_opt = pad(noise_map(size, 0, gen, device), p)
        zs = noises()
        prev = rand_input()
        fake: torch.Tensor | None = None
        # (1) critic: maximise D(real) - D(fake) - GP
        for j in range(cfg.d_steps):
            if j > 0 and cfg.resample_per_d_step:
                prev = rand_input()
            keep_graph = j == cfg.d_steps - 1 and cfg.g_steps > 0
            with autocast:
                with torch.set_grad_enabled(keep_graph):
                    fake = chain(prev, zs, amps)
                optD.zero_grad(set_to_none=True)
                fd = fake.detach()
                errD = -netD(real).mean() + netD(fd).mean() + gradient_penalty(netD, real, fd, cfg.lambda_grad, gen)
            errD.backward()
            optD.step()
        # (2) generator: maximise D(fake) + α·reconstruction
        netD.requires_grad_(False)
        for j in range(cfg.g_steps):
            with autocast:
                if j > 0 or fake is None or not fake.requires_grad:
                    fake = chain(prev, zs, amps)
                errG = -netD(fake).mean()
                if cfg.alpha:
                    rec = chain(rec_in_low, [*rec_zs, z_opt], amps)
                    errG = errG + cfg.alpha * F.mse_loss(rec, real)
            optG.zero_grad(set_to_none=True)
            errG.backward()
            optG.step()
        netD.requires_grad_(True)
        for _ in range(cfg.rec_steps if cfg.alpha else 0):
            with autocast:
                rec = chain(rec_in_low, [*rec_zs, z_opt], amps)
                loss = cfg.alpha * F.mse_loss(rec, real)
            optG.zero_grad(set_to_none=True)
            loss.backward()
            optG.step()
        for step in range(cfg.harmonize_steps if inject_at else 0):
            j0 = inject_at[(it * cfg.harmonize_steps + step) % len(inject_at)]
            x_in = _injected(run, augment_scene(real, _draw_seed(gen)), j0)
            with autocast:
                out = chain(x_in, zs, amps, start=j0)
                loss = cfg.alpha * cfg.harmonize_weight * F.mse_loss(out, real)
            optG.zero_grad(set_to_none=True)
            loss.backward()
            optG.step()
        if progress is not None:
            progress(TrainProgress(done_before + it + 1, total, k, it + 1, iters, run.N))

    for g in stages:
        g.eval()
        g.requires_grad_(False)
        g.to(memory_format=torch.contiguous_format)
    run.generators[k] = netG
    run.z_rec[k] = z_opt
    run.d_state = {n: t.detach().clone() for n, t in netD.state_dict().items()}


def _draw_seed(gen: torch.Generator) -> int:
    """A seed for one augmented scene, from the run's generator (so a resumed run draws the same)."""
    return int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device))


def _injected(run: _Run, image: torch.Tensor, n: int) -> torch.Tensor:
    """Harmonization's input at scale ``n``: ``image`` resized to scale ``n - 1``, then one step up."""
    low = imresize(image, size=run.plan.sizes[n - 1]).clamp(-1, 1)
    return upsample_to(low, run.plan.scale_factor, run.plan.sizes[n])


def _adam(groups: list[dict[str, Any]], lr: float, beta1: float) -> torch.optim.Adam:
    """Adam, fused where this PyTorch supports it (one kernel instead of a Python loop per tensor)."""
    try:
        return torch.optim.Adam(groups, lr=lr, betas=(beta1, 0.999), fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups, lr=lr, betas=(beta1, 0.999))


def _stage(run: _Run, k: int, g: Generator, x: torch.Tensor, z: torch.Tensor, *, eval_mode: bool) -> torch.Tensor:
    """One generator at scale ``k`` on input ``x`` (unpadded) and padded noise ``z``."""
    p = g.pad
    was_training = g.training
    if eval_mode:
        g.eval()
    xp = pad(x, p)
    out = g(run.noise_amp[k] * z + xp, xp)
    g.train(was_training)
    return out


def _rec_input(run: _Run, k: int) -> torch.Tensor:
    """Reconstruction input at scale ``k``: the trained scales below fed their fixed noise."""
    x = run.start
    for j in range(run.cfg.first_scale, k):
        if j > run.cfg.first_scale:
            x = upsample_to(x, run.plan.scale_factor, run.plan.sizes[j], quantize=run.cfg.quantize_8bit)
        x = _stage(run, j, run.generators[j], x, run.z_rec[j], eval_mode=True)  # type: ignore[arg-type]
    if k > run.cfg.first_scale:
        x = upsample_to(x, run.plan.scale_factor, run.plan.sizes[k], quantize=run.cfg.quantize_8bit)
    return x


def _rand_input(run: _Run, k: int) -> torch.Tensor:
    """Random input at scale ``k``: a fresh sample of the (frozen) scales below, resized up."""
    x = run.start
    for j in range(run.cfg.first_scale, k):
        if j > run.cfg.first_scale:
            x = upsample_to(x, run.plan.scale_factor, run.plan.sizes[j], quantize=run.cfg.quantize_8bit)
        g = run.generators[j]
        assert g is not None
        z = pad(noise_map(run.plan.sizes[j], j, run.gen, run.device), g.pad)
        x = _stage(run, j, g, x, z, eval_mode=True)
    if k > run.cfg.first_scale:
        x = upsample_to(x, run.plan.scale_factor, run.plan.sizes[k], quantize=run.cfg.quantize_8bit)
    return x


# -- checkpoints -------------------------------------------------------------------------------

_PROGRESS = "progress.json"


def _run_key(image: torch.Tensor, cfg: TrainConfig, seed: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(image.detach().cpu().contiguous().numpy().tobytes())
    h.update(cfg.fingerprint().encode())
    h.update(str(seed).encode())
    return h.hexdigest()


def _checkpoint(run: _Run, folder: Path, key: str, k: int) -> None:
    """After scale ``k``: the generators trained in this stage, the critic, noise, RNG states."""
    folder.mkdir(parents=True, exist_ok=True)
    low = max(run.cfg.first_scale, k - run.cfg.concurrent + 1)
    tensors: dict[str, torch.Tensor] = {}
    for j in range(low, k + 1):
        g = run.generators[j]
        assert g is not None
        for n, t in g.state_dict().items():
            tensors[f"G{j}.{n}"] = t
    for n, t in (run.d_state or {}).items():
        tensors[f"D.{n}"] = t
    z = run.z_rec[k]
    assert z is not None
    tensors["z"] = z
    tensors["rng"] = run.gen.get_state()
    tensors["init_rng"] = run.init_gen.get_state()
    save_safetensors(folder / f"scale_{k:02d}.safetensors", tensors)
    state = load_json(folder / _PROGRESS) if (folder / _PROGRESS).exists() else {}
    if state.get("key") != key:
        state = {"key": key, "scales": {}}
    state["scales"][str(k)] = {"noise_amp": run.noise_amp[k], "widths": run.generators[k].widths,  # type: ignore[union-attr]
                               "seconds": run.seconds[k], "rmse": run.scale_rmse[k]}  # type: ignore[index]
    save_json(folder / _PROGRESS, state)


def _resume(run: _Run, folder: Path, key: str, log: Callable[[str], None] | None) -> None:
    path = folder / _PROGRESS
    if not path.exists():
        return
    state = load_json(path)
    if state.get("key") != key:
        return
    k = run.cfg.first_scale
    while str(k) in state["scales"] and (folder / f"scale_{k:02d}.safetensors").exists():
        info = state["scales"][str(k)]
        tensors = load_safetensors(folder / f"scale_{k:02d}.safetensors")
        for j in range(max(run.cfg.first_scale, k - run.cfg.concurrent + 1), k + 1):
            widths = info["widths"] if j == k else run.generators[j].widths  # type: ignore[union-attr]
            g = Generator(widths, ker=run.cfg.ker)
            prefix = f"G{j}."
            g.load_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)})
            g.to(run.device).eval().requires_grad_(False)
            run.generators[j] = g
        run.d_state = {n[2:]: t.to(run.device) for n, t in tensors.items() if n.startswith("D.")}
        run.z_rec[k] = tensors["z"].to(run.device)
        run.noise_amp[k] = float(info["noise_amp"])
        run.seconds[k] = info.get("seconds")  # type: ignore[index]
        run.scale_rmse[k] = info.get("rmse")  # type: ignore[index]
        run.gen.set_state(tensors["rng"].cpu())
        run.init_gen.set_state(tensors["init_rng"].cpu())
        run.done = k
        k += 1
    if log and run.done >= run.cfg.first_scale:
        log(f"resuming after scale {run.done} from {folder}")


def describe(cfg: TrainConfig, plan: PyramidPlan) -> str:
    n = plan.stop_scale + 1 - cfg.first_scale
    mode = f", harmonize ×{cfg.harmonize_steps}" if cfg.harmonize_steps else ""
    return (f"{cfg.preset}{mode}: {n} scales {plan.sizes[cfg.first_scale]}…{plan.finest}, r={plan.scale_factor:.4f}, "
            f"{cfg.iterations} it/scale, {cfg.d_steps}D+{cfg.g_steps}G, concurrent {cfg.concurrent}")


__all__ = ["PRESETS", "TrainConfig", "TrainProgress", "make_config", "train_singan"]
