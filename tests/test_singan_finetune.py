"""Fine-tuning a trained SinGAN on the naive composite (ConSinGAN's fine-tune): the function and the node."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_singan_nodes import TENSORS, composite_and_mask, registry, tiny_scene

from nodeflow.errors import Cancelled, NodeExecutionError
from nodeflow.events import NodeFinished, NodeProgress
from nodeflow.graph import Graph
from nodeflow.image_files import write_image
from nodeflow.nodes.singan import SinGANModel
from nodeflow.nodes.singan.finetune import FineTuneConfig, composite_error, finetune_singan
from nodeflow.nodes.singan.train import make_config, train_singan


@pytest.fixture(scope="module")
def model() -> SinGANModel:
    return train_singan(tiny_scene(), make_config("fast", "harmonize", iterations=6, min_size=12, max_size=32), seed=0)


def weights(m: SinGANModel) -> list[dict[str, torch.Tensor]]:
    return [{k: v.clone() for k, v in g.state_dict().items()} for g in m.generators if g is not None]


def same(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> list[bool]:
    return [all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True)]


def test_finetune_trains_the_top_stages_lowers_the_composite_error_and_leaves_the_input(model: SinGANModel):
    comp, mask = composite_and_mask()
    before = weights(model)
    critic = {k: v.clone() for k, v in (model.critic or {}).items()}
    assert critic, "a nodeflow training keeps its finest critic for fine-tunes"
    errors_before = [composite_error(model, comp, mask, n) for n in range(1, model.N + 1)]
    tuned = finetune_singan(model, comp, FineTuneConfig(iterations=40, stages=2), seed=0, mask=mask)
    # the input handle (what the cache holds) is untouched
    assert all(same(before, weights(model)))
    assert all(torch.equal(critic[k], model.critic[k]) for k in critic)  # type: ignore[index]
    # only the top two stages changed
    assert same(before, weights(tuned)) == [True] * (model.N - 1) + [False, False]
    assert tuned.meta["finetune"]["stages_trained"] == [model.N - 1, model.N]
    assert tuned.meta["finetune"]["had_critic"] is True
    # the regeneration of the composite reproduces the scene around the paste better at every n
    errors_after = [composite_error(tuned, comp, mask, n) for n in range(1, model.N + 1)]
    assert all(a < b for a, b in zip(errors_after, errors_before, strict=True)), (errors_before, errors_after)
    assert tuned.meta["finetune"]["rmse"] < 0.6


def test_finetune_is_deterministic_by_seed(model: SinGANModel):
    comp, mask = composite_and_mask()
    cfg = FineTuneConfig(iterations=6, stages=1)
    a = weights(finetune_singan(model, comp, cfg, seed=3, mask=mask))
    b = weights(finetune_singan(model, comp, cfg, seed=3, mask=mask))
    c = weights(finetune_singan(model, comp, cfg, seed=4, mask=mask))
    assert all(same(a, b))
    assert not all(same(a, c))


def test_finetune_resumes_exactly_from_its_checkpoint(model: SinGANModel, tmp_path: Path):
    comp, mask = composite_and_mask()
    cfg = FineTuneConfig(iterations=12, stages=2, checkpoint_every=5)
    straight = finetune_singan(model, comp, cfg, seed=1, mask=mask)

    def stop_at_8(p) -> None:
        if p.done == 8:
            raise Cancelled("stop")
    with pytest.raises(Cancelled):
        finetune_singan(model, comp, cfg, seed=1, mask=mask, checkpoint_dir=tmp_path, progress=stop_at_8)
    seen: list[int] = []
    resumed = finetune_singan(model, comp, cfg, seed=1, mask=mask, checkpoint_dir=tmp_path,
                              progress=lambda p: seen.append(p.done))
    assert seen[0] == 6  # after the checkpoint at 5
    assert all(same(weights(straight), weights(resumed)))
    assert resumed.meta["finetune"]["generator_loss"] == pytest.approx(straight.meta["finetune"]["generator_loss"])


def test_finetune_without_a_stored_critic_trains_a_fresh_one(model: SinGANModel):
    comp, _ = composite_and_mask()
    bare = SinGANModel(generators=model.generators, z_rec=model.z_rec, noise_amp=model.noise_amp, reals=model.reals,
                       scale_factor=model.scale_factor)
    logs: list[str] = []
    tuned = finetune_singan(bare, comp, FineTuneConfig(iterations=3, stages=1, scales=(model.N,)), log=logs.append)
    assert tuned.meta["finetune"]["had_critic"] is False and tuned.critic is not None
    assert any("no critic" in m for m in logs)


def test_critic_survives_save_and_load(model: SinGANModel, tmp_path: Path):
    model.save(tmp_path / "m")
    loaded = SinGANModel.load(tmp_path / "m")
    assert loaded.critic is not None and all(torch.equal(loaded.critic[k], v) for k, v in model.critic.items())  # type: ignore[union-attr]


# -- the node --------------------------------------------------------------------------------------


def finetune_graph(tmp_path: Path, **params) -> Graph:
    write_image(tiny_scene(), tmp_path / "scene.png")
    comp, mask = composite_and_mask()
    TENSORS["ft_comp"], TENSORS["ft_mask"] = comp, mask
    g = Graph(registry=registry(), base_dir=tmp_path)
    t = g.add("TrainSinGAN", id="train", image="scene.png", preset="fast", mode="harmonize", iterations=3,
              max_size=32, min_size=12)
    c = g.add("Tensor", id="comp", key="ft_comp")
    k = g.add("Tensor", id="mask", key="ft_mask")
    f = g.add("FineTuneSinGAN", id="tune", model=t.model, composite=c.image, mask=k.mask,
              **{"iterations": 12, **params})
    h = g.add("Harmonize", id="harm", model=f.model, composite=c.image, mask=k.mask, scale=2)
    h0 = g.add("Harmonize", id="harm0", model=t.model, composite=c.image, mask=k.mask, scale=2)
    g.output("image", h.image)
    g.output("image0", h0.image)
    g.output("rmse", f.rmse)
    return g


def test_node_fine_tunes_is_cached_and_changes_the_harmonization(tmp_path: Path):
    events: list = []
    out = finetune_graph(tmp_path).run(device="cpu", on_event=events.append)
    assert any(isinstance(e, NodeProgress) and e.node_id == "tune" and "fine-tune" in e.message for e in events)
    assert not torch.equal(out["image"], out["image0"])
    assert 0 <= out["rmse"] < 1
    # a new session: both trainings come from the disk cache, nothing is trained again
    events.clear()
    again = finetune_graph(tmp_path).run(device="cpu", on_event=events.append)
    cached = {e.node_id: e.cached for e in events if isinstance(e, NodeFinished)}
    assert cached["train"] == "disk" and cached["tune"] == "disk"
    assert not any(isinstance(e, NodeProgress) and e.node_id == "tune" for e in events)
    assert torch.equal(again["image"], out["image"])


def test_node_refuses_more_stages_than_the_model_has(tmp_path: Path):
    with pytest.raises(Exception, match=r"stages.*(1 ≤ stages ≤ 4)"):
        finetune_graph(tmp_path, stages=9).run(device="cpu")


def test_node_refuses_a_frame_outside_the_composite(tmp_path: Path):
    with pytest.raises(NodeExecutionError, match="frame 3 of a batch of 1"):
        finetune_graph(tmp_path, frame=3).run(device="cpu")


CLI = [sys.executable, "-c", "import sys; from nodeflow.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_cli_validate_names_node_field_and_fix(tmp_path: Path, capsys):
    from nodeflow import cli

    spec = {"format": "nodeflow/1", "nodes": {
        "scene": {"type": "SampleImage", "params": {"name": "rocket", "max_size": 64}},
        "train": {"type": "TrainSinGAN", "params": {"max_size": 48, "min_size": 12},
                  "inputs": {"scene": {"node": "scene", "output": "image"}}},
        "tune": {"type": "FineTuneSinGAN", "params": {"stages": 12},
                 "inputs": {"model": {"node": "train", "output": "model"},
                            "composite": {"node": "scene", "output": "image"}}}},
        "outputs": {"model": {"node": "tune", "output": "model"}}}
    path = tmp_path / "g.json"
    path.write_text(json.dumps(spec))
    res = subprocess.run([*CLI, "validate", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "Traceback" not in text
    assert "tune" in text and "FineTuneSinGAN" in text and "stages" in text and "use 1 ≤ stages ≤" in text, text
    spec["nodes"]["tune"]["params"] = {"iterations": 0}
    path.write_text(json.dumps(spec))
    assert cli.main(["validate", str(path)]) == 2  # a bad param: found by validation, in-process here
    text = "".join(capsys.readouterr())
    assert "tune" in text and "iterations" in text and "Traceback" not in text


def test_a_clip_is_fine_tuned_once_on_its_still(tmp_path: Path):
    """The recipe of the README: the fine-tune reads a still composite (the shot's first frame), so it
    is a static node and runs once, while Harmonize goes through the clip batch by batch."""
    comp, mask = composite_and_mask(scale=1)
    TENSORS["clip"] = comp.expand(4, -1, -1, -1).contiguous()
    TENSORS["clip_mask"] = mask.expand(4, -1, -1, -1).contiguous()
    TENSORS["still"], TENSORS["still_mask"] = comp, mask
    write_image(tiny_scene(), tmp_path / "scene.png")
    g = Graph(registry=registry(), base_dir=tmp_path)
    t = g.add("TrainSinGAN", id="train", image="scene.png", preset="fast", iterations=2, max_size=32, min_size=12)
    still = g.add("Tensor", id="still", key="still")
    still_mask = g.add("Tensor", id="still_mask", key="still_mask")
    f = g.add("FineTuneSinGAN", id="tune", model=t.model, composite=still.image, mask=still_mask.mask, iterations=4)
    clip = g.add("Clip", id="clip", key="clip", count=4)
    h = g.add("Harmonize", id="harm", model=f.model, composite=clip.image, mask=clip.mask, scale=2)
    g.output("image", h.image)
    events: list = []
    frames = g.run(device="cpu", batch_size=2, on_event=events.append)["image"]
    assert frames.shape == (4, 3, 24, 32)
    finished = [e.node_id for e in events if isinstance(e, NodeFinished)]
    assert finished.count("tune") == 1 and finished.count("harm") == 2
