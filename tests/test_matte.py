"""Cut-out methods on synthetic subjects (IoU against the truth) and matte refinement."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from nodeflow.context import RunContext
from nodeflow.errors import NodeError, NodeExecutionError
from nodeflow.graph import Graph
from nodeflow.image_files import write_image
from nodeflow.nodes import color, composite, io, matte
from nodeflow.nodes.matte import CutOut, RefineMatte
from nodeflow.registry import Registry


def ctx(tmp_path=None) -> RunContext:
    kw = {"base_dir": tmp_path} if tmp_path is not None else {}
    return RunContext(node_id="t", node_type="T", device=torch.device("cpu"), seed=0, **kw)


def cutout(image, mask=None, tmp_path=None, **params) -> dict:
    return CutOut(CutOut.Params(**params)).run(ctx(tmp_path), image=image, mask=mask)


def refine(mask, **params) -> torch.Tensor:
    return RefineMatte(RefineMatte.Params(**params)).run(ctx(), mask=mask)["mask"]


def iou(pred: torch.Tensor, truth: torch.Tensor) -> float:
    p = pred.reshape(truth.shape) > 0.5
    return ((p & truth).sum() / (p | truth).sum()).item()


def person(h: int = 96, w: int = 96) -> np.ndarray:
    """Truth mask of a head-and-body silhouette, inside the frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    head = ((yy - 0.3 * h) / (0.16 * h)) ** 2 + ((xx - 0.5 * w) / (0.13 * w)) ** 2 <= 1
    body = (yy > 0.42 * h) & (yy < 0.9 * h) & (np.abs(xx - 0.5 * w) < 0.22 * w)
    return head | body


def dress(mask: np.ndarray, background: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Paint hair, skin, a white shirt and blue trousers on the silhouette, add sensor noise."""
    h, w = mask.shape
    yy = np.mgrid[0:h, 0:w][0]
    fg = np.empty((h, w, 3))
    fg[:] = (0.85, 0.6, 0.5)
    fg[yy < 0.22 * h] = (0.08, 0.06, 0.05)
    fg[yy > 0.42 * h] = (0.9, 0.9, 0.92)
    fg[yy > 0.7 * h] = (0.15, 0.2, 0.6)
    img = np.where(mask[..., None], fg, background) + np.random.default_rng(seed).normal(0, 0.02, (h, w, 3))
    return (torch.from_numpy(np.clip(img, 0, 1).transpose(2, 0, 1)).float()[None], torch.from_numpy(mask))


def green_screen(h: int = 96, w: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """Unevenly lit, not pure green screen (as real ones are)."""
    light = 0.75 + 0.35 * np.mgrid[0:h, 0:w][1] / w
    bg = np.stack([0.1 * light, 0.75 * light, 0.2 * light], -1)
    return dress(person(h, w), bg, seed=0)


def room(h: int = 96, w: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """A warm-grey wall with a gradient and a darker floor: an ordinary background."""
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack([0.55 + 0.15 * xx / w, 0.5 + 0.1 * xx / w, 0.4 + 0.05 * yy / h], -1)
    bg[yy > 0.8 * h] *= 0.6
    return dress(person(h, w), bg, seed=1)


# -- methods --------------------------------------------------------------------------------------

def test_chroma_key_iou_on_green_screen():
    image, truth = green_screen()
    out = cutout(image, method="chroma")
    assert out["image"].shape == (1, 4, 96, 96)
    assert iou(out["mask"], truth) >= 0.98
    assert torch.equal(out["image"][:, 3:], out["mask"])


def test_chroma_spill_suppression_neutralises_green_cast_keeping_luma():
    cast = torch.tensor([0.55, 0.75, 0.55]).view(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()
    out = cutout(cast, method="chroma", spill=1.0)["image"][0, :3, 0, 0]
    assert out[1] < 0.70 and abs(out[0] - out[2]) < 0.05  # green pulled down, stays balanced
    luma = lambda c: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]  # noqa: E731
    assert luma(out).item() == pytest.approx(luma(cast[0, :, 0, 0]).item(), abs=0.01)
    kept = cutout(cast, method="chroma", spill=0.0)["image"][0, :3, 0, 0]
    assert torch.allclose(kept, cast[0, :, 0, 0])


def test_grabcut_iou_border_seeded_and_rect_seeded():
    image, truth = room()
    assert iou(cutout(image, method="grabcut")["mask"], truth) >= 0.9
    rect_out = cutout(image, method="grabcut", rect=(0.2, 0.1, 0.6, 0.85))
    assert iou(rect_out["mask"], truth) >= 0.9


def test_alpha_and_mask_methods(tmp_path):
    rgba = torch.rand(2, 4, 8, 8)
    assert torch.equal(cutout(rgba, method="alpha")["mask"], rgba[:, 3:])
    with pytest.raises(NodeError, match="no alpha"):
        cutout(rgba[:, :3], method="alpha")
    m = (torch.rand(1, 1, 4, 4) > 0.5).float()
    out = cutout(rgba[:, :3], m, method="mask")  # a still mask over a batch, resized
    assert out["mask"].shape == (2, 1, 8, 8)
    write_image(torch.cat([torch.ones(1, 3, 8, 8), (rgba[:1, 3:] > 0.5).float()], 1), tmp_path / "m.png")
    from_file = cutout(rgba[:, :3], method="mask", mask_path="m.png", tmp_path=tmp_path)["mask"]
    assert torch.allclose(from_file[0], (rgba[0, 3:] > 0.5).float())
    with pytest.raises(NodeError, match="needs a mask"):
        cutout(rgba[:, :3], method="mask")


def test_garbage_matte_limits_other_methods():
    image, _ = green_screen(32, 32)
    garbage = torch.zeros(1, 1, 32, 32)
    garbage[..., :16] = 1
    out = cutout(image, garbage, method="chroma")["mask"]
    assert out[..., 16:].max() == 0 and out[..., :16].max() == 1


# -- model (ONNX) ---------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, value: int | bytes | str) -> bytes:
    """One protobuf field: ints as varints, bytes/str/messages length-delimited."""
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _tensor_type(dims: list[int | str]) -> bytes:
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in dims)
    return _field(1, _field(1, 1) + _field(2, shape))  # TypeProto.tensor_type{elem FLOAT, shape}


def _initializer(name: str, values: list[float], dims: list[int]) -> bytes:
    return b"".join(_field(1, d) for d in dims) + _field(2, 1) + _field(8, name) + \
        _field(9, struct.pack(f"<{len(values)}f", *values))


def tiny_u2net_like_onnx(batch: int | str = 1) -> bytes:
    """An ONNX model shaped like rembg's U²-Net: input 'input.1' (batch, 3, 320, 320), outputs
    d0 and d1 (1 channel each). d0 = 5 * (normalised red) + 3, which after the node's min-max
    normalisation is the red channel again; d1 = -d0 must be ignored (only d0 counts)."""
    conv = _field(1, "input.1") + _field(1, "W") + _field(1, "B") + _field(2, "d0") + _field(4, "Conv")
    neg = _field(1, "d0") + _field(2, "d1") + _field(4, "Neg")
    graph = (_field(1, conv) + _field(1, neg) + _field(2, "tiny") +
             _field(5, _initializer("W", [5.0, 0.0, 0.0], [1, 3, 1, 1])) +
             _field(5, _initializer("B", [3.0], [1])) +
             _field(11, _field(1, "input.1") + _field(2, _tensor_type([batch, 3, 320, 320]))) +
             _field(12, _field(1, "d0") + _field(2, _tensor_type([batch, 1, 320, 320]))) +
             _field(12, _field(1, "d1") + _field(2, _tensor_type([batch, 1, 320, 320]))))
    return _field(1, 7) + _field(2, "nodeflow-test") + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))


@pytest.mark.parametrize("batch", [1, "N"])
def test_model_method_pre_and_post_processing(tmp_path, batch):
    pytest.importorskip("onnxruntime")
    (tmp_path / "tiny.onnx").write_bytes(tiny_u2net_like_onnx(batch))
    truth = torch.from_numpy(person(90, 120))
    image = torch.full((2, 3, 90, 120), 0.3)
    image[:, 0] = torch.where(truth, 0.9, 0.1)  # the "subject" is what is red
    out = cutout(image, method="model", model_path="tiny.onnx", tmp_path=tmp_path)
    assert out["mask"].shape == (2, 1, 90, 120)
    assert out["mask"].min().item() == pytest.approx(0.0, abs=1e-4)  # min-max normalised
    assert out["mask"].max().item() == pytest.approx(1.0, abs=1e-4)
    assert iou(out["mask"][0], truth) >= 0.95 and iou(out["mask"][1], truth) >= 0.95


def test_model_method_missing_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "models"))
    with pytest.raises(NodeError) as err:
        cutout(torch.rand(1, 3, 8, 8), method="model", model_name="u2net")
    assert str(tmp_path / "models" / "u2net.onnx") in err.value.message
    assert "u2net.onnx" in err.value.hint and "U2NET_HOME" in err.value.hint
    # through a graph, the engine names the node and the field
    r = Registry()
    for family in (io, matte, composite, color):
        for c in family.NODES:
            r.register(c)
    g = Graph(registry=r, base_dir=tmp_path)
    src = g.add("SampleImage", name="astronaut", max_size=16)
    cut = g.add("CutOut", image=src.image, method="model")
    g.output("m", cut.mask)
    with pytest.raises(NodeExecutionError, match=r"cut_out \(CutOut\): model_name: segmentation model file not found"):
        g.run(device="cpu")


# -- refinement -----------------------------------------------------------------------------------

def square(size: int = 40, lo: int = 15, hi: int = 25) -> torch.Tensor:
    m = torch.zeros(1, 1, size, size)
    m[..., lo:hi, lo:hi] = 1
    return m


def test_threshold():
    m = torch.tensor([0.2, 0.5, 0.51, 0.9]).view(1, 1, 1, 4)
    assert refine(m, threshold=0.5).flatten().tolist() == [0, 0, 1, 1]


def test_fill_holes_fills_enclosed_but_not_open_gaps():
    ring = square(40, 10, 30)
    ring[..., 15:25, 15:25] = 0  # enclosed hole
    ring[..., 0:12, 18:22] = 0  # a notch open to the frame border is not a hole
    out = refine(ring, fill_holes=True)
    assert out[..., 15:25, 15:25].min() == 1
    assert out[..., 10:12, 18:22].max() == 0


def test_keep_largest_region():
    m = square(40, 5, 15)
    m[..., 30:34, 30:34] = 1
    out = refine(m, keep_largest=True)
    assert torch.equal(out, square(40, 5, 15))


def test_grow_and_shrink_by_pixels():
    sq = square()  # 10x10
    grown = refine(sq, grow=3)
    assert grown[0, 0, 20].sum().item() == 16 and grown[0, 0, :, 20].sum().item() == 16
    shrunk = refine(sq, grow=-2)
    assert shrunk[0, 0, 20].sum().item() == 6 and shrunk.sum().item() == 36
    assert torch.equal(refine(grown, grow=-3), sq)  # closing a convex shape returns it


def test_feather_softens_the_edge_symmetrically():
    half = torch.zeros(1, 1, 8, 40)
    half[..., 20:] = 1
    out = refine(half, feather=6)[0, 0, 4]
    assert out[0] == 0 and out[-1] == 1
    assert (out[1:] >= out[:-1]).all()  # monotone ramp
    assert out[19].item() == pytest.approx(1 - out[20].item(), abs=1e-5)
    assert 0.05 < out[17] < 0.5 < out[22] < 0.95
