"""The canvas photo: image files and video frames decoded ahead on a worker thread into a small LRU cache;
a grey stand-in when a file is missing.

A picture is named by a key: the image file's path, or (video path, frame index) with the video's
`VideoRef`. Video frames are read through one reader per video and thread (the GUI thread and the
worker each keep their own decoder position): reading frames in increasing order decodes each once,
so the next frame, decoded ahead after the current one, costs one frame; a jump decodes from the
keyframe before it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.errors import AegroupError
from aegroup.io.poses import VideoRef


def decode(path: Path) -> QtGui.QImage | None:
    """An image file as an RGB32 QImage (the format the canvas paints fastest); None if unreadable.

    Qt's own readers first (PNG straight to RGB32, about half the time of Pillow plus a conversion);
    Pillow for the formats Qt lacks.
    """
    image = QtGui.QImageReader(str(path)).read()
    if image.isNull():
        try:
            with Image.open(path) as opened:
                rgb = opened.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError):
            return None
        data = rgb.tobytes("raw", "BGRX")  # RGB32 is 0xffRRGGBB: B, G, R, X bytes in little-endian memory
        image = QtGui.QImage(data, rgb.width, rgb.height, 4 * rgb.width, QtGui.QImage.Format.Format_RGB32)
        return image.copy()  # owns its pixels (the bytes object goes away)
    return image.convertToFormat(QtGui.QImage.Format.Format_RGB32)


def rgb_to_qimage(pixels: np.ndarray) -> QtGui.QImage:
    """(H, W, 3) uint8 RGB pixels as an RGB32 QImage that owns its memory."""
    h, w = pixels.shape[:2]
    data = np.ascontiguousarray(pixels)
    image = QtGui.QImage(data.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888)
    return image.convertToFormat(QtGui.QImage.Format.Format_RGB32)  # a copy: `data` may go away


@dataclass(frozen=True)
class FrameKey:
    """A video frame: the video (as the document refers to it) and the frame index."""

    video: VideoRef
    index: int


Key = Path | FrameKey
"""What a picture is: an image file, or a video frame."""


def placeholder(size: tuple[int, int]) -> QtGui.QImage:
    """A grey image of a (width, height), shown when a file or frame is missing."""
    image = QtGui.QImage(max(size[0], 1), max(size[1], 1), QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor(64, 64, 64))
    return image


class FrameReaders:
    """Open video readers, one per video and thread (a decoder keeps its position between reads)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def read(self, key: FrameKey) -> QtGui.QImage | None:
        """The frame as an RGB32 QImage, or None when the video is missing or the frame undecodable."""
        readers: dict[VideoRef, Any] = self._local.__dict__.setdefault("readers", {})
        try:
            reader = readers.get(key.video)
            if reader is None:
                from aegroup.io.video import EmbeddedFrames, VideoReader

                ref = key.video
                reader = EmbeddedFrames(ref.path, ref.dataset) if ref.dataset else VideoReader(ref.path)
                readers[key.video] = reader
            return rgb_to_qimage(reader.read(key.index))
        except AegroupError:
            return None

    def close_thread(self) -> None:
        """Close the calling thread's readers (their decoders and decoding threads)."""
        for reader in self._local.__dict__.pop("readers", {}).values():
            reader.close()


class ImageCache:
    """Recently shown and prefetched pictures, decoded on one worker thread (the decoders release the GIL).

    `get` decodes what is not cached on the calling thread rather than queueing it behind prefetches.
    """

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aegroup-decode")
        self._items: OrderedDict[Key, Future[QtGui.QImage | None]] = OrderedDict()
        self.frames = FrameReaders()
        self.closed = False

    def load(self, key: Key) -> QtGui.QImage | None:
        """Decode one picture on the calling thread (None when missing or unreadable)."""
        return self.frames.read(key) if isinstance(key, FrameKey) else decode(key)

    def get(self, key: Key, size: tuple[int, int]) -> tuple[QtGui.QImage, bool]:
        """Pixels of a picture and whether it was missing or unreadable (then a placeholder of `size`).

        A prefetched picture is taken as decoded (or waited for if its decode already runs); any other
        is decoded here, not queued behind prefetches.
        """
        future = self._items.get(key)
        if future is not None and future.cancel():  # queued, not started: decode it now instead
            future = None
        image = future.result() if future is not None else self.load(key)
        if image is None:
            self._items.pop(key, None)  # not remembered: the file may appear later
            return placeholder(size), True
        if future is None:
            future = Future()
            future.set_result(image)
        self._remember(key, future)
        return image, False

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Start decoding these pictures on the worker thread, unless cached or under way (then kept
        longer)."""
        if self.closed:
            return
        for key in keys:
            future = self._items.get(key)
            self._remember(key, future if future is not None else self._worker.submit(self.load, key))

    def prefetch_run(self, keys: list[FrameKey]) -> None:
        """Decode consecutive frames of one video ahead in one pass (one seek, then each frame once):
        stepping backwards through a video, where every single frame would decode from its keyframe."""
        if self.closed:
            return
        todo = [(key, Future[QtGui.QImage | None]()) for key in keys if key not in self._items]
        for key, future in todo:
            self._remember(key, future)
        if todo:
            self._worker.submit(self._decode_run, todo)

    def _decode_run(self, todo: list[tuple[FrameKey, Future[QtGui.QImage | None]]]) -> None:
        for key, future in todo:
            if future.set_running_or_notify_cancel():  # cancelled when the GUI took it over
                future.set_result(self.frames.read(key))

    def close(self) -> None:
        """Drop what is queued, close the video decoders of both threads and stop the worker thread
        (prefetching is off from then on)."""
        if self.closed:
            return
        self.closed = True
        for future in self._items.values():
            future.cancel()
        self._items.clear()
        self._worker.submit(self.frames.close_thread)
        self._worker.shutdown(wait=True)
        self.frames.close_thread()

    def wait(self) -> None:
        """Block until every started prefetch has finished (for benchmarks and tests)."""
        for future in list(self._items.values()):
            if not future.cancelled():
                future.result()

    def _remember(self, key: Key, future: Future[QtGui.QImage | None]) -> None:
        self._items[key] = future
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            _, oldest = self._items.popitem(last=False)
            oldest.cancel()


class PhotoItem(QtWidgets.QGraphicsObject):
    """The image, one unit per pixel from (0, 0); drawn straight from an RGB32 QImage."""

    def __init__(self) -> None:
        super().__init__()
        self.image = QtGui.QImage()

    def set_image(self, image: QtGui.QImage) -> None:
        """Show another image."""
        if image.size() != self.image.size():
            self.prepareGeometryChange()
        self.image = image
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        """The image's pixel rectangle."""
        return QtCore.QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """The whole image (the painter clips it to the exposed part), scaled without smoothing."""
        painter.drawImage(self.boundingRect(), self.image)
