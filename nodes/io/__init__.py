"""Frames in and out: image files, sequences, video, stills turned into clips, and exporters."""

from __future__ import annotations

from nodeflow.node import Node

from .camera_move import CameraMove
from .contact_sheet import ContactSheet
from .hold import HoldFrames
from .load_image import LoadImage
from .load_sequence import LoadImageSequence
from .load_video import LoadVideo
from .load_video_frame import LoadVideoFrame
from .sample import SampleImage
from .save_gif import SaveGIF
from .save_image import SaveImage
from .save_sequence import SaveImageSequence
from .save_video import SaveVideo

NODES: tuple[type[Node], ...] = (
    LoadImage, LoadImageSequence, LoadVideo, LoadVideoFrame, HoldFrames, CameraMove, SampleImage,
    SaveImage, SaveImageSequence, SaveVideo, SaveGIF, ContactSheet,
)

__all__ = [
    "NODES", "CameraMove", "ContactSheet", "HoldFrames", "LoadImage", "LoadImageSequence", "LoadVideo", "LoadVideoFrame",
    "SampleImage", "SaveGIF", "SaveImage", "SaveImageSequence", "SaveVideo",
]
