"""CycleGAN nodes: train on unpaired folders, load (ours or the reference's files), stylize."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.node import Input, Node, Output
from nodeflow.params import InputPath, InputPathOrEmpty, NodeParams
from nodeflow.types import IMAGE, luminance

from ..gan.generators import GeneratorName
from ..gan.inference import resize, run_generator
from ..gan.params import PRECISION_DOC, GANTrainingParams, PrecisionField, check_schedule, keep_alpha
from ..gan.training import run_training
from .handle import CycleGANHandle
from .loading import load_cyclegan
from .sockets import CYCLEGAN
from .train import CycleGANOptions, CycleGANTrainer


class TrainCycleGAN(Node):
    """Train a CycleGAN (unpaired A <-> B translation, e.g. photo <-> painting) on two image folders.

    ``dataroot`` holds ``trainA/`` and ``trainB/`` (or ``A/`` and ``B/``). LSGAN, cycle weight 10,
    identity 0.5, a 50-image fake pool and linear LR decay, as the reference. Disk-cached by content
    hash (never retrains for the same data and params); an interrupted run resumes from its last
    checkpoint. Steps count iterations, not epochs.
    """

    category = "models"
    expensive = True
    cli_train = "cyclegan"
    cli_positional = ("dataroot",)
    outputs = (Output("model", CYCLEGAN, "both generators (A -> B and B -> A)"),)

    class Params(GANTrainingParams):
        dataroot: InputPath = Field(description="folder with trainA/ and trainB/")
        generator: GeneratorName = Field("resnet_9blocks", description="generator architecture")
        norm: Literal["batch", "instance", "none"] = Field("instance", description="normalisation layers")
        dropout: bool = Field(False, description="dropout in the generators (off in the reference CycleGAN)")
        gan_mode: Literal["lsgan", "vanilla", "wgangp"] = Field("lsgan", description="GAN objective")
        lambda_a: float = Field(10.0, ge=0, le=1000, description="cycle weight A -> B -> A")
        lambda_b: float = Field(10.0, ge=0, le=1000, description="cycle weight B -> A -> B")
        lambda_identity: float = Field(0.5, ge=0, le=100, description="identity loss, relative to the cycle "
                                                                      "weights (0: off)")
        pool_size: int = Field(50, ge=0, le=10_000, description="fake images kept for the discriminators")
        batch_size: int = Field(1, ge=1, le=1024, description="images per domain per step")

    def run(self, ctx: RunContext) -> dict:
        p = self.params
        check_schedule(p)
        opts = CycleGANOptions.from_params(p)
        trainer = CycleGANTrainer(opts, ctx.input_path(p.dataroot), ctx.device)
        run_training(trainer, ctx, total_steps=opts.total_steps, checkpoint_every=p.checkpoint_every,
                     preview_every=p.preview_every,
                     preview_dir=ctx.output_path(p.preview_dir) if p.preview_dir else None, label="cyclegan")
        return {"model": trainer.handle()}


class LoadCycleGAN(Node):
    """Load CycleGAN generators: our folder, or reference files such as a published ``latest_net_G.pth``.

    ``path`` is the A -> B generator (or a folder: ours, or a reference checkpoint folder with
    ``latest_net_G_A.pth``/``latest_net_G_B.pth`` or ``latest_net_G.pth``); ``path_b`` optionally
    adds the B -> A one. Reference files are read weights-only; the architecture is inferred from
    the keys unless given.
    """

    category = "models"
    outputs = (Output("model", CYCLEGAN),)

    class Params(NodeParams):
        path: InputPath = Field(description="model folder, G_A file (.pth or .safetensors), or reference folder")
        path_b: InputPathOrEmpty = Field("", description="optional B -> A generator file (latest_net_G_B.pth)")
        architecture: Literal["auto", "resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128", "unet_64",
                              "unet_32"] = Field("auto", description="generator; auto: from the keys")
        norm: Literal["auto", "batch", "instance", "none"] = Field("auto", description="auto: from the keys")
        net_size: int = Field(0, ge=0, le=8192, description="training size for resolution 'model'; 0: saved or 256")
        allow_pickle: bool = Field(False, description="allow checkpoints that need unpickling (trusted files only)")

    def run(self, ctx: RunContext) -> dict:
        p = self.params
        handle = load_cyclegan(ctx.input_path(p.path), path_b=ctx.input_path(p.path_b) if p.path_b else None,
                               arch=p.architecture, norm=p.norm, net_size=p.net_size,
                               allow_pickle=p.allow_pickle, device=ctx.device)
        return {"model": handle}


class Stylize(Node):
    """Restyle frames with a CycleGAN generator (photo -> painting / anime, horse -> zebra, ...).

    Any frame size: by default the frame is padded to the generator's multiple (4 for ResNets)
    and cropped back; ``tile`` > 0 processes large frames in overlapping tiles (bounded memory;
    instance norm then sees each tile's own statistics, so keep tiles large). Alpha passes through.
    """

    category = "models"
    inputs = (Input("image", IMAGE), Input("model", CYCLEGAN))
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="which generator: G_A (A -> B) or G_B")
        resolution: Literal["full", "model"] = Field(
            "full", description="'full': the frame's own size (padded to the net's multiple); 'model': resized "
                                "to the training size (net_size) and back, as the reference test.py")
        tile: int = Field(0, ge=0, le=16384, description="tile size in pixels for large frames; 0: whole frame")
        tile_overlap: int = Field(32, ge=0, le=4096, description="overlap between tiles, blended smoothly")
        precision: PrecisionField = Field("auto", description=PRECISION_DOC)

    def run(self, ctx: RunContext, image, model: CycleGANHandle) -> dict:
        p = self.params
        net, spec = model.to(ctx.device).generator(p.direction)
        rgb = image[:, :3].to(ctx.device).float()
        x = (luminance(rgb) if spec.input_nc == 1 else rgb) * 2 - 1
        y = run_generator(net, x, multiple=spec.multiple, net_size=model.net_size, resolution=p.resolution,
                          tile=p.tile, overlap=p.tile_overlap, precision=p.precision)
        y = resize(y, tuple(rgb.shape[-2:]))
        if y.shape[1] == 1:
            y = y.expand(-1, 3, -1, -1)
        return {"image": keep_alpha(((y + 1) / 2).clamp(0, 1), image.to(ctx.device))}
