"""The other SinGAN applications: random samples, animation, super-resolution, paint-to-image.

Each follows the reference script of the same name (``random_samples.py``, ``animation.py`` /
``manipulate.generate_gif``, ``SR.py``, ``paint2image.py``); editing is harmonization with a
larger dilation (``harmonize.py``). Everything runs under ``torch.inference_mode`` in batches.
"""

from __future__ import annotations

import math

import torch

from .generate import from_unit, noise_map, pad, regenerate, run_pyramid, seeded_noise, to_unit
from .handle import SinGANModel
from .imresize import imresize, imresize_8bit, resize_to
from .pyramid import upsample_to


def sample(model: SinGANModel, num: int, *, generator: torch.Generator, start_scale: int = 0,
           scale_v: float = 1.0, scale_h: float = 1.0, chunk: int = 8) -> torch.Tensor:
    """``num`` random samples ``(num, 3, h, w)`` in [0, 1].

    ``start_scale``: scales below it use the fixed reconstruction noise, so coarse structure
    follows the training image (the reference's ``gen_start_scale``). ``scale_v``/``scale_h``
    change the output's size and aspect (the reference's arbitrary-size samples), with random
    noise at every scale.
    """
    if model.first_scale != 0:
        raise ValueError("random samples need a model trained from scale 0")
    resized = (scale_v, scale_h) != (1.0, 1.0)
    if resized and start_scale > 0:
        raise ValueError("samples at another size draw random noise at every scale: use start scale 0")
    h0, w0 = model.sizes[0]
    size0 = (round(scale_v * h0), round(scale_h * w0))
    out = []
    with torch.inference_mode():
        for i in range(0, num, chunk):
            b = min(chunk, num - i)
            in_s = torch.zeros((b, 3, *size0), device=model.device)
            x = run_pyramid(model, 0, in_s, seeded_noise(generator, model.device, b), rec_below=start_scale,
                            size_scale=(scale_v, scale_h))
            assert isinstance(x, torch.Tensor)
            out.append(to_unit(x))
    return torch.cat(out, dim=0)


def animate(model: SinGANModel, frames: int, *, generator: torch.Generator, alpha: float = 0.1,
            beta: float = 0.9, start_scale: int = 2, chunk: int = 8) -> torch.Tensor:
    """A random walk in noise space around the reconstruction noise: ``(frames, 3, h, w)``.

    Per scale, ``z_t = α·Z_rec + (1-α)·(z_{t-1} + β·(z_{t-1} - z_{t-2}) + (1-β)·ε_t)`` starting
    from ``0.95·Z_rec + 0.05·ε``; scales below ``start_scale`` keep ``Z_rec`` (reference
    ``generate_gif``). Noise covers the padded maps, as in the reference.
    """
    if model.first_scale != 0:
        raise ValueError("animation needs a model trained from scale 0")
    device = model.device
    with torch.inference_mode():
        prev_imgs: torch.Tensor | None = None
        for k in range(model.N + 1):
            g = model.generators[k]
            z_opt = model.z_rec[k]
            assert g is not None and z_opt is not None
            hz, wz = z_opt.shape[-2:]

            def eps(k: int = k, hz: int = hz, wz: int = wz) -> torch.Tensor:
                return noise_map((hz, wz), k, generator, device)

            if k < start_scale:
                zs = z_opt.expand(frames, -1, -1, -1)
            else:
                z1, z2 = 0.95 * z_opt + 0.05 * eps(), z_opt
                walk = []
                for _ in range(frames):
                    diff = beta * (z1 - z2) + (1 - beta) * eps()
                    z = alpha * z_opt + (1 - alpha) * (z1 + diff)
                    z2, z1 = z1, z
                    walk.append(z)
                zs = torch.cat(walk, dim=0)
            if prev_imgs is None:
                i_prev = torch.zeros((frames, 3, hz, wz), device=device)
            else:
                i_prev = pad(upsample_to(prev_imgs, model.scale_factor, model.sizes[k], quantize=model.quantize_8bit),
                            model.pad)
            outs = [g(model.noise_amp[k] * zs[i:i + chunk] + i_prev[i:i + chunk], i_prev[i:i + chunk])
                    for i in range(0, frames, chunk)]
            prev_imgs = torch.cat(outs, dim=0)
        assert prev_imgs is not None
        return to_unit(prev_imgs)


SR_STEP = 2 ** (1 / 3)
"""The reference's nominal upscale per step (``calc_init_scale``); train SR models with r = 1/SR_STEP."""


def sr_steps(factor: float, base: float = SR_STEP) -> tuple[float, int]:
    """``(per-step upscale, steps)``: steps of about ``base`` whose product is exactly ``factor``."""
    steps = max(1, round(math.log(factor) / math.log(base)))
    return factor ** (1.0 / steps), steps


def super_resolution(model: SinGANModel, factor: float, *, generator: torch.Generator,
                     image: torch.Tensor | None = None, noise: bool = True) -> torch.Tensor:
    """Upscale ``image`` (default: the training image) by ``factor`` with the finest generator.

    The image is enlarged step by step; at each step the finest generator adds detail
    ``G_N(amp_N·z + up(x), up(x))`` (reference ``SR.py``). ``(B, 3, H, W)`` in [0, 1] ->
    ``(B, 3, ⌊factor·H⌋, ⌊factor·W⌋)``.
    """
    g = model.generators[-1]
    assert g is not None
    amp = model.noise_amp[-1]
    x = model.reals[-1] if image is None else from_unit(image[:, :3].to(model.device))
    h0, w0 = x.shape[-2:]
    step, steps = sr_steps(factor)
    with torch.inference_mode():
        for i in range(steps):
            x = imresize_8bit(x, step) if model.quantize_8bit else imresize(x, step).clamp(-1, 1)
            z = noise_map(tuple(x.shape[-2:]), 0 if i == 0 else 1, generator, model.device, batch=1)
            if not noise:
                z = torch.zeros_like(z)
            xp = pad(x, model.pad)
            x = g(amp * pad(z, model.pad) + xp, xp)
    return to_unit(x[..., : int(factor * h0), : int(factor * w0)])


def paint_to_image(model: SinGANModel, paint: torch.Tensor, n: int, *, generator: torch.Generator,
                   chunk: int = 8) -> torch.Tensor:
    """Turn a clip-art/paint image into a realistic one by injecting it at scale ``n``.

    ``(B, 3|4, H, W)`` in [0, 1] -> ``(B, 3, h_N, w_N)`` at training resolution.
    """
    model.check_scale(n)
    return regenerate(model, resize_to(paint[:, :3], model.sizes[-1]), n, generator=generator, chunk=chunk)


__all__ = ["animate", "paint_to_image", "sample", "sr_steps", "super_resolution"]
