"""A short fine-tune of a trained pyramid on the naive composite itself (ConSinGAN's ``--fine_tune``).

What ConSinGAN does (tohinz/ConSinGAN, ``main_train.py --fine_tune`` and
``training_harmonization_editing.py``): it loads the trained model — every stage's generator,
the finest stage's critic, the fixed reconstruction noise and the noise amplitudes, all kept as
they were — and runs one more round of the finest stage only (``start_scale = train_stages - 1``),
training the top ``train_depth`` (3) stages, the lower ones at learning rate ×``lr_scale`` (0.1)
per stage, Adam 5e-4 (β 0.5, 0.999) for generator and critic, ×0.1 at 80 % of ``niter``
(the command line's, default 2000; its README: "1–5 minutes" on a GPU). The only change from
training is what the generator is fed: the naive composite instead of an augmented scene. The
losses stay those of training: WGAN-GP critic (3 steps, λ 0.1) between the real scene and the
generated image, generator = adversarial + α·MSE of the scene's reconstruction (α 10).

Here the same, adapted to SinGAN's injection (harmonization enters at a scale n and runs the
generators n … N; ConSinGAN's harmonization model feeds the image to its coarsest stage):

- the composite is injected as ``Harmonize`` does, at every valid n in turn (or at the n given),
  the generators n … N run on it with fresh noise, and the top ``stages`` generators are trained;
- the critic is the one the training ended with (``SinGANModel.critic``); models that carry none
  (imported, or trained before nodeflow kept it) get a fresh seeded critic;
- one generator gradient per iteration by default (ConSinGAN computes one and applies it
  ``Gsteps`` = 3 times; here ``g_steps`` > 1 recomputes it, as in training);
- with a mask, an optional term keeps the background: outside the dilated mask the output must
  stay the composite (which is the scene there), weight ``background`` × α. ConSinGAN has no mask
  at this point; 0 switches it off.

The input model is never modified (the cache holds it): the result is a deep copy. Checkpoints
every ``checkpoint_every`` iterations (weights, critic, Adam moments, RNG) make an interrupted
fine-tune resume exactly where it stopped.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nodeflow.checkpoint import load_json, load_safetensors, save_json, save_safetensors

from .generate import from_unit, inject, noise_map, pad, reconstruct, rmse
from .handle import SinGANModel
from .imresize import resize_to
from .networks import Discriminator, init_weights
from .pyramid import first_input, upsample_to
from .train import Progress, TrainProgress, _adam, gradient_penalty


@dataclass(frozen=True)
class FineTuneConfig:
    """The fine-tune's knobs (defaults: ConSinGAN's, with fewer iterations for a CPU)."""

    iterations: int = 200
    stages: int = 2
    """Top generators trained (ConSinGAN: 3; nodeflow's ``fast`` trains 2 together)."""
    scales: tuple[int, ...] = ()
    """Injection scales cycled through, one per iteration (empty: every valid n)."""
    d_steps: int = 3
    g_steps: int = 1
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    lr_scale: float = 0.1
    lr_drop: float = 0.8
    gamma: float = 0.1
    lambda_grad: float = 0.1
    alpha: float = 10.0
    background: float = 1.0
    """Weight (× alpha) of the keep-the-background term when a mask is given (0 = ConSinGAN's losses only)."""
    checkpoint_every: int = 50

    def fingerprint(self) -> str:
        d = asdict(self)
        d.pop("checkpoint_every")
        return hashlib.blake2b(json.dumps(d, sort_keys=True).encode(), digest_size=8).hexdigest()


def trained_stages(model: SinGANModel, stages: int) -> list[int]:
    """The scales a fine-tune with ``stages`` trains: the top ones, never below the first trained scale."""
    return list(range(max(model.first_scale, model.N - stages + 1), model.N + 1))


def injection_scales(model: SinGANModel, cfg: FineTuneConfig) -> list[int]:
    valid = list(range(max(1, model.first_scale), model.N + 1))
    scales = list(cfg.scales) or valid
    bad = [n for n in scales if n not in valid]
    if bad:
        raise ValueError(f"injection scales {bad} outside this model's {valid[0]}…{valid[-1]}")
    return scales


def background_weight(mask: torch.Tensor, size: tuple[int, int], radius: int = 3) -> torch.Tensor:
    """1 where the composite is surely the scene: outside the mask dilated by ``radius`` training px."""
    m = (resize_to(mask[:1, :1].float(), size) > 1 / 255).float()
    if radius:
        m = F.max_pool2d(m, 2 * radius + 1, stride=1, padding=radius)
    return 1 - m


def finetune_singan(model: SinGANModel, composite: torch.Tensor, cfg: FineTuneConfig, *, seed: int = 0,
                    mask: torch.Tensor | None = None, device: torch.device | str = "cpu",
                    checkpoint_dir: Path | None = None, progress: Progress | None = None,
                    log: Callable[[str], None] | None = None) -> SinGANModel:
    """Fine-tune a copy of ``model`` on ``composite`` ``(1, 3+, H, W)`` in [0, 1]; ``model`` is untouched."""
    device = torch.device(device)
    if composite.ndim != 4 or composite.shape[0] != 1 or composite.shape[1] < 3:
        raise ValueError(f"expected one RGB composite (1, 3, H, W), got {tuple(composite.shape)}")
    scales = injection_scales(model, cfg)
    tuned = copy.deepcopy(model).to(device)
    tuned.meta = dict(model.meta)
    N = tuned.N
    stage_ids = trained_stages(tuned, cfg.stages)
    low = stage_ids[0]
    size = tuned.sizes[-1]
    comp = from_unit(resize_to(composite[:1, :3].float().to(device), size))
    real = tuned.reals[-1]
    keep = None if mask is None or not cfg.background else background_weight(mask.to(device), size)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)

    g_last = tuned.generators[N]
    assert g_last is not None
    netD = Discriminator(list(g_last.widths), ker=g_last.ker)
    if tuned.critic is not None:
        netD.load_state_dict(tuned.critic)
    else:
        init_gen = torch.Generator()
        init_gen.manual_seed(seed + 1)
        init_weights(netD, init_gen)
        if log:
            log("this model carries no critic (imported, or trained before models kept it): a fresh one is trained")
    netD.to(device).train()
    stages = [tuned.generators[j] for j in stage_ids]
    for g in stages:
        assert g is not None
        g.train()
        g.requires_grad_(True)
    groups = [{"params": g.parameters(), "lr": cfg.lr_g * cfg.lr_scale ** (N - j)}  # type: ignore[union-attr]
              for j, g in zip(stage_ids, stages, strict=True)]
    optG = _adam(groups, cfg.lr_g, cfg.beta1)
    optD = _adam([{"params": netD.parameters(), "lr": cfg.lr_d}], cfg.lr_d, cfg.beta1)
    p = g_last.pad
    sf = tuned.scale_factor
    quantize = tuned.quantize_8bit

    with torch.no_grad():
        rec_low = _rec_input(tuned, low)
        injected = {n: inject(tuned, comp, n) for n in sorted(set(scales))}

    def forward(x: torch.Tensor, start: int, zs: dict[int, torch.Tensor], rec: bool) -> torch.Tensor:
        """Scales ``start`` … N on ``x`` (at ``start``); the frozen ones below ``low`` without a graph."""
        for k in range(start, N + 1):
            if k > start:
                x = upsample_to(x, sf, tuned.sizes[k], quantize=quantize)
            g = tuned.generators[k]
            assert g is not None
            z = tuned.z_rec[k] if rec else zs[k]
            xp = pad(x, p)
            with torch.set_grad_enabled(k >= low and torch.is_grad_enabled()):
                x = g(tuned.noise_amp[k] * z + xp, xp)
        return x

    key = _run_key(model, comp, keep, cfg, seed)
    start_it = 0
    history: list[float] = []
    if checkpoint_dir is not None:
        start_it, history = _resume(Path(checkpoint_dir), key, stages, netD, optG, optD, gen, log)
    drop_at = round(cfg.lr_drop * cfg.iterations)
    t0 = time.perf_counter()
    for it in range(start_it, cfg.iterations):
        if it == drop_at:
            for opt in (optG, optD):
                for group in opt.param_groups:
                    group["lr"] *= cfg.gamma
        n = scales[it % len(scales)]
        zs = {k: pad(noise_map(tuned.sizes[k], k, gen, device), p) for k in range(n, N + 1)}
        fake = forward(injected[n], n, zs, rec=False)
        for _ in range(cfg.d_steps):
            optD.zero_grad(set_to_none=True)
            fd = fake.detach()
            errD = -netD(real).mean() + netD(fd).mean() + gradient_penalty(netD, real, fd, cfg.lambda_grad, gen)
            errD.backward()
            optD.step()
        netD.requires_grad_(False)
        for j in range(cfg.g_steps):
            if j > 0:
                fake = forward(injected[n], n, zs, rec=False)
            errG = -netD(fake).mean()
            rec = forward(rec_low, low, zs, rec=True)
            errG = errG + cfg.alpha * F.mse_loss(rec, real)
            if keep is not None:
                errG = errG + cfg.alpha * cfg.background * _masked_mse(fake, comp, keep)
            optG.zero_grad(set_to_none=True)
            errG.backward()
            optG.step()
        netD.requires_grad_(True)
        history.append(float(errG.detach()))
        if checkpoint_dir is not None and (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.iterations:
            _checkpoint(Path(checkpoint_dir), key, it + 1, history, stages, netD, optG, optD, gen)
        if progress is not None:
            progress(TrainProgress(it + 1, cfg.iterations, N, it + 1, cfg.iterations, N))

    for g in stages:
        g.eval()  # type: ignore[union-attr]
        g.requires_grad_(False)  # type: ignore[union-attr]
    tuned.critic = {k: t.detach().clone() for k, t in netD.state_dict().items()}
    with torch.no_grad():
        rec_out = reconstruct(tuned)
    assert isinstance(rec_out, torch.Tensor)
    tuned.meta["finetune"] = {**asdict(cfg), "seed": seed, "stages_trained": stage_ids, "scales": scales,
                              "seconds": time.perf_counter() - t0, "rmse": rmse(rec_out, real),
                              "generator_loss": history, "had_critic": model.critic is not None}
    return tuned


def composite_error(model: SinGANModel, composite: torch.Tensor, mask: torch.Tensor, n: int, seed: int = 0) -> float:
    """MSE (in [-1, 1] units) outside the dilated mask between the composite and its regeneration at n:
    what the fine-tune's background term lowers (a measure of how well the model reproduces the scene
    around the paste when fed the composite)."""
    size = model.sizes[-1]
    device = model.device
    comp = from_unit(resize_to(composite[:1, :3].float().to(device), size))
    keep = background_weight(mask.to(device), size)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        x = inject(model, comp, n)
        for k in range(n, model.N + 1):
            if k > n:
                x = upsample_to(x, model.scale_factor, model.sizes[k], quantize=model.quantize_8bit)
            g = model.generators[k]
            assert g is not None
            z = pad(noise_map(model.sizes[k], k, gen, device), g.pad)
            xp = pad(x, g.pad)
            x = g(model.noise_amp[k] * z + xp, xp)
    return float(_masked_mse(x, comp, keep))


def _masked_mse(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2 * weight).sum() / (weight.sum() * a.shape[1]).clamp_min(1)


def _rec_input(model: SinGANModel, k: int) -> torch.Tensor:
    """The reconstruction input at scale ``k``: the scales below fed their fixed noise."""
    s = model.first_scale
    x = first_input(model.reals, s, model.scale_factor, quantize=model.quantize_8bit)
    for j in range(s, k):
        if j > s:
            x = upsample_to(x, model.scale_factor, model.sizes[j], quantize=model.quantize_8bit)
        g = model.generators[j]
        assert g is not None and model.z_rec[j] is not None
        xp = pad(x, g.pad)
        x = g(model.noise_amp[j] * model.z_rec[j] + xp, xp)
    if k > s:
        x = upsample_to(x, model.scale_factor, model.sizes[k], quantize=model.quantize_8bit)
    return x


# -- checkpoints -------------------------------------------------------------------------------

_STATE = "finetune.json"
_WEIGHTS = "finetune.safetensors"


def _run_key(model: SinGANModel, comp: torch.Tensor, keep: torch.Tensor | None, cfg: FineTuneConfig,
             seed: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    for g in model.generators:
        for t in ([] if g is None else g.state_dict().values()):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    for t in [*model.reals, *(z for z in model.z_rec if z is not None), *(model.critic or {}).values()]:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps(model.noise_amp).encode())
    h.update(comp.detach().cpu().contiguous().numpy().tobytes())
    if keep is not None:
        h.update(keep.detach().cpu().contiguous().numpy().tobytes())
    h.update(cfg.fingerprint().encode())
    h.update(str(seed).encode())
    return h.hexdigest()


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors = {f"{prefix}.{i}.{name}": t for i, st in sd["state"].items() for name, t in st.items()
               if isinstance(t, torch.Tensor)}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "indices": sorted(sd["state"])}


def _load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor],
                    info: dict[str, Any], device: torch.device) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for i in info["indices"]:
        head = f"{prefix}.{i}."
        state[int(i)] = {n[len(head):]: t.to(device) for n, t in tensors.items() if n.startswith(head)}
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in info["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def _checkpoint(folder: Path, key: str, done: int, history: list[float], stages: list[Any],
                netD: torch.nn.Module, optG: torch.optim.Optimizer, optD: torch.optim.Optimizer,
                gen: torch.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for i, g in enumerate(stages):
        tensors.update({f"G{i}.{n}": t for n, t in g.state_dict().items()})
    tensors.update({f"D.{n}": t for n, t in netD.state_dict().items()})
    tg, info_g = _optimizer_tensors("optG", optG)
    td, info_d = _optimizer_tensors("optD", optD)
    tensors.update(tg)
    tensors.update(td)
    tensors["rng"] = gen.get_state()
    save_safetensors(folder / _WEIGHTS, tensors)
    save_json(folder / _STATE, {"key": key, "done": done, "history": history, "optG": info_g, "optD": info_d})


def _resume(folder: Path, key: str, stages: list[Any], netD: torch.nn.Module, optG: torch.optim.Optimizer,
            optD: torch.optim.Optimizer, gen: torch.Generator,
            log: Callable[[str], None] | None) -> tuple[int, list[float]]:
    if not (folder / _STATE).exists() or not (folder / _WEIGHTS).exists():
        return 0, []
    state = load_json(folder / _STATE)
    if state.get("key") != key:
        return 0, []
    tensors = load_safetensors(folder / _WEIGHTS)
    device = next(netD.parameters()).device
    for i, g in enumerate(stages):
        g.load_state_dict({n[len(f"G{i}."):]: t for n, t in tensors.items() if n.startswith(f"G{i}.")})
    netD.load_state_dict({n[2:]: t for n, t in tensors.items() if n.startswith("D.")})
    _load_optimizer(optG, "optG", tensors, state["optG"], device)
    _load_optimizer(optD, "optD", tensors, state["optD"], device)
    gen.set_state(tensors["rng"].cpu())
    if log:
        log(f"fine-tune resuming after iteration {state['done']} from {folder}")
    return int(state["done"]), list(state["history"])


__all__ = ["FineTuneConfig", "composite_error", "finetune_singan", "trained_stages"]
