"""CycleGAN: unpaired training moves colours across domains, nodes, reference files, tiling, resume."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch
from test_gan_checkpoints import reference_style
from test_gan_helpers import registry, two_tone, write_frames, write_images

from nodeflow.context import CancelToken, RunContext
from nodeflow.errors import Cancelled, NodeExecutionError
from nodeflow.events import NodeFinished, NodeProgress, NodeStarted
from nodeflow.graph import Graph
from nodeflow.nodes.cyclegan.handle import CycleGANHandle
from nodeflow.nodes.cyclegan.train import CycleGANOptions, CycleGANTrainer
from nodeflow.nodes.gan.inference import run_padded, run_tiled
from nodeflow.nodes.gan.training import run_training
from nodeflow.nodes.pix2pix.networks import GeneratorSpec

RED = (torch.tensor([0.35, 0.05, 0.05]), torch.tensor([1.0, 0.55, 0.35]))
BLUE = (torch.tensor([0.05, 0.1, 0.4]), torch.tensor([0.45, 0.8, 1.0]))
TINY = dict(generator="resnet_6blocks", ngf=8, ndf=8, batch_size=2, load_size=36, crop_size=32, pool_size=10)


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unpaired")
    write_images(root / "trainA", two_tone(12, 36, seed=1, dark=RED[0], bright=RED[1]))
    write_images(root / "trainB", two_tone(12, 36, seed=2, dark=BLUE[0], bright=BLUE[1]))
    return root


def blueness(x: torch.Tensor) -> float:
    return (x[:, 2] - x[:, 0]).mean().item()


def test_unpaired_training_learns_the_colour_mapping(domains):
    opts = CycleGANOptions(**TINY, niter=40, niter_decay=20, seed=1)
    trainer = CycleGANTrainer(opts, domains, torch.device("cpu"))
    history = [{k: float(v) for k, v in trainer.train_step(s).items()} for s in range(opts.total_steps)]
    cycle = [h["cycle_A"] + h["cycle_B"] for h in history]
    assert statistics.mean(cycle[-10:]) < 0.7 * statistics.mean(cycle[:10])

    handle = trainer.handle()
    a = two_tone(4, 40, seed=50, dark=RED[0], bright=RED[1])
    b = two_tone(4, 40, seed=51, dark=BLUE[0], bright=BLUE[1])
    g_a, spec = handle.generator("AtoB")
    g_b, _ = handle.generator("BtoA")
    with torch.no_grad():
        fake_b = (run_padded(g_a, a * 2 - 1, spec.multiple) + 1) / 2
        fake_a = (run_padded(g_b, b * 2 - 1, spec.multiple) + 1) / 2
    # red images turn blue and blue ones red, at least most of the way
    assert blueness(fake_b) > blueness(a) + 0.6 * (blueness(b) - blueness(a))
    assert blueness(fake_a) < blueness(b) - 0.6 * (blueness(b) - blueness(a))


def test_graph_trains_once_and_stylizes_both_ways(tmp_path, domains):
    frames = torch.cat([two_tone(2, 64, seed=9, dark=RED[0], bright=RED[1])[:, :, :45, :61],
                        torch.rand(2, 1, 45, 61)], 1).contiguous()
    write_frames(tmp_path / "clip.safetensors", frames)

    def build() -> Graph:
        g = Graph(registry=registry(), base_dir=tmp_path)
        g.add("TrainCycleGAN", id="train", dataroot=str(domains), niter=4, niter_decay=2, preview_every=3,
              **TINY)
        g.add("TensorFrames", id="clip", path="clip.safetensors")
        for d in ("AtoB", "BtoA"):
            g.add("Stylize", id=f"s_{d}", image=g.node("clip").image, model=g.node("train").model,
                  direction=d)
            g.output(d, g.node(f"s_{d}").image)
        g.add("Stylize", id="tiled", image=g.node("clip").image, model=g.node("train").model, tile=32,
              tile_overlap=8)
        g.add("Stylize", id="small", image=g.node("clip").image, model=g.node("train").model,
              resolution="model")
        g.output("tiled", g.node("tiled").image)
        g.output("small", g.node("small").image)
        return g

    events: list = []
    out = build().run(device="cpu", on_event=events.append)
    progress = [e for e in events if isinstance(e, NodeProgress) and e.node_id == "train"]
    assert len(progress) == 6 and "cycle_A" in progress[-1].message
    for name in ("AtoB", "BtoA", "tiled", "small"):
        assert out[name].shape == (2, 4, 45, 61)
        assert torch.equal(out[name][:, 3:], frames[:, 3:])
    assert not torch.allclose(out["AtoB"], out["BtoA"])
    assert (out["tiled"] - out["AtoB"]).abs().mean() < 0.1  # tiles blend into nearly the same picture

    events.clear()
    out2 = build().run(device="cpu", on_event=events.append)
    assert not any(isinstance(e, NodeStarted) and e.node_id == "train" for e in events)
    assert any(isinstance(e, NodeFinished) and e.node_id == "train" and e.cached == "disk" for e in events)
    assert torch.allclose(out2["AtoB"], out["AtoB"], atol=1e-6)


def test_published_single_direction_file_loads_and_matches(tmp_path):
    """A style_monet-like latest_net_G.pth: resnet_9blocks, instance norm, old InstanceNorm buffers."""
    torch.manual_seed(0)
    source = GeneratorSpec("resnet_9blocks", 3, 3, 16, "instance").build("normal").eval()
    folder = tmp_path / "style_monet_pretrained"
    folder.mkdir()
    torch.save(reference_style(source.state_dict(), stale_instance=True), folder / "latest_net_G.pth",
               _use_new_zipfile_serialization=False)
    frames = torch.rand(1, 3, 30, 42)
    write_frames(tmp_path / "f.safetensors", frames)
    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("TensorFrames", id="src", path="f.safetensors")
    g.add("LoadCycleGAN", id="load", path=folder.name)
    g.add("Stylize", id="style", image=g.node("src").image, model=g.node("load").model)
    g.output("style", g.node("style").image)
    g.output("model", g.node("load").model)
    out = g.run(device="cpu")
    handle = out["model"]
    assert handle.specs["AtoB"] == GeneratorSpec("resnet_9blocks", 3, 3, 16, "instance", False)
    with torch.no_grad():
        want = (run_padded(source, frames * 2 - 1, 4) + 1) / 2
    assert torch.allclose(out["style"], want.clamp(0, 1), atol=1e-5)

    g.set("style", direction="BtoA")
    with pytest.raises(NodeExecutionError, match="no BtoA generator") as info:
        g.run(device="cpu")
    assert info.value.field == "direction"

    # a training folder with both directions, and our own format round trip
    run_dir = tmp_path / "horse2zebra"
    run_dir.mkdir()
    torch.save(source.state_dict(), run_dir / "latest_net_G_A.pth")
    other = GeneratorSpec("resnet_9blocks", 3, 3, 16, "instance").build("normal").eval()
    torch.save(other.state_dict(), run_dir / "latest_net_G_B.pth")
    g.set("load", path=run_dir.name)
    both = g.run(device="cpu")
    with torch.no_grad():
        want_b = ((run_padded(other, frames * 2 - 1, 4) + 1) / 2).clamp(0, 1)
    assert torch.allclose(both["style"], want_b, atol=1e-5)
    saved = tmp_path / "ours"
    saved.mkdir()
    both["model"].save(saved)
    assert sorted(p.name for p in saved.iterdir()) == ["G_A.safetensors", "G_B.safetensors", "options.json"]
    reloaded = CycleGANHandle.load(saved)
    assert reloaded.options() == both["model"].options()
    g.set("load", path="ours")
    assert torch.equal(g.run(device="cpu")["style"], both["style"])


def test_tiling_blends_exactly_for_pointwise_networks():
    x = torch.rand(2, 3, 70, 101)
    for tile, overlap in ((32, 8), (48, 0), (200, 16)):
        y = run_tiled(lambda t: t * 2 - 1, x, 4, tile, overlap)
        assert torch.allclose(y, x * 2 - 1, atol=1e-6)


def test_resume_restores_pools_and_optimizers(tmp_path, domains):
    opts = CycleGANOptions(**{**TINY, "pool_size": 3}, niter=5, niter_decay=5, seed=2)
    kwargs = dict(total_steps=10, checkpoint_every=4, preview_every=0, preview_dir=None, label="cg")

    def ctx(scratch, token, listeners=()):
        return RunContext(node_id="t", node_type="TrainCycleGAN", device=torch.device("cpu"), seed=0,
                          scratch_path=scratch, cancel_token=token, listeners=tuple(listeners))

    straight = CycleGANTrainer(opts, domains, torch.device("cpu"))
    run_training(straight, ctx(tmp_path / "a", CancelToken()), **kwargs)
    token = CancelToken()

    def cancel_at_6(event):
        if isinstance(event, NodeProgress) and event.done == 6:
            token.cancel()

    with pytest.raises(Cancelled):
        run_training(CycleGANTrainer(opts, domains, torch.device("cpu")),
                     ctx(tmp_path / "b", token, [cancel_at_6]), **kwargs)
    resumed = CycleGANTrainer(opts, domains, torch.device("cpu"))
    assert len(run_training(resumed, ctx(tmp_path / "b", CancelToken()), **kwargs)) == 4
    for name in ("g_a", "g_b", "d_a", "d_b"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), name
    assert all(torch.equal(x, y) for x, y in zip(straight.pool_a.images, resumed.pool_a.images, strict=True))
    sa, sb = straight.opt_d.state_dict()["state"], resumed.opt_d.state_dict()["state"]
    assert all(torch.allclose(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"], atol=1e-9) for i in sa)


def test_missing_domain_folder_is_a_clear_error(tmp_path):
    write_images(tmp_path / "data" / "trainA", two_tone(1, 36, seed=0))
    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("TrainCycleGAN", id="train", dataroot="data", niter=1, niter_decay=0, **TINY)
    g.output("m", g.node("train").model)
    with pytest.raises(NodeExecutionError, match="no trainB/ folder") as info:
        g.run(device="cpu")
    assert info.value.field == "dataroot"


def test_cli_trains_and_saves_both_generators(tmp_path, domains, monkeypatch):
    import nodeflow.registry
    from nodeflow.cli import main

    monkeypatch.setattr(nodeflow.registry, "_default", registry())
    monkeypatch.chdir(tmp_path)
    code = main(["train", "cyclegan", str(domains), "--generator", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
                 "--niter", "1", "--niter-decay", "1", "--load-size", "36", "--crop-size", "32",
                 "--lambda-identity", "0", "--preview-every", "0", "--out", "styler", "--device", "cpu"])
    assert code == 0
    handle = CycleGANHandle.load(tmp_path / "styler")
    assert set(handle.nets) == {"AtoB", "BtoA"} and handle.specs["BtoA"].ngf == 4
