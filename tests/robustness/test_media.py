"""Bad media: decompression bombs, frames too large to allocate, multi-page TIFFs, broken files."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

import nodeflow.image_files
from nodeflow.errors import NodeError
from nodeflow.image_files import check_frame_size, read_image
from robustness.probe import assert_clean, cli


def png_header_only(path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width`` × ``height`` (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def run_graph(tmp_path, nodes, *extra):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"format": "nodeflow/1", "nodes": nodes}))
    outcome = cli(["run", str(path), "--output-dir", str(tmp_path / "out"), "--device", "cpu", *extra])
    assert_clean(outcome)
    return outcome.code, " ".join(outcome.output.split())


def load_and_save(name: str) -> dict:
    return {"src": {"type": "LoadImage", "params": {"path": name}},
            "save": {"type": "SaveImage", "params": {"path": "o.png"}, "inputs": {"image": {"node": "src", "output": "image"}}}}


@pytest.mark.parametrize(("w", "h"), [(100_000, 100_000), (12_000, 9_000)])
def test_decompression_bomb_header_is_refused_before_decoding(tmp_path, w, h):
    png_header_only(tmp_path / "bomb.png", w, h)
    assert (tmp_path / "bomb.png").stat().st_size < 200
    code, text = run_graph(tmp_path, load_and_save("bomb.png"))
    assert code == 1
    assert "node src (LoadImage): path:" in text and f"a {w}×{h} frame is" in text
    assert "over the limit of 100 MP" in text and "NODEFLOW_MAX_PIXELS" in text


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    Image.new("RGB", (40, 30)).save(tmp_path / "small.png")
    monkeypatch.setattr(nodeflow.image_files, "MAX_PIXELS", 1000)
    code, text = run_graph(tmp_path, load_and_save("small.png"))
    assert code == 1 and "a 40×30 frame is 0 MP, over the limit" in text
    monkeypatch.setattr(nodeflow.image_files, "MAX_PIXELS", 2000)
    assert run_graph(tmp_path, load_and_save("small.png"))[0] == 0


@pytest.mark.parametrize(("node", "params", "needle"), [
    ("CameraMove", {"frames": 2, "width": 16384, "height": 16384}, "node big (CameraMove): width: a 16384×16384 frame"),
    ("Resize", {"width": 16384, "height": 16000}, "node big (Resize): width: a 16384×16000 frame"),
    ("Pad", {"left": 16384, "right": 16384, "top": 16384}, "node big (Pad): left: a 32800×16416 frame"),
])
def test_huge_frame_sizes_are_refused_before_allocating(tmp_path, node, params, needle):
    nodes = {"still": {"type": "SampleImage", "params": {"name": "camera", "max_size": 32}},
             "big": {"type": node, "params": params, "inputs": {"image": {"node": "still", "output": "image"}}},
             "save": {"type": "SaveGIF", "params": {"path": "o.gif"}, "inputs": {"image": {"node": "big", "output": "image"}}}}
    code, text = run_graph(tmp_path, nodes)
    assert code == 1 and needle in text and "use a smaller size" in text


def test_a_batch_too_large_suggests_a_batch_size():
    with pytest.raises(NodeError) as info:
        check_frame_size(6000, 8000, 16, field="width")  # 48 MP frames: 16 of them are 768 MP
    assert "a batch of 16 frames of 8000×6000" in info.value.message
    assert info.value.hint == "use --batch-size 8 or a smaller size"
    check_frame_size(6000, 8000, 8)  # fits


def test_out_of_memory_is_explained(tmp_path, monkeypatch):
    """What a failed allocation looks like from a node: a clear message, exit 1."""
    import nodeflow.nodes.color.blur as blur

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 68719476736 bytes.")

    monkeypatch.setattr(blur, "premultiply", no_memory)
    nodes = {"still": {"type": "SampleImage", "params": {"name": "camera", "max_size": 32}},
             "soft": {"type": "Blur", "inputs": {"image": {"node": "still", "output": "image"}}},
             "save": {"type": "SaveImage", "params": {"path": "o.png"}, "inputs": {"image": {"node": "soft", "output": "image"}}}}
    code, text = run_graph(tmp_path, nodes)
    assert code == 1 and "node soft (Blur): out of memory" in text and "--batch-size" in text
    assert "alloc_cpu.cpp" not in text


def test_multi_page_tiff_reads_the_first_page(tmp_path, caplog):
    pages = [Image.fromarray(np.full((8, 10, 3), 40 * i, np.uint8)) for i in range(1, 4)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    with caplog.at_level("WARNING"):
        image = read_image(tmp_path / "pages.tif")
    assert image.shape == (1, 3, 8, 10)
    assert torch.allclose(image, torch.full_like(image, 40 / 255))
    assert "has 3 pages; reading the first" in caplog.text
    # 16-bit pages (imageio returns the whole stack)
    import imageio.v3 as iio

    stack = np.stack([np.full((6, 7, 3), 1000 * (i + 1), np.uint16) for i in range(2)])
    iio.imwrite(tmp_path / "deep.tif", stack)
    image = read_image(tmp_path / "deep.tif")
    assert image.shape == (1, 3, 6, 7) and abs(float(image.mean()) - 1000 / 65535) < 1e-6


@pytest.mark.parametrize("damage", ["empty", "truncated", "text"])
def test_damaged_image_files_say_so(tmp_path, damage):
    Image.new("RGB", (64, 64), (9, 99, 199)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    bad = {"empty": b"", "truncated": data[:60], "text": b"not an image at all"}[damage]
    (tmp_path / "bad.png").write_bytes(bad)
    code, text = run_graph(tmp_path, load_and_save("bad.png"))
    assert code == 1 and "node src (LoadImage): path: cannot read" in text and "bad.png" in text
    assert not (tmp_path / "out" / "o.png").exists()


def test_a_folder_given_as_an_image_file(tmp_path):
    (tmp_path / "frames").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "frames" / "f_0001.png")
    code, text = run_graph(tmp_path, load_and_save("frames"))
    assert code == 1 and "frames is a folder, not an image file" in text and "LoadImageSequence" in text
