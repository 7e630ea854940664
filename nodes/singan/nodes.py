"""SinGAN nodes: train on a scene, load/import, harmonize at scale n, and the other applications.

Scale numbers follow the reference: 0 is the coarsest scale, N the finest; injection-based
applications (harmonize, edit, paint) start at 1 ≤ n ≤ N: small n keeps only the composite's
coarse layout and regenerates more, large n keeps more of it and only adjusts fine texture.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

import torch
from pydantic import Field

from nodeflow.errors import NodeError
from nodeflow.image_files import read_image
from nodeflow.node import Input, Node, Output
from nodeflow.params import InputPath, InputPathOrEmpty, NodeParams
from nodeflow.types import FLOAT, IMAGE, INT, MASK

from ..composite.tensor_ops import check_same_size
from .applications import animate, paint_to_image, sample, super_resolution
from .finetune import FineTuneConfig, finetune_singan, trained_stages
from .generate import reconstruct, to_unit
from .handle import OPTIONS, PyramidFacts, SinGANModel, check_scale_known
from .harmonize import (
    LIGHT_TOLERANCE,
    MAX_HALO,
    MAX_HIGHLIGHT,
    MIN_CHROMA,
    MIN_COLOUR,
    MIN_SINGAN_SSIM,
    MIN_SSIM,
    ShotChange,
    choose_scale,
    harmonize,
    harmonize_all_scales,
    measure_scales,
    reuse_change,
    scales_sheet,
    shot_change,
    shot_light,
    valid_scales,
)
from .imresize import resize_to
from .pyramid import plan_pyramid
from .reference import import_reference, is_reference_folder
from .sockets import SINGAN
from .train import PRESETS, TrainProgress, describe, make_config, train_singan

CATEGORY = "singan"
_PROGRESS_SECONDS = 0.25


def _model(ctx, model: SinGANModel) -> SinGANModel:
    return model.to(ctx.device)


def _plain(t: torch.Tensor) -> torch.Tensor:
    """A normal tensor for downstream nodes (inference-mode tensors refuse later in-place ops)."""
    return t.clone() if t.is_inference() else t


def _require_every_scale(model: SinGANModel, what: str) -> None:
    """Samples and animation start from scale 0: a model trained from a higher scale cannot make them."""
    if model.first_scale:
        raise NodeError(f"this model was trained from scale {model.first_scale} up only; {what} need every scale",
                        field="model", hint="train with first_scale 0")


def _check_mask(image: torch.Tensor, mask: torch.Tensor, image_name: str) -> None:
    """The mask must match the image's size (or be a 1×1 constant) and have 1 or B frames."""
    check_same_size(mask, image, f"mask and {image_name}", field="mask",
                    hint=f"give a mask of the {image_name}'s size (a Resize node with a reference input)")
    if mask.shape[0] not in (1, image.shape[0]):
        raise NodeError(f"mask has {mask.shape[0]} frames but {image_name} has {image.shape[0]}",
                        field="mask", hint="give one mask, or one per frame")


# ---------------------------------------------------------------------------------------------


class TrainSinGAN(Node):
    """Train SinGAN on one scene image (the background of the shot): a pyramid of generators.

    Preset ``fast`` (ConSinGAN-style: fewer scales, two stages trained together, fewer steps)
    takes minutes on a CPU; ``faithful`` is the paper's recipe (2000 iterations per scale, 3
    critic + 3 generator steps) and takes hours on a CPU. The result is cached by content: running
    the graph again never retrains, and an interrupted training resumes at the next scale. For
    a clip, train on one reference frame (connect a still, not the clip). ``first_scale`` > 0
    trains only the scales that harmonization from that n uses (no random samples/animation then).
    """

    category = CATEGORY
    expensive = True
    cli_train = "singan"
    cli_positional = ("image",)
    inputs = (Input("scene", IMAGE, optional=True, doc="the scene; when unconnected the image file is read"),)
    outputs = (Output("model", SINGAN, "the trained pyramid"),
               Output("reconstruction", IMAGE, "the pyramid fed its fixed noise (should equal the scene)"),
               Output("rmse", FLOAT, "reconstruction RMSE at the finest scale, in [-1, 1] units"))

    class Params(NodeParams):
        image: InputPathOrEmpty = Field("", description="scene image file, used when the scene socket is unconnected")
        preset: Literal["fast", "faithful"] = Field("fast", description="fast (minutes, ConSinGAN-style) or "
                                                    "faithful (the paper's recipe, hours on a CPU)")
        mode: Literal["standard", "harmonize"] = Field("standard", description="harmonize: also learn to map "
                                                       "augmented scenes (jittered regions, pasted patches) back "
                                                       "to the scene, for Harmonize (same cost with fast)")
        harmonize_steps: int | None = Field(None, ge=0, le=20, description="harmonization steps per iteration "
                                            "(mode default: fast 3, faithful 2; 0 in standard mode)")
        iterations: int | None = Field(None, ge=1, le=100_000, description="iterations per scale (preset default)")
        max_size: int = Field(250, ge=16, le=4096, description="longest side of the finest scale")
        min_size: int = Field(25, ge=11, le=512, description="shortest side of the coarsest scale (> 10: the critic sees 11×11 patches)")
        scale_factor: float | None = Field(None, ge=0.3, le=0.95,
                                           description="initial pyramid factor: lower = fewer scales "
                                                       "(preset: fast 0.55, faithful 0.75)")
        first_scale: int = Field(0, ge=0, le=64, description="train scales ≥ this only (0 = all; "
                                 "harmonization/editing/paint at n ≥ first_scale still work)")
        d_steps: int | None = Field(None, ge=1, le=10, description="critic steps per iteration (preset)")
        g_steps: int | None = Field(None, ge=1, le=10, description="generator steps per iteration (preset)")
        concurrent: int | None = Field(None, ge=1, le=6, description="stages trained together (preset)")
        rec_steps: int | None = Field(None, ge=0, le=20, description="extra reconstruction-only generator steps "
                                      "per iteration (preset)")
        alpha: float | None = Field(None, ge=0, le=1000, description="reconstruction loss weight (10; 100 for "
                                    "super-resolution models)")
        frame: int = Field(0, ge=0, description="frame of the scene batch to train on")
        amp: bool = Field(False, description="bfloat16 autocast on CUDA")
        quantize_8bit: bool = Field(False, description="truncate images to 8 bits before every resize "
                                    "between scales, exactly as the reference code does (off: measured no "
                                    "better, see docs/singan.md)")
        seed: int = Field(0, ge=0, description="random seed (same seed -> same model)")

    def preflight(self, ctx, known):
        """Before training: the pyramid this scene gives (so ``scale`` downstream is checked now)."""
        scene = known.get("scene")
        if not (isinstance(scene, torch.Tensor) and scene.ndim == 4):
            return None  # the scene comes from an expensive node: checked once it is computed
        _, plan = self._plan(int(scene.shape[2]), int(scene.shape[3]))
        return {"model": PyramidFacts(N=plan.stop_scale, first_scale=self.params.first_scale)}

    def _plan(self, h: int, w: int):
        p = self.params
        cfg = make_config(p.preset, p.mode, harmonize_steps=p.harmonize_steps, iterations=p.iterations, max_size=p.max_size, min_size=p.min_size,
                          scale_factor=p.scale_factor, first_scale=p.first_scale, d_steps=p.d_steps,
                          g_steps=p.g_steps, concurrent=p.concurrent, rec_steps=p.rec_steps, alpha=p.alpha,
                          amp=p.amp, quantize_8bit=p.quantize_8bit or None)
        try:
            plan = plan_pyramid(h, w, min_size=cfg.min_size, max_size=cfg.max_size, scale_factor=cfg.scale_factor)
        except ValueError as exc:
            raise NodeError(str(exc), field="min_size") from None
        if cfg.first_scale > plan.stop_scale:
            raise NodeError(f"first_scale {cfg.first_scale} but this image has scales 0…{plan.stop_scale}",
                            field="first_scale", hint=f"use 0…{plan.stop_scale}")
        return cfg, plan

    def run(self, ctx, scene: torch.Tensor | None = None):
        p = self.params
        if scene is None:
            if not p.image:
                raise NodeError("no scene: connect the scene socket or set image", field="image",
                                hint="nodeflow train singan IMAGE")
            scene = read_image(ctx.input_path(p.image))
        if p.frame >= scene.shape[0]:
            raise NodeError(f"frame {p.frame} of a batch of {scene.shape[0]}", field="frame")
        scene = scene[p.frame:p.frame + 1, :3].float()
        cfg, plan = self._plan(scene.shape[2], scene.shape[3])
        ctx.logger.info(describe(cfg, plan))

        last_event = 0.0

        def progress(p: TrainProgress) -> None:
            # an event at each scale's start, then at most a few per second; always a cancellation point
            nonlocal last_event
            now = time.monotonic()
            if p.iteration == 1 or p.done == p.total or now - last_event >= _PROGRESS_SECONDS:
                last_event = now
                ctx.progress(p.done, p.total, p.message)
            else:
                ctx.check_cancelled()

        model = train_singan(scene, cfg, seed=ctx.seed, device=ctx.device, checkpoint_dir=ctx.scratch_dir,
                             progress=progress, log=ctx.logger.info)
        with torch.inference_mode():
            rec = reconstruct(model)
        assert isinstance(rec, torch.Tensor)
        return {"model": model, "reconstruction": _plain(to_unit(rec)), "rmse": float(model.meta["rmse"])}


class LoadSinGAN(Node):
    """Load a trained SinGAN: a folder saved by nodeflow, or a reference TrainedModels folder.

    Reference folders (``TrainedModels/<name>/scale_factor=…/`` with per-scale ``netG.pth`` and
    ``Zs.pth``, ``reals.pth``, ``NoiseAmp.pth``) are read with weights-only loading; pickled
    modules (``Gs.pth``) are never opened.
    """

    category = CATEGORY
    outputs = (Output("model", SINGAN),)

    class Params(NodeParams):
        path: InputPath = Field(description="model folder (ours: singan.json + singan.safetensors; or the "
                                            "reference's scale_factor=… folder or its parent)")
        min_size: int = Field(25, ge=8, le=512, description="reference import: min_size it was trained with")
        allow_pickle: bool = Field(False, description="reference import: allow pickled tensor lists "
                                   "(only for files you trust)")

    def run(self, ctx):
        folder = ctx.input_path(self.params.path)
        if (folder / OPTIONS).exists():
            return {"model": SinGANModel.load(folder, device=ctx.device)}
        if is_reference_folder(folder):
            return {"model": import_reference(folder, min_size=self.params.min_size,
                                              allow_pickle=self.params.allow_pickle, device=ctx.device)}
        raise NodeError(f"{folder} holds neither a nodeflow SinGAN ({OPTIONS}) nor a reference model",
                        field="path", hint="point at the folder `nodeflow train singan --out` wrote, or at "
                        "TrainedModels/<name>/scale_factor=…")


class FineTuneSinGAN(Node):
    """Fine-tune a trained SinGAN on the naive composite itself, then harmonize with the result.

    ConSinGAN's optional fine-tune (``--fine_tune``): the top ``stages`` generators and the
    finest critic train for a few hundred more iterations with the composite injected (at every n
    in turn, or at ``scale``) in place of a random sample, under the training's own losses
    (adversarial vs the scene + the scene's reconstruction); with a mask, the background outside
    the pasted object is also kept. Returns a new model (the input one is never changed); cached
    by content like a training, resumable after an interruption. For a clip, connect a still
    (the composite of the shot's first frame): it is fine-tuned once per shot, not per batch.
    """

    category = CATEGORY
    expensive = True
    inputs = (Input("model", SINGAN, "a trained model (TrainSinGAN, best mode harmonize)"),
              Input("composite", IMAGE, "the naive composite: a still (one frame of the shot)"),
              Input("mask", MASK, "where the object was pasted (keeps the background; optional)", optional=True))
    outputs = (Output("model", SINGAN, "the fine-tuned pyramid (a copy: the input model is unchanged)"),
               Output("rmse", FLOAT, "the scene's reconstruction RMSE after the fine-tune, in [-1, 1] units"))

    class Params(NodeParams):
        iterations: int = Field(200, ge=1, le=20_000, description="fine-tune iterations (ConSinGAN's command "
                                "line default 2000 on a GPU; a few hundred on a CPU)")
        stages: int = Field(2, ge=1, le=64, description="top generators trained (ConSinGAN: 3), the lower ones "
                            "at learning rate ×0.1 per stage")
        scale: Annotated[int, Field(ge=1, le=64)] | Literal["all"] = Field(
            "all", description="injection scale the composite enters at: all = every n in turn (for "
                               "Harmonize scale auto), or the n Harmonize will use")
        d_steps: int = Field(3, ge=1, le=10, description="critic steps per iteration (ConSinGAN: 3)")
        g_steps: int = Field(1, ge=1, le=10, description="generator steps per iteration")
        background: float = Field(1.0, ge=0, le=100, description="with a mask: weight (× the reconstruction "
                                  "weight 10) of keeping the composite outside the dilated mask; 0 = ConSinGAN's "
                                  "losses only")
        frame: int = Field(0, ge=0, description="frame of the composite batch to fine-tune on")
        seed: int = Field(0, ge=0, description="random seed (same seed -> same model)")

    def preflight(self, ctx, known):
        facts = known.get("model")
        check_scale_known(facts, self.params.scale)
        if isinstance(facts, SinGANModel | PyramidFacts):
            self._check_stages(facts.N, facts.first_scale)
        return {"model": facts} if isinstance(facts, PyramidFacts) else None

    def _check_stages(self, N: int, first_scale: int) -> None:
        trainable = N + 1 - first_scale
        if self.params.stages > trainable:
            raise NodeError(f"stages {self.params.stages} but this model has {trainable} trained scales",
                            field="stages", hint=f"use 1 ≤ stages ≤ {trainable}")

    def run(self, ctx, model: SinGANModel, composite: torch.Tensor, mask: torch.Tensor | None = None):
        p = self.params
        model = _model(ctx, model)
        if p.scale != "all":
            model.check_scale(p.scale)
        self._check_stages(model.N, model.first_scale)
        if p.frame >= composite.shape[0]:
            raise NodeError(f"frame {p.frame} of a batch of {composite.shape[0]}", field="frame",
                            hint=f"use 0 ≤ frame < {composite.shape[0]}")
        if mask is not None:
            _check_mask(composite, mask, "composite")
            mask = mask[min(p.frame, mask.shape[0] - 1):][:1]
        cfg = FineTuneConfig(iterations=p.iterations, stages=p.stages, d_steps=p.d_steps, g_steps=p.g_steps,
                             scales=() if p.scale == "all" else (p.scale,), background=p.background)
        ctx.logger.info(f"fine-tune: scales {trained_stages(model, p.stages)} trained, composite injected at "
                        f"{'every n' if p.scale == 'all' else f'n = {p.scale}'}, {p.iterations} iterations")
        last_event = 0.0

        def progress(t: TrainProgress) -> None:
            nonlocal last_event
            now = time.monotonic()
            if t.done in (1, t.total) or now - last_event >= _PROGRESS_SECONDS:
                last_event = now
                ctx.progress(t.done, t.total, f"fine-tune iteration {t.done}/{t.total}")
            else:
                ctx.check_cancelled()

        with torch.inference_mode(False), torch.enable_grad():
            tuned = finetune_singan(model, composite[p.frame:p.frame + 1], cfg, seed=ctx.seed, mask=mask,
                                    device=ctx.device, checkpoint_dir=ctx.scratch_dir, progress=progress,
                                    log=ctx.logger.info)
        return {"model": tuned, "rmse": float(tuned.meta["finetune"]["rmse"])}


class Harmonize(Node):
    """Make a pasted object look native: colour first, then SinGAN harmonization at injection scale n.

    With ``colour: light`` the subject is first re-lit by a ring of scene around it (``local``: its Lab
    mean/std move towards the ring's);
    then the composite is taken down to scale n − 1 and regenerated from scale n to the finest by
    the model trained on the scene, and blended in through the dilated, blurred mask (sized
    relative to the subject with ``mask_units: subject``). Pixels outside that soft mask are
    bit-identical to the composite. All frames of a clip share one set of seeded noise maps, so
    consecutive frames do not flicker. ``scale: auto`` picks n on the first frame: the smallest
    n (strongest harmonization) that keeps the subject (luminance SSIM ≥ ``min_ssim``, its own
    hues: a/b correlation ≥ ``min_colour``, chroma ≥ ``min_chroma``) and the scene around it
    (halo ≤ ``max_halo``); ``keep_colour`` keeps the subject's colour pattern through SinGAN's
    change. ``all_scales`` renders every n, annotated with those figures, into a sheet.
    These per-shot choices (auto n, the light, the reused change) are made once per run, on the
    ``reference`` still when it is connected (then any ``--frames`` range renders exactly the frames
    of the whole clip), else on the run's first frame.
    The reference's own processing: ``colour: none``, ``mask_units: training``, radius 7, sigma 5,
    ``upsample: generated``, ``keep_colour: 0``.
    """

    category = CATEGORY
    first_batch_decides = True  # without a reference: scale auto, the shot's light and change from the run's first batch
    inputs = (Input("model", SINGAN), Input("composite", IMAGE, "the naive composite (frame or clip)"),
              Input("mask", MASK, "where the object was pasted"),
              Input("reference", IMAGE, "a still composite (one frame, the clip's size) that scale "
                    "auto, the shot's light and its change are decided on, so that any frame range renders "
                    "the frames of the whole clip (unconnected: the run's first frame)", optional=True),
              Input("reference_mask", MASK, "where the object was pasted in the reference (unconnected: the "
                    "clip's mask)", optional=True))
    outputs = (Output("image", IMAGE, "harmonized composite"),
               Output("mask", MASK, "the soft (dilated, blurred) mask that was blended through"),
               Output("all_scales", IMAGE, "sheet of the naive paste and every n with its colour gap and "
                      "subject SSIM (when all_scales; else the result at n, training size)"),
               Output("scale", INT, "the injection scale used (the chosen one with scale auto)"))

    class Params(NodeParams):
        scale: Annotated[int, Field(ge=1, le=64)] | Literal["auto"] = Field(
            "auto", description="injection scale n (1 = coarsest injection, N = finest), or auto: the "
                                "smallest n that keeps the subject and the scene around it (min_ssim, min_colour, "
                                "min_chroma, max_halo)")
        min_ssim: float = Field(MIN_SSIM, ge=0, le=1, description="auto: luminance SSIM of the subject vs the naive "
                                "paste an n must keep")
        seed: int = Field(0, ge=0, description="noise seed (fixed across frames)")
        colour: Literal["light", "local", "none"] = Field(
            "light", description="before injection, light: re-light the subject by the scene around it "
                                 "(per-channel gains in linear RGB); local: match its Lab mean/std to the "
                                 "surroundings' (closes the colour gap further but flattens faces); none")
        colour_strength: float = Field(0.7, ge=0, le=1, description="colour: how far the subject's light/colour "
                                       "moves to its surroundings' (1 = all the way; lower keeps more of its own)")
        colour_contrast: float = Field(0.3, ge=0, le=1, description="colour local: how far its contrast (Lab "
                                       "std) moves (contrast carries the subject's detail)")
        mask_units: Literal["subject", "training"] = Field("subject", description="radius/sigma as fractions "
                                                           "of the subject's size (√area), or in training "
                                                           "pixels (the reference: 7 and 5)")
        radius: float = Field(0.1, ge=0, le=100, description="mask dilation disk radius (see mask_units)")
        sigma: float = Field(0.08, ge=0, le=50, description="mask blur sigma (see mask_units)")
        output_size: Literal["frame", "training"] = Field("frame", description="frame: back at the composite's "
                                                          "resolution; training: the model's finest size")
        upsample: Literal["field", "structure", "detail", "generated"] = Field(
            "field", description="at frame size: field = SinGAN's change inside the subject as smooth light "
                                 "(gain) and colour (offset) fields applied to the full-resolution subject, "
                                 "reaching the scene only within the feather; structure = add the upscaled "
                                 "coarse change (colour, light) "
                                     "plus texture × the redrawn detail to the full-resolution composite (keeps "
                                     "the subject's detail); detail = add the whole upscaled change; generated = "
                                     "paste the upscaled generated pixels (the reference)")
        texture: float = Field(0.3, ge=0, le=1, description="structure: share of SinGAN's redrawn fine detail "
                               "and grain that is kept")
        field_size: float = Field(1.0, ge=0, le=4, description="field: size (Gaussian σ, × the subject's "
                                  "size √area) over which SinGAN's light and colour are averaged; smaller follows "
                                  "its change closer, and its blotches too")
        feather: float = Field(0.0, ge=0, le=1, description="field: how far (× the subject's size) the change "
                               "reaches into the scene past the subject's edge (no haze beyond)")
        grain: float = Field(0.0, ge=0, le=2, description="field: share of the scene's grain (1-px detail "
                             "level around the subject) a cleaner subject is given as seeded noise")
        colour_light: float | None = Field(0.5, ge=0, le=1, description="colour light: share of the "
                                           "surroundings' brightness taken (default colour_strength); a dark "
                                           "night-sky ring is not the light on a lit subject")
        all_scales: bool = Field(False, description="also render every n as an annotated sheet")
        sheet_view: Literal["subject", "frame", "training"] = Field(
            "subject", description="all-scales sheet: the subject's crop enlarged, the whole frame, or "
                                   "the raw training-size results (no figures)")
        keep_colour: float = Field(1.0, ge=0, le=1, description="share of the subject's own colour pattern "
                                   "(Lab a/b around its mean) kept through SinGAN's change: 1 = SinGAN gives "
                                   "the light, the colour step the colour (0 = the reference)")
        keep_colour_mean: float | None = Field(None, ge=0, le=1, description="share of the subject's mean a/b "
                                               "kept through SinGAN's change (default keep_colour: its cast then "
                                               "comes from the relight; 0 lets SinGAN paint the scene's hue over it)")
        colour_cast: float = Field(0.3, ge=0, le=1, description="colour light: share of the surroundings' "
                                   "colour cast taken with their brightness (1 = full per-channel gains, "
                                   "which turn skin green under a blue sky)")
        min_colour: float = Field(MIN_COLOUR, ge=-1, le=1, description="auto: a/b correlation of the subject vs "
                                  "the naive paste an n must keep (its own hues, not the scene's)")
        min_chroma: float = Field(MIN_CHROMA, ge=0, le=10, description="auto: share of the subject's mean "
                                  "chroma an n must keep")
        max_halo: float = Field(MAX_HALO, ge=0, le=100, description="auto: Lab ΔE an n may repaint the scene "
                                "right around the subject by (a haze or halo)")
        max_highlight: float = Field(MAX_HIGHLIGHT, ge=0, le=1, description="auto: share of the subject an n "
                                     "may push to near white (CIE L ≥ 90) beyond the colour step alone (a "
                                     "washed-out face); 1 = off")
        light_tolerance: float = Field(LIGHT_TOLERANCE, ge=0, le=10, description="auto: among the n that keep the "
                                       "subject, those whose light sensitivity (how much of a change of the subject's "
                                       "own light passes through) is within this of the least; of those the smallest "
                                       "n (10 = the smallest n that keeps the subject, the rule before)")
        min_singan_ssim: float = Field(MIN_SINGAN_SSIM, ge=0, le=1, description="auto: luminance SSIM SinGAN's own "
                                       "output must keep with the composite it was given (subject's box, training "
                                       "size): below it SinGAN drew something else in the subject's place and "
                                       "its light is that drawing's; 0 = off")
        relight_per: Literal["shot", "frame"] = Field("shot", description="colour light: gains measured once on "
                                                      "the reference, else the run's first frame (shot: the light does not follow a "
                                                      "moving background, no flicker) or on every frame")
        change_per: Literal["shot", "frame"] = Field("shot", description="shot: harmonize the reference (else the "
                                                     "run's first frame) and add its change to every frame while "
                                                     "the subject stays put (same mask; no flicker from a moving background); "
                                                     "frame: run SinGAN on every frame")

    _auto_scale: int | None = None
    """``scale: auto``'s pick, made once per run (one node instance per run) on the decision frame."""
    _light: torch.Tensor | None = None
    """``relight_per: shot``: the relight gains of the decision frame."""
    _shot: ShotChange | None = None
    """``change_per: shot``: the decision frame harmonized, its change reused while the subject stays put."""

    def decides_on_first_batch(self, connected):
        return not {"reference", "reference_mask"} <= connected  # the reference and its mask decide, not a batch

    def preflight(self, ctx, known):
        check_scale_known(known.get("model"), self.params.scale)  # before the model is trained
        composite, reference, reference_mask = (known.get(k) for k in ("composite", "reference", "reference_mask"))
        if isinstance(composite, torch.Tensor) and isinstance(reference, torch.Tensor):  # a still composite
            _check_reference(composite, reference, reference_mask if isinstance(reference_mask, torch.Tensor)
                             else None)
        return None

    def run(self, ctx, model: SinGANModel, composite: torch.Tensor, mask: torch.Tensor,
            reference: torch.Tensor | None = None, reference_mask: torch.Tensor | None = None):
        p = self.params
        model = _model(ctx, model)
        _check_mask(composite, mask, "composite")
        if p.scale != "auto":
            model.check_scale(p.scale)
        options = {"radius": p.radius, "sigma": p.sigma, "upsample": p.upsample, "colour": p.colour,
                   "colour_strength": p.colour_strength, "colour_contrast": p.colour_contrast,
                   "mask_units": p.mask_units, "texture": p.texture, "keep_colour": p.keep_colour,
                   "keep_colour_mean": p.keep_colour_mean, "colour_cast": p.colour_cast,
                   "colour_light": p.colour_light, "field_size": p.field_size, "feather": p.feather,
                   "grain": p.grain}
        still, still_mask = _decision_frame(composite, mask, reference, reference_mask)
        if p.relight_per == "shot" and p.colour == "light":
            if self._light is None:
                self._light = shot_light(still, still_mask, options)
            options["light_gains"] = self._light
        decided = None  # the decision frame's figures at every n, when measured in this batch
        if p.scale == "auto" and self._auto_scale is None:
            decided = measure_scales(model, still, still_mask, seed=ctx.seed, **options)
            self._auto_scale = self._choose(ctx, decided)
        n = p.scale if p.scale != "auto" else self._auto_scale
        assert isinstance(n, int)
        res = None
        if p.change_per == "shot" and p.output_size == "frame":
            if self._shot is None:
                first = harmonize(model, still, still_mask, n, generator=ctx.generator(), **options)
                self._shot = shot_change(first, still, still_mask)
            res = reuse_change(self._shot, composite, mask)
        if res is None:  # per frame, or the subject moves
            res = harmonize(model, composite, mask, n, generator=ctx.generator(),
                            frame_size=p.output_size == "frame", **options)
        if p.all_scales and p.sheet_view == "training":
            sheet = harmonize_all_scales(model, composite, mask, seed=ctx.seed, done={n: res.training},
                                         **options)
        elif p.all_scales:  # the sheet shows this batch's first frame (measured once if that decided n)
            measured = decided if decided is not None and reference is None else None
            if measured is None:
                measured = measure_scales(model, composite, mask, seed=ctx.seed, **options)
            sheet = scales_sheet(composite, mask, measured, n, view=p.sheet_view)
        else:
            sheet = res.training
        return {"image": _plain(res.image), "mask": _plain(res.mask), "all_scales": _plain(sheet), "scale": n}

    def _choose(self, ctx, measured: dict) -> int:
        """``scale: auto``: one n for the whole run (no jumps between batches), logged with its figures."""
        p = self.params
        n = choose_scale(measured, p.min_ssim, min_colour=p.min_colour, min_chroma=p.min_chroma,
                         max_halo=p.max_halo, max_highlight=p.max_highlight, light_tolerance=p.light_tolerance,
                         min_singan_ssim=p.min_singan_ssim)
        f = measured[n].figures
        ctx.logger.info(f"scale auto: n = {n} (colour gap {100 * f.gap_rel:.0f} % of the naive paste's, "
                        f"subject SSIM {f.ssim:.2f}, a/b correlation {f.ab_corr:.2f}, light sensitivity "
                        f"{f.light_sensitivity:.2f}, near white {100 * f.highlight:+.1f} % beyond the colour step, "
                        f"SinGAN kept {f.singan_ssim:.2f})")
        return n


def _decision_frame(composite: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor | None,
                    reference_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The still Harmonize's per-shot choices are made on: the reference (with its mask, else the
    clip's), else the batch's first frame (the run's first frame for the first batch), with its
    mask at full size ``(1, 1, H, W)``."""
    H, W = composite.shape[-2:]
    if reference is None:
        if reference_mask is not None:
            raise NodeError("reference_mask is connected but reference is not", field="reference_mask",
                            hint="connect the still composite the mask belongs to, or disconnect reference_mask")
        return composite[:1], mask[:1].expand(1, 1, H, W)
    _check_reference(composite, reference, reference_mask)
    if reference_mask is None:
        return reference, mask[:1].expand(1, 1, H, W)
    return reference, reference_mask.expand(1, 1, H, W)


def _check_reference(composite: torch.Tensor, reference: torch.Tensor, reference_mask: torch.Tensor | None) -> None:
    """A reference is one still of the composite's frame size; its mask, one of the reference's."""
    H, W = composite.shape[-2:]
    if reference.shape[0] != 1:
        raise NodeError(f"reference has {reference.shape[0]} frames; it must be one still", field="reference",
                        hint="connect a still composite (e.g. the paste onto a still of the shot), not a clip")
    if tuple(reference.shape[-2:]) != (H, W):
        raise NodeError(f"reference is {reference.shape[-1]}x{reference.shape[-2]} but the composite is {W}x{H}",
                        field="reference", hint=f"give a still of the clip's frame size {W}x{H} (e.g. a Resize "
                        "of the shot's still to that size, under the same paste)")
    if reference_mask is None:
        return
    check_same_size(reference_mask, reference, "reference_mask and reference", field="reference_mask",
                    hint="give the mask of the reference's paste (the same AlphaOver's mask output)")
    if reference_mask.shape[0] != 1:
        raise NodeError(f"reference_mask has {reference_mask.shape[0]} frames; it must be one", field="reference_mask",
                        hint="connect the mask of the still paste, not of the clip")


class SinGANEdit(Node):
    """Edit an image by rough copy-paste and let SinGAN blend it: injection at scale n, mask dilated by 20.

    Outputs the masked result (edited image outside the soft mask) and the raw regenerated image.
    """

    category = CATEGORY
    inputs = (Input("model", SINGAN), Input("image", IMAGE, "the roughly edited image"),
              Input("mask", MASK, "where it was edited"))
    outputs = (Output("image", IMAGE, "edited image blended through the soft mask"),
               Output("unmasked", IMAGE, "the regenerated image (training size)"),
               Output("mask", MASK, "the soft mask"))

    class Params(NodeParams):
        scale: int = Field(1, ge=1, le=64, description="injection scale n")
        seed: int = Field(0, ge=0, description="noise seed")
        radius: int = Field(20, ge=0, le=200, description="mask dilation disk radius (training pixels)")
        sigma: float = Field(5.0, ge=0, le=50, description="mask blur sigma (training pixels)")
        output_size: Literal["frame", "training"] = Field("training", description="output resolution")

    def preflight(self, ctx, known):
        check_scale_known(known.get("model"), self.params.scale)  # before the model is trained
        return None

    def run(self, ctx, model: SinGANModel, image: torch.Tensor, mask: torch.Tensor):
        p = self.params
        model = _model(ctx, model)
        _check_mask(image, mask, "image")
        res = harmonize(model, image, mask, p.scale, generator=ctx.generator(),
                        radius=p.radius, sigma=p.sigma, frame_size=p.output_size == "frame")
        return {"image": _plain(res.image), "unmasked": _plain(res.generated), "mask": _plain(res.mask)}


class SinGANPaint(Node):
    """Paint-to-image: a rough painting/clip-art injected at scale n becomes a realistic image."""

    category = CATEGORY
    inputs = (Input("model", SINGAN), Input("paint", IMAGE, "the painting"))
    outputs = (Output("image", IMAGE, "realistic image (training size, or the painting's size)"),)

    class Params(NodeParams):
        scale: int = Field(1, ge=1, le=64, description="injection scale n")
        seed: int = Field(0, ge=0, description="noise seed")
        output_size: Literal["frame", "training"] = Field("training", description="output resolution")

    def preflight(self, ctx, known):
        check_scale_known(known.get("model"), self.params.scale)  # before the model is trained
        return None

    def run(self, ctx, model: SinGANModel, paint: torch.Tensor):
        p = self.params
        model = _model(ctx, model)
        out = paint_to_image(model, paint, p.scale, generator=ctx.generator())
        if p.output_size == "frame":
            out = resize_to(out, tuple(paint.shape[-2:]))
        return {"image": _plain(out)}


class SinGANSample(Node):
    """Random samples from a trained model, at the training size or any size/aspect."""

    category = CATEGORY
    inputs = (Input("model", SINGAN),)
    outputs = (Output("image", IMAGE, "a batch of samples"),)

    class Params(NodeParams):
        count: int = Field(4, ge=1, le=256, description="number of samples (the output batch)")
        start_scale: int = Field(0, ge=0, le=64, description="scales below use the reconstruction noise "
                                 "(keeps the training image's layout)")
        scale_h: float = Field(1.0, ge=0.25, le=8, description="width factor")
        scale_v: float = Field(1.0, ge=0.25, le=8, description="height factor")
        seed: int = Field(0, ge=0, description="noise seed")

    def run(self, ctx, model: SinGANModel):
        p = self.params
        model = _model(ctx, model)
        _require_every_scale(model, "random samples")
        if p.start_scale > model.N:
            raise NodeError(f"start_scale {p.start_scale} > N = {model.N}", field="start_scale")
        if (p.scale_h, p.scale_v) != (1.0, 1.0) and p.start_scale:
            raise NodeError("samples at another size need start_scale 0", field="start_scale")
        return {"image": _plain(sample(model, p.count, generator=ctx.generator(), start_scale=p.start_scale,
                                       scale_v=p.scale_v, scale_h=p.scale_h))}


class SinGANAnimate(Node):
    """Animation: a random walk in noise space around the reconstruction noise -> a frame sequence."""

    category = CATEGORY
    inputs = (Input("model", SINGAN),)
    outputs = (Output("frames", IMAGE, "the frames as one batch (T, 3, h, w)"),)

    class Params(NodeParams):
        frames: int = Field(100, ge=2, le=2000, description="number of frames")
        alpha: float = Field(0.1, ge=0, le=1, description="pull towards the reconstruction noise")
        beta: float = Field(0.9, ge=0, le=1, description="momentum of the walk (0.8-0.95)")
        start_scale: int = Field(2, ge=0, le=64, description="scales below stay fixed")
        seed: int = Field(0, ge=0, description="noise seed")

    def run(self, ctx, model: SinGANModel):
        p = self.params
        model = _model(ctx, model)
        _require_every_scale(model, "animation")
        return {"frames": _plain(animate(model, p.frames, generator=ctx.generator(), alpha=p.alpha, beta=p.beta,
                                         start_scale=p.start_scale))}


class SinGANSuperResolution(Node):
    """Super-resolution with the finest generator, in steps of about 2^(1/3).

    Best with a model trained on the low-resolution image itself with scale_factor 0.79,
    min_size 18 and alpha 100 (the reference's SR recipe).
    """

    category = CATEGORY
    inputs = (Input("model", SINGAN), Input("image", IMAGE, "image to enlarge (default: the training image)",
                                            optional=True))
    outputs = (Output("image", IMAGE, "the enlarged image"),)

    class Params(NodeParams):
        factor: float = Field(4.0, ge=1.0, le=16.0, description="upscaling factor")
        noise: bool = Field(True, description="add the finest scale's noise (reference) or not")
        seed: int = Field(0, ge=0, description="noise seed")

    def run(self, ctx, model: SinGANModel, image: torch.Tensor | None = None):
        p = self.params
        model = _model(ctx, model)
        out = super_resolution(model, p.factor, generator=ctx.generator(), image=image, noise=p.noise)
        return {"image": _plain(out)}


NODES = (TrainSinGAN, LoadSinGAN, FineTuneSinGAN, Harmonize, SinGANSample, SinGANAnimate, SinGANSuperResolution,
         SinGANPaint, SinGANEdit)

__all__ = ["NODES", "PRESETS", *[c.__name__ for c in NODES], "valid_scales"]
