"""Damaged, malicious and mismatched model files: clear errors that name node, field and fix."""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest
import torch

from nodeflow.nodes.gan.checkpoints import looks_like
from nodeflow.nodes.pix2pix.handle import Pix2PixHandle
from nodeflow.nodes.pix2pix.networks import GeneratorSpec
from nodeflow.nodes.singan.networks import Discriminator, Generator
from robustness.probe import assert_clean, cli


@pytest.fixture
def models(tmp_path):
    """A small saved Pix2Pix folder and a reference-style ResNet ``.pth``."""
    spec = GeneratorSpec("unet_32", 1, 2, 4, "batch")
    Pix2PixHandle(spec.build("normal"), spec, mode="colorization", net_size=32).save(tmp_path / "model")
    torch.save(GeneratorSpec("resnet_6blocks", 3, 3, 4, "instance").build("normal").state_dict(),
               tmp_path / "resnet.pth")
    return tmp_path


def load(tmp_path, path: str, type_name: str = "LoadPix2Pix", **params) -> tuple[int, str]:
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"format": "nodeflow/1", "nodes": {
        "m": {"type": type_name, "params": {"path": path, **params}}}, "outputs": {"x": {"node": "m", "output": "model"}}}))
    outcome = cli(["run", str(graph), "--device", "cpu"])
    assert_clean(outcome)
    return outcome.code, " ".join(outcome.output.split())


def test_intact_model_loads(models):
    assert load(models, "model")[0] == 0


def test_options_json_that_is_not_json(models):
    shutil.copytree(models / "model", models / "bad")
    with open(models / "bad" / "options.json", "a") as f:
        f.write("{{")
    code, text = load(models, "bad")
    assert code == 1
    assert "node m (LoadPix2Pix): path:" in text and "options.json is damaged: not valid JSON" in text
    assert "JSONDecodeError" not in text and "save/train the model again" in text


@pytest.mark.parametrize("where", ["folder", "file"])
def test_truncated_safetensors(models, where):
    weights = models / "model" / "generator.safetensors"
    data = weights.read_bytes()
    if where == "folder":
        shutil.copytree(models / "model", models / "cut")
        (models / "cut" / "generator.safetensors").write_bytes(data[: len(data) // 2])
        path = "cut"
    else:
        (models / "cut.safetensors").write_bytes(data[: len(data) // 2])
        path = "cut.safetensors"
    code, text = load(models, path)
    assert code == 1 and "is truncated:" in text and f"{len(data) // 2} bytes of the {len(data)}" in text
    assert "SafetensorError" not in text and "download the file again" in text


def test_safetensors_with_a_garbage_header(models):
    (models / "junk.safetensors").write_bytes((1 << 40).to_bytes(8, "little") + b"{}")
    code, text = load(models, "junk.safetensors")
    assert code == 1 and "is damaged or truncated: not a whole safetensors file" in text


def damaged(data: bytes, damage: str) -> bytes:
    """A damaged copy of a checkpoint: cut in half, seeded random bytes (``random-K``), or random
    bytes behind a pickle header (the legacy, non-zip format, so the unpickler reads them)."""
    if damage == "truncated":
        return data[: len(data) // 2]
    kind, seed = damage.rsplit("-", 1)
    noise = random.Random(int(seed)).randbytes(400)
    return b"\x80\x02" + noise if kind == "pickled" else noise


@pytest.mark.parametrize("damage", ["truncated", *(f"random-{k}" for k in range(4)),
                                    *(f"pickled-{k}" for k in range(8))])
def test_damaged_pth(models, damage):
    data = (models / "resnet.pth").read_bytes()
    (models / "bad.pth").write_bytes(damaged(data, damage))
    code, text = load(models, "bad.pth")
    assert code == 1 and "bad.pth is damaged" in text
    assert "allow_pickle" not in text, "a damaged file is no reason to opt in to pickle"


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_payload_is_refused_with_how_to_opt_in(models, monkeypatch):
    monkeypatch.chdir(models)
    torch.save({"weights": Payload()}, models / "evil.pth")
    code, text = load(models, "evil.pth")
    assert code == 1 and not (models / "PWNED").exists()
    assert "node m (LoadPix2Pix): path:" in text and "unpickle" in text
    assert "importing posix.system" in text
    assert "allow_pickle: true" in text and "--set NODE.allow_pickle=true" in text
    assert "only for a file from a source you trust" in text


def test_wrong_architecture_says_what_the_file_looks_like(models):
    code, text = load(models, "resnet.pth", architecture="unet_256")
    assert code == 1 and "does not fit the network" in text
    assert "the file looks like a pix2pix/CycleGAN ResNet generator (resnet_6blocks)" in text
    assert "KeyError" not in text and len(text) < 1500


def test_a_singan_scale_given_to_pix2pix(models):
    torch.save(Generator([8] * 5).state_dict(), models / "netG.pth")
    code, text = load(models, "netG.pth")
    assert code == 1 and "looks like a SinGAN generator of one scale (netG.pth)" in text


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: GeneratorSpec("unet_64", 3, 3, 4, "batch").build().state_dict(), "U-Net generator (unet_64)"),
    (lambda: GeneratorSpec("resnet_9blocks", 3, 3, 4, "batch").build().state_dict(), "resnet_9blocks"),
    (lambda: Generator([8] * 5).state_dict(), "SinGAN generator"),
    (lambda: Discriminator([8] * 5).state_dict(), "SinGAN discriminator"),
    (lambda: {"model.0.weight": torch.zeros(8, 3, 4, 4), "model.2.weight": torch.zeros(1, 8, 4, 4)},
     "PatchGAN discriminator"),
    (lambda: {"fc.weight": torch.zeros(2, 2)}, "no architecture nodeflow knows"),
])
def test_looks_like(make, expected):
    assert expected in looks_like(make())
