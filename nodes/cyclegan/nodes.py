"""CycleGAN nodes: train on unpaired folders, load (ours or the reference's files), stylize."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import NOT_IN_CACHE_KEY, InputPath, InputPathOrEmpty, NodeParams, OutputPathOrEmpty
from nodeflow.types import CYCLEGAN, IMAGE, luminance

from ..gan.inference import resize, run_generator
from ..gan.params import PRECISION_DOC, PrecisionField, keep_alpha
from ..gan.training import run_training
from ..pix2pix.networks import GeneratorName
from .handle import CycleGANHandle
from .loading import load_cyclegan
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

    class Params(NodeParams):
        dataroot: InputPath = Field(description="folder with trainA/ and trainB/")
        generator: GeneratorName = Field("resnet_9blocks", description="generator architecture")
        ngf: int = Field(64, ge=1, le=512, description="generator filters in the first layer")
        discriminator: Literal["basic", "n_layers", "pixel"] = Field(
            "basic", description="basic: 70x70 PatchGAN; n_layers: PatchGAN with n_layers_d; pixel: 1x1")
        ndf: int = Field(64, ge=1, le=512, description="discriminator filters in the first layer")
        n_layers_d: int = Field(3, ge=1, le=8, description="PatchGAN layers (discriminator n_layers)")
        norm: Literal["batch", "instance", "none"] = Field("instance", description="normalisation layers")
        dropout: bool = Field(False, description="dropout in the generators (off in the reference CycleGAN)")
        init_type: Literal["normal", "xavier", "kaiming", "orthogonal"] = Field("normal", description="weight init")
        init_gain: float = Field(0.02, gt=0, le=1, description="scale of normal/xavier/orthogonal init")
        gan_mode: Literal["lsgan", "vanilla", "wgangp"] = Field("lsgan", description="GAN objective")
        lambda_a: float = Field(10.0, ge=0, le=1000, description="cycle weight A -> B -> A")
        lambda_b: float = Field(10.0, ge=0, le=1000, description="cycle weight B -> A -> B")
        lambda_identity: float = Field(0.5, ge=0, le=100, description="identity loss, relative to the cycle "
                                                                      "weights (0: off)")
        pool_size: int = Field(50, ge=0, le=10_000, description="fake images kept for the discriminators")
        lr: float = Field(2e-4, gt=0, le=1, description="Adam learning rate")
        beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
        niter: int = Field(2000, ge=0, le=10_000_000, description="steps at the initial learning rate")
        niter_decay: int = Field(2000, ge=0, le=10_000_000, description="steps of linear decay to zero")
        batch_size: int = Field(1, ge=1, le=1024, description="images per domain per step")
        load_size: int = Field(286, ge=8, le=8192, description="resize images to this square first")
        crop_size: int = Field(256, ge=8, le=8192, description="random crop size = network input size")
        preprocess: Literal["resize_and_crop", "crop", "resize"] = Field(
            "resize_and_crop", description="resize to load_size then crop | crop only | resize to crop_size")
        flip: bool = Field(True, description="random horizontal flips")
        checkpoint_every: Annotated[int, NOT_IN_CACHE_KEY] = Field(500, ge=0, le=10_000_000, description="steps between resumable checkpoints")
        preview_every: Annotated[int, NOT_IN_CACHE_KEY] = Field(250, ge=0, le=10_000_000, description="steps between preview images (0: none)")
        preview_dir: Annotated[OutputPathOrEmpty, NOT_IN_CACHE_KEY] = Field(
            "", description="folder for previews (A, G_A(A), rec A, B, G_B(B), rec B rows); empty: scratch folder")
        seed: int = Field(0, ge=0, description="seed for init, sampling, augmentation and the pools")

    def run(self, ctx: RunContext) -> dict:
        p = self.params
        if p.niter + p.niter_decay < 1:
            raise NodeError("niter + niter_decay must be at least 1", field="niter")
        if p.crop_size > p.load_size and p.preprocess == "resize_and_crop":
            raise NodeError(f"crop_size {p.crop_size} exceeds load_size {p.load_size}", field="crop_size")
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
