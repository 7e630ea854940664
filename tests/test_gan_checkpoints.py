"""Reading reference checkpoints: weights-only, pickle refused, clean-up, key diffs, inference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_gan_helpers import registry, write_frames

from nodeflow.errors import NodeError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.nodes.gan.checkpoints import clean_state_dict, diff_keys, load_into, read_state_dict
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.loading import load_pix2pix
from nodeflow.nodes.pix2pix.networks import GeneratorSpec, ResnetGenerator


def reference_style(state: dict[str, torch.Tensor], *, prefix: str = "", stale_instance: bool = False,
                    drop_counters: bool = False) -> dict[str, torch.Tensor]:
    """What older reference runs wrote: DataParallel prefixes, pre-0.4 InstanceNorm buffers, no counters."""
    out = {}
    for k, v in state.items():
        if drop_counters and k.endswith("num_batches_tracked"):
            continue
        out[prefix + k] = v
    if stale_instance:  # resnet instance-norm layers follow their conv: model.1 -> model.2, block .1 -> .2, ...
        norm_after_conv = {"model.2": "model.1", "model.5": "model.4", "model.8": "model.7",
                           "model.10.conv_block.2": "model.10.conv_block.1",
                           "model.10.conv_block.6": "model.10.conv_block.5"}
        for layer, conv in norm_after_conv.items():
            c = state[conv + ".weight"].shape[0]
            out[f"{prefix}{layer}.running_mean"] = torch.zeros(c)
            out[f"{prefix}{layer}.running_var"] = torch.ones(c)
            out[f"{prefix}{layer}.num_batches_tracked"] = torch.tensor(7)
    return out


def test_weights_only_plain_and_legacy_files(tmp_path):
    net = ResnetGenerator(3, 3, 4, "instance", n_blocks=2)
    for legacy in (False, True):
        path = tmp_path / f"g_{legacy}.pth"
        torch.save(net.state_dict(), path, _use_new_zipfile_serialization=not legacy)
        state = read_state_dict(path)
        assert set(state) == set(net.state_dict())


def test_pickled_payload_is_refused_unless_allowed(tmp_path):
    net = ResnetGenerator(3, 3, 4, "instance", n_blocks=1)
    path = tmp_path / "whole_model.pth"
    torch.save(net, path)  # a pickled nn.Module, not a state dict
    with pytest.raises(NodeError) as info:
        read_state_dict(path)
    assert "unpickle" in info.value.message and info.value.field == "path"
    assert "allow_pickle" in (info.value.hint or "")
    assert set(read_state_dict(path, allow_pickle=True)) == set(net.state_dict())

    g = Graph(registry=registry(), base_dir=tmp_path)
    g.add("LoadPix2Pix", id="load", path=str(path))
    g.output("model", g.node("load").model)
    with pytest.raises(NodeExecutionError, match="allow_pickle"):
        g.run(device="cpu")
    g.set("load", allow_pickle=True)
    handle = g.run(device="cpu")["model"]
    assert isinstance(handle, Pix2PixHandle) and handle.spec.arch == "resnet_1blocks"


def test_clean_up_stale_instance_norm_prefix_and_counters():
    torch.manual_seed(0)
    net = GeneratorSpec("resnet_6blocks", 3, 3, 8, "instance").build("normal")
    dirty = reference_style(net.state_dict(), prefix="module.", stale_instance=True)
    assert diff_keys(net, dirty)  # as written it would not load
    fresh = GeneratorSpec("resnet_6blocks", 3, 3, 8, "instance").build()
    load_into(fresh, dirty)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), net.eval()(x))

    bn_net = GeneratorSpec("unet_32", 3, 3, 4, "batch").build("normal")
    old = reference_style(bn_net.state_dict(), drop_counters=True)
    cleaned = clean_state_dict(old, bn_net)
    assert not diff_keys(bn_net, cleaned)
    assert any(k.endswith("num_batches_tracked") for k in cleaned)


def test_key_mismatch_names_the_differing_keys(tmp_path):
    net = GeneratorSpec("unet_64", 3, 3, 4, "batch").build("normal")
    path = tmp_path / "latest_net_G.pth"
    torch.save(net.state_dict(), path)
    with pytest.raises(NodeError) as info:
        load_pix2pix(path, arch="unet_32")
    msg = info.value.message
    # unet_32's innermost level (depth 4) is a middle level in unet_64: its up-conv sits at 5, not 3
    deep = "model.model.1.model.3.model.3.model.3.model."
    assert "5 missing from the file" in msg and f"{deep}3.weight" in msg
    assert "18 not in the network" in msg and f"{deep}2.running_mean" in msg
    with pytest.raises(NodeError, match="missing from the file"):
        load_pix2pix(path, norm="instance")
    state = net.state_dict()
    state["model.model.0.weight"] = torch.zeros(4, 1, 4, 4)
    with pytest.raises(NodeError, match=r"1 with other shapes: model.model.0.weight "
                                        r"\(network \(4, 3, 4, 4\), file \(4, 1, 4, 4\)\)"):
        load_into(GeneratorSpec("unet_64", 3, 3, 4, "batch").build(), state)


def reference_unet_file(folder: Path) -> tuple[torch.nn.Module, Path]:
    """A pix2pix unet_256 batch-norm generator with real running statistics, saved in the
    reference's format as ``folder/facades_label2photo_pretrained/latest_net_G.pth``."""
    torch.manual_seed(1)
    source = GeneratorSpec("unet_256", 3, 3, 4, "batch", dropout=True).build("normal")
    source.train()
    with torch.no_grad():  # give BatchNorm real running statistics
        for _ in range(3):
            source(torch.rand(2, 3, 256, 256) * 2 - 1)
    model_dir = folder / "facades_label2photo_pretrained"
    model_dir.mkdir()
    torch.save(reference_style(source.state_dict(), drop_counters=True), model_dir / "latest_net_G.pth",
               _use_new_zipfile_serialization=False)
    return source, model_dir


def add_reference_translate(g: Graph, model_dir: Path) -> None:
    """``labels.safetensors`` translated by the loaded reference file, in eval mode and with per-image
    statistics (outputs ``eval`` and ``ref``)."""
    g.add("TensorFrames", id="src", path="labels.safetensors")
    g.add("LoadPix2Pix", id="load", path=model_dir.name)
    g.add("Translate", id="eval", image=g.node("src").image, model=g.node("load").model)
    g.add("Translate", id="ref", image=g.node("src").image, model=g.node("load").model,
          norm_stats="per_image")
    g.output("eval", g.node("eval").image)
    g.output("ref", g.node("ref").image)


def test_reference_facades_style_unet_loads_with_reference_outputs(tmp_path):
    """A pix2pix unet_256 batch-norm file (facades_label2photo layout) in the reference's formats."""
    source, folder = reference_unet_file(tmp_path)
    frames = torch.rand(2, 3, 256, 256)
    write_frames(tmp_path / "labels.safetensors", frames)
    g = Graph(registry=registry(), base_dir=tmp_path)
    add_reference_translate(g, folder)
    g.output("model", g.node("load").model)
    out = g.run(device="cpu")
    handle = out["model"]
    assert handle.spec == GeneratorSpec("unet_256", 3, 3, 4, "batch", dropout=False)
    assert handle.mode == "aligned" and handle.net_size == 256

    source.eval()
    with torch.no_grad():
        want_eval = (source(frames * 2 - 1) + 1) / 2
        # reference test.py without --eval: train-mode BatchNorm on one image at a time (dropout aside)
        source.train()
        for m in source.modules():
            if isinstance(m, torch.nn.Dropout):
                m.eval()
        want_ref = torch.cat([(source(f[None] * 2 - 1) + 1) / 2 for f in frames])
    assert torch.allclose(out["eval"], want_eval, atol=1e-5)
    assert torch.allclose(out["ref"], want_ref, atol=1e-4)
