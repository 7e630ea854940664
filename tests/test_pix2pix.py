"""Pix2Pix: training (loss falls, colorization beats the gray baseline), nodes, caching, resume."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_gan_helpers import registry, two_tone, write_frames, write_images

from nodeflow.context import CancelToken, RunContext
from nodeflow.errors import Cancelled, NodeError, NodeExecutionError
from nodeflow.events import NodeFinished, NodeProgress, NodeStarted
from nodeflow.graph import Graph
from nodeflow.nodes.gan.data import PairedImages
from nodeflow.nodes.gan.lab import lab_norm_to_rgb, rgb_to_lab_norm
from nodeflow.nodes.gan.training import STATE_FILE, run_training
from nodeflow.nodes.pix2pix.apply import colorize, translate
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.train import Pix2PixOptions, Pix2PixTrainer

TINY = dict(mode="colorization", generator="resnet_6blocks", ngf=8, ndf=8, norm="batch", batch_size=4,
            load_size=40, crop_size=32)


@pytest.fixture(scope="module")
def color_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("colors")
    write_images(root, two_tone(16, 40, seed=0))
    return root


def test_colorization_training_loss_falls_and_beats_gray_baseline(color_data):
    torch.manual_seed(0)
    opts = Pix2PixOptions(**TINY, niter=90, niter_decay=60, seed=3)
    trainer = Pix2PixTrainer(opts, color_data, torch.device("cpu"))
    history = [{k: float(v) for k, v in trainer.train_step(s).items()} for s in range(opts.total_steps)]
    l1 = [h["G_L1"] for h in history]
    assert statistics.mean(l1[-20:]) < 0.5 * statistics.mean(l1[:20])

    held_out = two_tone(6, 48, seed=99)  # unseen images, another size
    l_norm, truth_ab = rgb_to_lab_norm(held_out)
    gray = lab_norm_to_rgb(l_norm, torch.zeros_like(truth_ab))  # the B&W print: same L, no colour
    assert torch.allclose(gray[:, 0], gray[:, 1], atol=1e-3) and torch.allclose(gray[:, 1], gray[:, 2], atol=1e-3)
    out = colorize(trainer.handle(), gray, resolution="full")
    model_err = (rgb_to_lab_norm(out)[1] - truth_ab).abs().mean().item()
    gray_err = truth_ab.abs().mean().item()  # the gray baseline predicts ab = 0
    assert model_err < 0.4 * gray_err, (model_err, gray_err)  # ~0.23 observed


def test_graph_trains_once_colorizes_any_size_and_reuses_the_disk_cache(tmp_path, color_data):
    frames = two_tone(3, 64, seed=7)[:, :, 5:42, 3:56].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    alpha = torch.linspace(0, 1, 53).expand(3, 1, 37, 53)
    write_frames(tmp_path / "film.safetensors", torch.cat([frames, alpha], 1).contiguous())

    def build() -> Graph:
        g = Graph(registry=registry(), base_dir=tmp_path)
        g.add("TrainPix2Pix", id="train", dataroot=str(color_data), niter=6, niter_decay=4,
              preview_every=5, checkpoint_every=4, preview_dir="previews",
              **{k: v for k, v in TINY.items()})
        g.add("TensorFrames", id="film", path="film.safetensors")
        for res in ("model", "full"):
            g.add("Colorize", id=f"color_{res}", image=g.node("film").image, model=g.node("train").model,
                  resolution=res)
            g.output(res, g.node(f"color_{res}").image)
        return g

    events: list = []
    out = build().run(device="cpu", output_dir=tmp_path / "out", batch_size=2, on_event=events.append)
    progress = [e for e in events if isinstance(e, NodeProgress) and e.node_id == "train"]
    assert [e.done for e in progress] == list(range(1, 11)) and "G_L1" in progress[-1].message
    assert "ETA" in progress[-1].message
    assert sorted(p.name for p in (tmp_path / "out" / "previews").iterdir()) == ["step_0000005.png",
                                                                                "step_0000010.png"]
    for res in ("model", "full"):
        image = out[res]
        assert image.shape == (3, 4, 37, 53)
        assert torch.equal(image[:, 3:], alpha)  # alpha passes through
        l_in = rgb_to_lab_norm(frames)[0]
        assert (rgb_to_lab_norm(image[:, :3])[0] - l_in).abs().max() < 0.02  # the film's own lightness

    events.clear()
    again = build()  # new graph, new session: only the disk cache connects the runs
    out2 = again.run(device="cpu", output_dir=tmp_path / "out", on_event=events.append)
    assert not any(isinstance(e, NodeStarted) and e.node_id == "train" for e in events)
    assert any(isinstance(e, NodeFinished) and e.node_id == "train" and e.cached == "disk" for e in events)
    assert torch.allclose(out2["full"], out["full"], atol=1e-6)


def _ctx(scratch: Path, token: CancelToken, listeners=()) -> RunContext:
    return RunContext(node_id="train", node_type="TrainPix2Pix", device=torch.device("cpu"), seed=0,
                      scratch_path=scratch, cancel_token=token, listeners=tuple(listeners))


def _interrupt_at(step: int, token: CancelToken, how: str):
    def listener(event):
        if isinstance(event, NodeProgress) and event.done == step:
            if how == "cancel":
                token.cancel()
            else:
                raise KeyboardInterrupt
    return listener


@pytest.mark.parametrize("how", ["cancel", "crash"])
def test_resume_continues_the_same_optimizer_state(tmp_path, color_data, how):
    """Cancelled (checkpoint written on cancel) or killed (last periodic checkpoint): same end state."""
    opts = Pix2PixOptions(**{**TINY, "batch_size": 2}, niter=10, niter_decay=10, seed=5)  # dropout: RNG too
    kwargs = dict(total_steps=20, checkpoint_every=8, preview_every=0, preview_dir=None, label="p2p")

    straight = Pix2PixTrainer(opts, color_data, torch.device("cpu"))
    run_training(straight, _ctx(tmp_path / "a", CancelToken()), **kwargs)

    token = CancelToken()
    first = Pix2PixTrainer(opts, color_data, torch.device("cpu"))
    with pytest.raises(Cancelled if how == "cancel" else KeyboardInterrupt):
        run_training(first, _ctx(tmp_path / "b", token, [_interrupt_at(13, token, how)]), **kwargs)
    assert (tmp_path / "b" / STATE_FILE).exists()
    torch.manual_seed(1234)  # a fresh process would have another global RNG state
    resumed = Pix2PixTrainer(opts, color_data, torch.device("cpu"))
    history = run_training(resumed, _ctx(tmp_path / "b", CancelToken()), **kwargs)
    assert len(history) == (7 if how == "cancel" else 12)  # resumed at step 13 / at the step-8 checkpoint

    for name in ("net_g", "net_d"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a), name
    for name in ("opt_g", "opt_d"):
        sa, sb = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert sa["param_groups"][0]["lr"] == sb["param_groups"][0]["lr"]
        for idx, st in sa["state"].items():
            assert float(st["step"]) == float(sb["state"][idx]["step"]) == 20
            assert torch.allclose(st["exp_avg"], sb["state"][idx]["exp_avg"], atol=1e-7)
            assert torch.allclose(st["exp_avg_sq"], sb["state"][idx]["exp_avg_sq"], atol=1e-9)


def test_save_load_round_trip_gives_identical_outputs(tmp_path, color_data):
    opts = Pix2PixOptions(**TINY, niter=3, niter_decay=0)
    trainer = Pix2PixTrainer(opts, color_data, torch.device("cpu"))
    for s in range(3):
        trainer.train_step(s)
    handle = trainer.handle()
    folder = tmp_path / "model"
    folder.mkdir()
    handle.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["generator.safetensors", "options.json"]
    loaded = Pix2PixHandle.load(folder)
    assert loaded.options() == handle.options()
    frames = two_tone(2, 44, seed=11)
    want = colorize(handle, frames, resolution="full")
    assert torch.equal(colorize(loaded, frames, resolution="full"), want)

    write_frames(tmp_path / "f.safetensors", frames)
    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("TensorFrames", id="src", path="f.safetensors")
    for name, path in (("folder", "model"), ("file", "model/generator.safetensors")):
        g.add("LoadPix2Pix", id=f"load_{name}", path=path)
        g.add("Colorize", id=f"c_{name}", image=g.node("src").image, model=g.node(f"load_{name}").model,
              resolution="full")
        g.output(name, g.node(f"c_{name}").image)
    out = g.run(device="cpu")
    assert torch.equal(out["folder"], want) and torch.equal(out["file"], want)


def test_paired_layouts(tmp_path):
    a, b = two_tone(3, 32, seed=1), two_tone(3, 32, seed=2)
    aligned = tmp_path / "aligned" / "train"
    write_images(aligned, torch.cat([a, b], dim=-1))  # A|B side by side
    folders = tmp_path / "folders"
    write_images(folders / "A", a)
    write_images(folders / "B", b)
    write_images(folders / "B", b[:1], prefix="unpaired_")
    kw = dict(preprocess="crop", load_size=32, crop_size=32, flip=False)
    for root, layout in ((tmp_path / "aligned", "auto"), (folders, "auto"), (folders, "folders")):
        data = PairedImages(root, layout=layout, **kw)
        assert len(data) == 3
        got_a, got_b = data.batch(0, 3)
        for x, y in zip(got_a, got_b, strict=True):  # the same pair, in the right order
            i = min(range(3), key=lambda j: (a[j] - x).abs().mean())
            assert (a[i] - x).abs().max() < 3 / 255 and (b[i] - y).abs().max() < 3 / 255
    swapped = PairedImages(folders, direction="BtoA", **kw).batch(0, 1)
    assert min((b[j] - swapped[0][0]).abs().max() for j in range(3)) < 3 / 255

    with pytest.raises(NodeError, match="no A/ and B/"):
        PairedImages(tmp_path / "aligned", layout="folders", **kw)
    with pytest.raises(NodeError, match="smaller than crop_size"):
        PairedImages(tmp_path / "aligned", preprocess="crop", crop_size=64, load_size=64).batch(0, 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NodeError, match="no images"):
        PairedImages(tmp_path / "empty", **kw)


def test_node_errors_name_the_field(tmp_path, color_data):
    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("TrainPix2Pix", id="train", dataroot=str(color_data), generator="unet_256", crop_size=32,
          load_size=40, niter=1, niter_decay=0)
    g.output("model", g.node("train").model)
    with pytest.raises(NodeExecutionError) as info:
        g.run(device="cpu")
    assert info.value.field == "crop_size" and "multiple of 256" in str(info.value)

    g.set("train", dataroot="nowhere")
    from nodeflow.errors import GraphValidationError

    with pytest.raises(GraphValidationError, match="dataroot"):
        g.run(device="cpu")
    (tmp_path / "flat.png").touch()
    g.set("train", dataroot="flat.png", generator="resnet_6blocks")
    with pytest.raises(NodeExecutionError, match="is a file"):
        g.run(device="cpu")


def test_colorize_refuses_translation_models_and_translate_runs_them(tmp_path):
    torch.manual_seed(0)
    handle = Pix2PixHandle(__import__("nodeflow.nodes.pix2pix.networks", fromlist=["x"])
                           .GeneratorSpec("resnet_6blocks", 3, 3, 4, "instance").build("normal"),
                           __import__("nodeflow.nodes.pix2pix.networks", fromlist=["x"])
                           .GeneratorSpec("resnet_6blocks", 3, 3, 4, "instance"))
    folder = tmp_path / "m"
    folder.mkdir()
    handle.save(folder)
    Image.new("RGB", (30, 18), (200, 40, 10)).save(tmp_path / "x.png")
    write_frames(tmp_path / "f.safetensors", torch.rand(1, 3, 18, 30))
    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("TensorFrames", id="src", path="f.safetensors")
    g.add("LoadPix2Pix", id="load", path="m")
    g.add("Translate", id="t", image=g.node("src").image, model=g.node("load").model, resolution="full")
    g.output("t", g.node("t").image)
    out = g.run(device="cpu")["t"]
    assert out.shape == (1, 3, 18, 30) and out.min() >= 0 and out.max() <= 1
    g.add("Colorize", id="c", image=g.node("src").image, model=g.node("load").model)
    g.output("c", g.node("c").image)
    with pytest.raises(NodeExecutionError, match="does not colorize"):
        g.run(device="cpu")
    g.set("load", mode="colorization")
    with pytest.raises(NodeExecutionError, match="1 -> 2 channels"):
        g.run(device="cpu")


def test_cli_trains_and_saves_a_loadable_model(tmp_path, color_data, monkeypatch):
    import nodeflow.registry
    from nodeflow.cli import main

    monkeypatch.setattr(nodeflow.registry, "_default", registry())
    monkeypatch.chdir(tmp_path)
    code = main(["train", "pix2pix", str(color_data), "--mode", "colorization",
                 "--generator", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--niter", "2", "--niter-decay", "1",
                 "--load-size", "36", "--crop-size", "32", "--no-flip", "--preview-every", "0",
                 "--out", "colorizer", "--device", "cpu"])
    assert code == 0
    handle = Pix2PixHandle.load(tmp_path / "colorizer")
    assert handle.mode == "colorization" and handle.spec.ngf == 4 and handle.net_size == 32


@pytest.mark.parametrize("options", [
    dict(mode="aligned", generator="unet_32", gan_mode="wgangp", discriminator="pixel"),
    dict(mode="gray2rgb", generator="resnet_6blocks", gan_mode="lsgan", norm="instance", init_type="kaiming"),
    dict(mode="aligned", direction="BtoA", generator="resnet_6blocks", discriminator="n_layers", n_layers_d=2,
         norm="none", dropout=False, init_type="xavier", preprocess="resize"),
])
def test_other_modes_and_options_train_and_run(tmp_path, options):
    a, b = two_tone(4, 32, seed=1), two_tone(4, 32, seed=2).flip(1)
    write_images(tmp_path / "pairs", torch.cat([a, b], dim=-1))
    opts = Pix2PixOptions(**{**TINY, **options, "batch_size": 2, "load_size": 36}, niter=2, niter_decay=1)
    trainer = Pix2PixTrainer(opts, tmp_path / "pairs", torch.device("cpu"))
    losses = [trainer.train_step(s) for s in range(3)]
    assert all(torch.isfinite(v) for step in losses for v in step.values())
    grid = trainer.preview()
    assert grid.shape == (1, 3, 3 * 32, 2 * 32)
    handle = trainer.handle()
    frames = torch.rand(2, 3, 21, 35)
    out = translate(handle, frames, resolution="full")
    assert out.shape == (2, 3, 21, 35) and out.min() >= 0 and out.max() <= 1
    if opts.mode == "gray2rgb":  # colour from an RGB-producing model, the frame's own L (up to gamut clipping)
        colored = colorize(handle, frames, resolution="model")
        assert (rgb_to_lab_norm(colored)[0] - rgb_to_lab_norm(frames)[0]).abs().mean() < 0.05
