"""Pix2Pix nodes: train, load (ours or the reference's files), colorize, translate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nodeflow.context import RunContext
from nodeflow.errors import NodeError
from nodeflow.node import Input, Node, Output
from nodeflow.params import InputPath, NodeParams
from nodeflow.types import IMAGE

from ..gan.params import PRECISION_DOC, GANTrainingParams, PrecisionField, check_schedule, keep_alpha
from ..gan.training import run_training
from .apply import colorize, translate
from .handle import Pix2PixHandle
from .loading import load_pix2pix
from .networks import GeneratorName
from .sockets import PIX2PIX
from .train import Pix2PixOptions, Pix2PixTrainer

Resolution = Literal["model", "full"]
RESOLUTION_DOC = ("'model': run the network near the scale it was trained at: the frame resized, aspect kept, "
                  "so its longest side is net_size, padded to the network's multiple, never stretched to a "
                  "square; its output is resized back (Colorize keeps the frame's full-resolution L and resizes "
                  "only the colour); 'full': pad the frame to the network's multiple and crop back")
NORM_STATS_DOC = ("BatchNorm statistics: 'running' (eval mode) or 'per_image' (each frame's own, as the "
                  "reference test.py does without --eval)")


class TrainPix2Pix(Node):
    """Train a Pix2Pix generator (conditional GAN + L1) on paired images or for colorization.

    ``mode``: ``aligned`` learns A -> B from pairs (``A|B`` side-by-side images, or ``A/`` and ``B/``
    folders with matching names; a ``train/`` sub-folder is used when present); ``colorization``
    learns Lab L -> ab from any folder of colour images (the reference's colorization model);
    ``gray2rgb`` learns luminance -> RGB. Disk-cached by content hash: re-running the graph with the
    same data and params never retrains; an interrupted run resumes from its last checkpoint.
    Steps count iterations (batches), not epochs.
    """

    category = "models"
    expensive = True
    cli_train = "pix2pix"
    cli_positional = ("dataroot",)
    outputs = (Output("model", PIX2PIX, "the trained generator"),)

    class Params(GANTrainingParams):
        dataroot: InputPath = Field(description="dataset folder (see mode)")
        mode: Literal["aligned", "colorization", "gray2rgb"] = Field(
            "aligned", description="aligned: A -> B pairs; colorization: L -> ab; gray2rgb: luminance -> RGB")
        layout: Literal["auto", "aligned", "folders"] = Field(
            "auto", description="pairs as A|B side-by-side images or A/ + B/ folders (aligned mode)")
        direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="which half/folder is the input")
        generator: GeneratorName = Field("unet_256", description="generator architecture")
        norm: Literal["batch", "instance", "none"] = Field("batch", description="normalisation layers")
        dropout: bool = Field(True, description="dropout in the generator (reference default for pix2pix)")
        gan_mode: Literal["vanilla", "lsgan", "wgangp"] = Field("vanilla", description="GAN objective")
        lambda_l1: float = Field(100.0, ge=0, le=10_000, description="weight of the L1 term")
        batch_size: int = Field(1, ge=1, le=1024, description="images per step")

    def run(self, ctx: RunContext) -> dict:
        p = self.params
        check_schedule(p)
        opts = Pix2PixOptions.from_params(p)
        trainer = Pix2PixTrainer(opts, ctx.input_path(p.dataroot), ctx.device)
        run_training(trainer, ctx, total_steps=opts.total_steps, checkpoint_every=p.checkpoint_every,
                     preview_every=p.preview_every,
                     preview_dir=ctx.output_path(p.preview_dir) if p.preview_dir else None, label="pix2pix")
        return {"model": trainer.handle()}


class LoadPix2Pix(Node):
    """Load a Pix2Pix generator: our folder or ``.safetensors``, or a reference ``latest_net_G.pth``.

    Reference files are read weights-only; the architecture, norm and channels are inferred from
    the keys unless given, and the mode from the channels (1 -> 2: colorization, 1 -> 3: gray2rgb,
    else aligned). A folder of reference checkpoints is searched for ``latest_net_G.pth``.
    """

    category = "models"
    outputs = (Output("model", PIX2PIX),)

    class Params(NodeParams):
        path: InputPath = Field(description="model folder, .safetensors, or reference .pth state dict")
        architecture: Literal["auto", "unet_256", "unet_128", "unet_64", "unet_32", "resnet_9blocks",
                              "resnet_6blocks"] = Field("auto", description="generator; auto: from the keys")
        norm: Literal["auto", "batch", "instance", "none"] = Field("auto", description="auto: from the keys")
        mode: Literal["auto", "colorization", "gray2rgb", "aligned"] = Field(
            "auto", description="what the model does; auto: from the channel counts / saved options")
        net_size: int = Field(0, ge=0, le=8192, description="training size for resolution 'model'; 0: saved or "
                                                           "default (U-Net: its size, ResNet: 256)")
        allow_pickle: bool = Field(False, description="allow checkpoints that need unpickling (trusted files only)")

    def run(self, ctx: RunContext) -> dict:
        p = self.params
        handle = load_pix2pix(ctx.input_path(p.path), arch=p.architecture, norm=p.norm, mode=p.mode,
                              net_size=p.net_size, allow_pickle=p.allow_pickle, device=ctx.device)
        return {"model": handle}


class Colorize(Node):
    """Colour gray frames (a B&W film) with a Pix2Pix colorization model.

    The frame's own Lab lightness L is kept at full resolution; the model predicts the colour
    (ab), which is the only thing resized. Gray frames are 3 equal channels; colour frames are
    recoloured from their L. Alpha passes through. Works with ``colorization`` (L -> ab) and
    ``gray2rgb`` models (only the colour of their output is used).
    """

    category = "models"
    inputs = (Input("image", IMAGE, "frames to colour (B, 3|4, H, W)"), Input("model", PIX2PIX))
    outputs = (Output("image", IMAGE, "RGB (or RGBA) frames, same size"),)

    class Params(NodeParams):
        resolution: Resolution = Field("model", description=RESOLUTION_DOC)
        saturation: float = Field(1.0, ge=0, le=4, description="scale of the predicted colour (ab)")
        norm_stats: Literal["running", "per_image"] = Field("running", description=NORM_STATS_DOC)
        precision: PrecisionField = Field("auto", description=PRECISION_DOC)

    def run(self, ctx: RunContext, image, model: Pix2PixHandle) -> dict:
        p = self.params
        handle = model.to(ctx.device)
        if handle.mode == "aligned":
            raise NodeError("this Pix2Pix model translates images (mode 'aligned'), it does not colorize",
                            field="model", hint="use Translate, or load a colorization model")
        out = colorize(handle, image[:, :3].to(ctx.device), resolution=p.resolution, precision=p.precision,
                       saturation=p.saturation, per_image_norm=p.norm_stats == "per_image")
        return {"image": keep_alpha(out, image.to(ctx.device))}


class Translate(Node):
    """Apply any Pix2Pix generator to frames (image-to-image, e.g. labels -> facades).

    RGB frames in [0, 1] become the network's [-1, 1] input (luminance for 1-channel models); a
    colorization model colorizes. Alpha passes through.
    """

    category = "models"
    inputs = (Input("image", IMAGE), Input("model", PIX2PIX))
    outputs = (Output("image", IMAGE),)

    class Params(NodeParams):
        resolution: Resolution = Field("model", description=RESOLUTION_DOC)
        norm_stats: Literal["running", "per_image"] = Field("running", description=NORM_STATS_DOC)
        precision: PrecisionField = Field("auto", description=PRECISION_DOC)

    def run(self, ctx: RunContext, image, model: Pix2PixHandle) -> dict:
        p = self.params
        handle = model.to(ctx.device)
        out = translate(handle, image[:, :3].to(ctx.device), resolution=p.resolution, precision=p.precision,
                        per_image_norm=p.norm_stats == "per_image")
        return {"image": keep_alpha(out, image.to(ctx.device))}
