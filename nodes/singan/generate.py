"""Running a trained pyramid: noise maps, the coarse-to-fine pass, reconstruction.

This is the reference's ``SinGAN_generate``/``draw_concat`` written once for every application:
start at scale ``n`` from an image ``in_s`` (zeros at scale 0), and at each scale ``k`` feed
``G_k(amp_k · z_k + pad(x), pad(x))`` where ``x`` is the previous output resized by ``1/r``
(clamped to [-1, 1] and cropped to the scale's size, as the reference's 8-bit resize does; for
models with ``quantize_8bit`` — those imported from the reference — also truncated to 8 bits
before each resize, exactly as the reference does, so they give back its own outputs).
Batches of B images go through in one pass (BatchNorm is in eval mode, so samples do not mix);
a noise map with batch 1 is shared by the whole batch, which is what keeps harmonized video
frames from flickering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .handle import SinGANModel
from .imresize import imresize, imresize_8bit
from .pyramid import first_input, upsample_to


def pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Zero padding by ``p`` on each side (the reference's ``nn.ZeroPad2d``)."""
    return F.pad(x, (p, p, p, p)) if p else x


def noise_map(size: tuple[int, int], scale: int, generator: torch.Generator, device: torch.device,
              batch: int = 1, channels: int = 3) -> torch.Tensor:
    """Gaussian noise ``(batch, 3, h, w)``; one channel repeated at the coarsest scale (reference)."""
    c = 1 if scale == 0 else channels
    z = torch.randn((batch, c, size[0], size[1]), generator=generator, device=generator.device)
    z = z.to(device)
    return z.expand(batch, channels, size[0], size[1]) if c == 1 else z


NoiseFn = Callable[[int, tuple[int, int]], torch.Tensor]
"""``(scale, (h, w)) -> unpadded noise (1 or B, 3, h, w)`` for one scale."""


def seeded_noise(generator: torch.Generator, device: torch.device, batch: int = 1) -> NoiseFn:
    def make(scale: int, size: tuple[int, int]) -> torch.Tensor:
        return noise_map(size, scale, generator, device, batch)

    return make


def run_pyramid(model: SinGANModel, start: int, in_s: torch.Tensor, noise: NoiseFn, *,
                stop: int | None = None, rec_below: int = 0, size_scale: tuple[float, float] = (1.0, 1.0),
                keep: bool = False) -> torch.Tensor | list[torch.Tensor]:
    """Generate from scale ``start`` (input ``in_s`` at that scale) up to ``stop`` (default N).

    ``in_s``: ``(B, 3, h_start, w_start)`` in [-1, 1] (zeros to sample from scratch at scale 0).
    Scales below ``rec_below`` use the fixed reconstruction noise instead of ``noise`` (the
    reference's ``gen_start_scale``). ``size_scale`` = ``(scale_v, scale_h)`` generates at other
    sizes/aspects. Returns the output at ``stop`` ``(B, 3, h, w)`` in [-1, 1], or every scale's
    output when ``keep``.
    """
    stop = model.N if stop is None else stop
    p = model.pad
    sv, sh = size_scale
    outs: list[torch.Tensor] = []
    x = in_s
    for k in range(start, stop + 1):
        g = model.generators[k]
        if g is None:
            raise ValueError(f"scale {k} has no trained generator")
        h, w = model.sizes[k]
        th, tw = (h, w) if (sv, sh) == (1.0, 1.0) else (round(sv * h), round(sh * w))
        if k > start:
            x = upsample_to(x, model.scale_factor, (th, tw), quantize=model.quantize_8bit)
        if k < rec_below:
            z_rec = model.z_rec[k]
            assert z_rec is not None
            z = z_rec
        else:
            z = pad(noise(k, (th, tw)), p)
        xp = pad(x, p)
        x = g(model.noise_amp[k] * z + xp, xp)
        if keep:
            outs.append(x)
    return outs if keep else x


def reconstruct(model: SinGANModel, *, keep: bool = False) -> torch.Tensor | list[torch.Tensor]:
    """The pyramid fed its fixed reconstruction noise: should give back the training image.

    From the first trained scale ``s``; for ``s > 0`` the input is ``reals[s-1]`` resized up.
    """
    s = model.first_scale
    in_s = first_input(model.reals, s, model.scale_factor, quantize=model.quantize_8bit)

    def no_noise(k: int, size: tuple[int, int]) -> torch.Tensor:
        raise AssertionError("reconstruction uses the fixed noise")

    return run_pyramid(model, s, in_s, no_noise, rec_below=model.N + 1, keep=keep)


def inject(model: SinGANModel, image: torch.Tensor, n: int) -> torch.Tensor:
    """The reference's injection input at scale ``n`` (harmonization, editing, paint-to-image).

    ``image``: ``(B, 3, h_N, w_N)`` in [-1, 1] at training resolution. It is resized to scale
    ``n - 1`` (``r^(N-n+1)``), cropped, then resized up one step to scale ``n`` and cropped.
    """
    N = model.N
    lo = model.sizes[n - 1]
    down = imresize_8bit if model.quantize_8bit else lambda t, s: imresize(t, s).clamp(-1, 1)
    x = down(image, model.scale_factor ** (N - n + 1))[..., : lo[0], : lo[1]]
    return upsample_to(x, model.scale_factor, model.sizes[n], quantize=model.quantize_8bit)


def regenerate(model: SinGANModel, images: torch.Tensor, n: int, *, generator: torch.Generator,
               chunk: int = 8) -> torch.Tensor:
    """Inject images at scale ``n`` and generate up to the finest scale (harmonize, edit, paint).

    ``images``: ``(B, 3, h_N, w_N)`` in [0, 1] at training resolution -> the same shape in [0, 1].
    One noise map per scale, drawn from ``generator``, is shared by all B images (identical frames
    give identical results, so a clip does not flicker); B is processed ``chunk`` at a time.
    """
    draw = seeded_noise(generator, model.device, batch=1)
    noises = {k: draw(k, model.sizes[k]) for k in range(n, model.N + 1)}
    out = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], chunk):
            x = run_pyramid(model, n, inject(model, from_unit(images[i:i + chunk]), n), lambda k, s: noises[k])
            assert isinstance(x, torch.Tensor)
            out.append(to_unit(x))
    return torch.cat(out, dim=0)


def rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.sqrt(F.mse_loss(a.float(), b.float())))


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (the reference's ``denorm``)."""
    return ((x + 1) / 2).clamp(0, 1)


def from_unit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1] (the reference's ``norm``)."""
    return (x * 2 - 1).clamp(-1, 1)


def upsample_chain(model: SinGANModel, images: Sequence[torch.Tensor]) -> torch.Tensor:
    """Each scale's output resized to the finest size (to compare reconstruction across scales)."""
    size = model.sizes[-1]
    return torch.cat([imresize(x, size=size) if tuple(x.shape[-2:]) != size else x for x in images], dim=0)
