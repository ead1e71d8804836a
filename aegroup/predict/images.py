"""Images for prediction: listing and reading image files and video frames, batching them into network
inputs (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aegroup.data.transforms import preprocess
from aegroup.errors import AegroupError
from aegroup.io.coco import read_rgb
from aegroup.io.video import VideoReader

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class Prepared:
    """An image read from disk or a video, or the one-line reason it could not be read."""

    pixels: np.ndarray | None = None
    error: str | None = None


def read_image(path: Path) -> Prepared:
    """Read one image file as RGB, catching the one-line error of a missing or corrupt file."""
    try:
        return Prepared(pixels=read_rgb(path))
    except AegroupError as err:
        return Prepared(error=str(err))


def read_video_frame(reader: VideoReader, index: int) -> Prepared:
    """Decode frame `index` of a video as RGB, catching the one-line error of an undecodable frame."""
    try:
        return Prepared(pixels=reader.read(index))
    except AegroupError as err:
        return Prepared(error=str(err))


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    if not folder.is_dir():
        raise AegroupError(f"{folder}: image folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AegroupError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def input_batch(images: Sequence[np.ndarray], size: int) -> np.ndarray:
    """(B, 3, size, size) float32 network inputs: each (H, W, 3) RGB image resized (aspect kept), padded,
    normalised by `aegroup.data.transforms.preprocess`."""
    return np.stack([preprocess(image, size)[0] for image in images])
