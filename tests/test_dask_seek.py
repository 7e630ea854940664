"""Frame sources seek to a batch's first frame: a Dask worker given frames 40.. decodes 40.., not 0..39.

Seeking must give exactly the frames a sequential decode gives (H.264 with B-frames, a
non-integer frame rate), or local and Dask renders would differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nodeflow.context import RunContext
from nodeflow.graph import Graph
from nodeflow.nodes.io.load_video import LoadVideo
from nodeflow.nodes.io.video_reader import SEEK_AHEAD, VideoReader, count_frames

FRAMES = 90


@pytest.fixture(scope="module", params=[25.0, 29.97])
def clip(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seek")
    g = Graph(base_dir=folder)
    still = g.add("SampleImage", name="astronaut", max_size=128)
    pan = g.add("CameraMove", image=still.image, frames=FRAMES, width=48, height=32, start_zoom=1.0, end_zoom=3.0)
    g.add("SaveVideo", image=pan.image, path="c.mp4", fps=request.param)
    g.run(device="cpu", output_dir=folder)
    return folder / "c.mp4"


@pytest.fixture(scope="module")
def sequential(clip) -> list[np.ndarray]:
    reader = VideoReader(clip)
    try:
        return [reader.read(i) for i in range(count_frames(clip))]
    finally:
        reader.close()


def test_seeking_gives_the_sequential_frames_and_skips_the_decode(clip, sequential):
    assert len(sequential) == FRAMES
    assert not np.array_equal(sequential[40], sequential[41])  # the clip moves: a wrong frame shows
    reader = VideoReader(clip)
    try:
        wanted = [FRAMES - 1, 3, 70, 1, 2, 3 + SEEK_AHEAD + 1, 0]  # after 2 the next frame is 3
        decoded = []
        for i in wanted:
            before = reader.frames_decoded
            assert np.array_equal(reader.read(i), sequential[i]), f"frame {i}"
            decoded.append(reader.frames_decoded - before)
        # far ahead or backwards: reopened at the frame (1 decoded); close ahead: decoded through
        assert decoded == [1, 1, 1, 1, 1, 1, 1]
        before = reader.frames_decoded
        assert np.array_equal(reader.read(10), sequential[10])
        assert reader.frames_decoded - before == 10  # 1..10 decoded in order, no reopen
    finally:
        reader.close()


def test_load_video_batch_in_a_fresh_instance_starts_at_its_first_frame(clip, sequential):
    node = LoadVideo(LoadVideo.Params(path=str(clip)))
    ctx = RunContext("src", "LoadVideo", torch.device("cpu"), seed=0, frames=(60, 61, 62, 63), frame_count=FRAMES)
    try:
        image = node.run(ctx)["image"]
        assert node._reader is not None and node._reader.frames_decoded == 4
    finally:
        node.abort()
    expected = torch.from_numpy(np.stack(sequential[60:64])).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(image, expected)
