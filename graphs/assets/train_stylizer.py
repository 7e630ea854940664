"""Train the shipped demo stylizer: CycleGAN-format generators taught, with pairs, to imitate a painterly filter.

    .venv/bin/pip install -e ".[data]"      # china.jpg, flower.jpg, grace_hopper.jpg
    OMP_NUM_THREADS=1 .venv/bin/python graphs/assets/train_stylizer.py out/models/stylizer

Honest label: this model is *trained to imitate a painterly filter*, OpenCV's edge-preserving
``cv2.stylization`` (flat colour regions, inked edges; ``make_training_data.paint``), not to
paint like any artist. No painting collection ships with the installed packages, and an unpaired
CycleGAN on eight photos needs far more steps than two shared cores give (1 200 steps gave a
grainy mosaic). Because the filter can be applied to every training photo, each
photo has its exact painting, so both directions are learnt by paired regression on random
windows: G_A (photo -> painting) and G_B (painting -> photo), each with an L1 loss, the
networks and file format of the project's CycleGAN (``resnet_6blocks``, instance norm), so
``LoadCycleGAN`` / ``Stylize`` use it unchanged and a published ``latest_net_G.pth`` swaps in.

Pairs are made at three sizes (longest side 256/192/128, as ``make_training_data``), so the
filter's 60 px smoothing is seen at several scales; a window is cut at the same place in photo
and painting and flipped alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for p in (ROOT, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from make_training_data import SIZES, TRAIN, available, fit, paint  # noqa: E402

from nodeflow.atomic import write_json_atomic  # noqa: E402
from nodeflow.nodes.cyclegan.handle import CycleGANHandle  # noqa: E402
from nodeflow.nodes.gan.schedule import linear_decay_scheduler  # noqa: E402
from nodeflow.nodes.pix2pix.networks import GeneratorSpec  # noqa: E402


@dataclass(frozen=True)
class StylizerOptions:
    steps: int = 2500
    batch_size: int = 4
    crop: int = 64
    ngf: int = 16
    lr: float = 2e-4
    save_every: int = 250
    seed: int = 0


def pairs(images: list[np.ndarray]) -> list[tuple[Tensor, Tensor]]:
    """(photo, painting) ``(3, H, W)`` float pairs, each photo at the three ``SIZES``."""
    out = []
    for img in images:
        for size in SIZES:
            photo = fit(img, size)
            out.append(tuple(torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255.0
                             for im in (photo, paint(photo))))
    return out


def paired_windows(data: list[tuple[Tensor, Tensor]], n: int, crop: int,
                   gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` random ``crop``-px windows, the same place (and flip) in photo and painting: ``(A, B)``."""
    a, b = [], []
    for _ in range(n):
        photo, art = data[int(torch.randint(0, len(data), (), generator=gen))]
        h, w = photo.shape[-2:]
        top = int(torch.randint(0, h - crop + 1, (), generator=gen))
        left = int(torch.randint(0, w - crop + 1, (), generator=gen))
        flip = bool(torch.rand((), generator=gen) < 0.5)
        for src, dst in ((photo, a), (art, b)):
            win = src[:, top:top + crop, left:left + crop]
            dst.append(win.flip(-1) if flip else win)
    return torch.stack(a), torch.stack(b)


def train(opts: StylizerOptions, data: list[tuple[Tensor, Tensor]], out: Path, log=print) -> dict[str, float]:
    """Both generators by paired L1; saved (CycleGAN format) every ``save_every`` steps and at the end."""
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    spec = GeneratorSpec("resnet_6blocks", 3, 3, opts.ngf, "instance", False)
    g_a, g_b = spec.build("normal", 0.02).train(), spec.build("normal", 0.02).train()
    opt = torch.optim.Adam([*g_a.parameters(), *g_b.parameters()], lr=opts.lr, betas=(0.5, 0.999))
    sched = linear_decay_scheduler(opt, opts.steps // 2, opts.steps - opts.steps // 2)
    t0, history = time.monotonic(), []
    for step in range(1, opts.steps + 1):
        photo, art = paired_windows(data, opts.batch_size, opts.crop, gen)
        photo, art = photo * 2 - 1, art * 2 - 1
        loss_a = (g_a(photo) - art).abs().mean()
        loss_b = (g_b(art) - photo).abs().mean()
        opt.zero_grad(set_to_none=True)
        (loss_a + loss_b).backward()
        opt.step()
        sched.step()
        if step % opts.save_every == 0 or step == opts.steps:
            row = {"step": step, "l1_a": loss_a.item() * 127.5, "l1_b": loss_b.item() * 127.5,
                   "seconds": round(time.monotonic() - t0)}
            history.append(row)
            log(f"step {step}: |G_A(photo) - painting| {row['l1_a']:.1f}/255, |G_B(painting) - photo| "
                f"{row['l1_b']:.1f}/255  {row['seconds']} s")
            copies = []
            for net in (g_a, g_b):
                copy = spec.build()
                copy.load_state_dict(net.state_dict())
                copies.append(copy.eval())
            CycleGANHandle(copies[0], spec, copies[1], spec, net_size=256).save(out)
            write_json_atomic(out / "training.json", {"objective": "paired L1 imitation of cv2.stylization",
                                                       "options": asdict(opts), "history": history})
    return history[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, nargs="?", default=Path("out/models/stylizer"))
    for field, default in asdict(StylizerOptions()).items():
        ap.add_argument("--" + field.replace("_", "-"), type=type(default), default=default)
    args = ap.parse_args(argv)
    opts = StylizerOptions(**{k: getattr(args, k) for k in asdict(StylizerOptions())})
    names, images = zip(*available(TRAIN), strict=True)
    print(f"photos: {', '.join(names)}; options {json.dumps(asdict(opts))}")
    train(opts, pairs(list(images)), args.out)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
