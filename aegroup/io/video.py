"""Video frames by index (PyAV, extra `formats`): frame-accurate random access and fast sequential reads.

The frame table (each frame's presentation timestamp) is read once by demuxing the packets, which needs
no decoding; frame i is the i-th frame in presentation order. A reader opens its file lazily in the
process that reads, so it can be handed to DataLoader worker processes (it pickles as its path, and a
forked copy reopens the file rather than share a decoder).

FFmpeg decodes with threads, which a forked child does not inherit: freeing a decoder there waits for them
forever. So the child never frees the decoders it inherits, and a process that forks first collects its
garbage, so that no dropped decoder is left for a child's garbage collector to free.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.errors import AegroupError
from aegroup.optional import require

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
"""File suffixes treated as videos by the CLI."""


_INHERITED: list[Any] = []
"""Decoders a forked process inherited from its parent; never used, never freed (see `VideoReader.read`)."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=gc.collect)


def is_video(path: str | Path) -> bool:
    """Whether a path names a video file by its suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoReader:
    """Frames of one video as (H, W, 3) uint8 RGB arrays; `frames`, `width`, `height`, `fps` known on open.

    Reading frames in increasing order decodes each frame once; a jump seeks to the nearest keyframe.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AegroupError(f"{self.path}: video file not found")
        av = require("av", "reading videos")
        container, stream = self._open()
        try:
            # The stream's fields are read before the container closes: after, they point at freed memory.
            self.width, self.height = int(stream.codec_context.width), int(stream.codec_context.height)
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else 0.0
            packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
        except av.FFmpegError as err:
            raise AegroupError(f"{self.path}: cannot decode video ({err})") from None
        finally:
            container.close()
        if not packets:
            raise AegroupError(f"{self.path}: video has no frames")
        packets.sort()
        self._pts = np.asarray([pts for pts, _ in packets], dtype=np.int64)
        # Frame i starts a group of pictures: reaching frame j > i costs fewer decodes by seeking to i.
        self._keyframe = np.asarray([key for _, key in packets], dtype=bool)
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self._next = -1
        self._pid = os.getpid()

    @property
    def frames(self) -> int:
        """Number of frames."""
        return int(self._pts.size)

    def _open(self) -> tuple[Any, Any]:
        av = require("av", "reading videos")
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError, ValueError) as err:
            raise AegroupError(f"{self.path}: cannot open video ({err})") from None
        if not container.streams.video:
            container.close()
            raise AegroupError(f"{self.path}: file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container, stream

    def read(self, index: int) -> np.ndarray:
        """Frame `index` (0-based) as (H, W, 3) uint8 RGB; past the end is a one-line `AegroupError`."""
        if not 0 <= index < self.frames:
            raise AegroupError(f"{self.path}: frame {index} is outside 0..{self.frames - 1}")
        av = require("av", "reading videos")
        target = int(self._pts[index])
        if self._pid != os.getpid():
            # A forked copy (a DataLoader worker) inherited the parent's decoder, whose file offset the two
            # processes share and whose threads did not come along: freeing it would wait for those threads
            # forever, so it is kept, untouched, and the file opened afresh.
            _INHERITED.append((self._container, self._frames))
            self._container, self._frames, self._next, self._pid = None, None, -1, os.getpid()
        try:
            if self._container is None:
                self._container = self._open()[0]
            if (
                self._frames is None
                or not self._next <= index
                or self._keyframe[self._next + 1 : index + 1].any()
            ):
                # Seek to the keyframe at or before the target, then decode forward to it (a short step
                # forward within the current group of pictures decodes on instead).
                stream = self._container.streams.video[0]
                self._container.seek(target, stream=stream, backward=True, any_frame=False)
                self._frames = self._container.decode(stream)
            for frame in self._frames:
                if frame.pts is None or frame.pts < target:
                    continue
                self._next = index + 1
                return frame.to_ndarray(format="rgb24")
        except av.FFmpegError as err:
            self.close()
            raise AegroupError(f"{self.path}: cannot decode frame {index} ({err})") from None
        self.close()
        raise AegroupError(f"{self.path}: frame {index} could not be decoded (file truncated?)")

    def close(self) -> None:
        """Release the decoder (the next `read` reopens the file)."""
        if self._container is not None:
            self._container.close()
        self._container, self._frames, self._next = None, None, -1

    def __getstate__(self) -> dict[str, Any]:
        # An open decoder cannot cross a process boundary; the copy reopens the file when it first reads.
        state = self.__dict__.copy()
        state.update(_container=None, _frames=None, _next=-1)
        return state

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmbeddedFrames:
    """Frames stored as encoded images in an HDF5 dataset (a SLEAP .pkg.slp), read by video frame index;
    `width` and `height` known on open."""

    def __init__(self, path: str | Path, dataset: str) -> None:
        self.path, self.dataset = Path(path), dataset
        h5py = require("h5py", "reading frames embedded in .pkg.slp files")
        try:
            with h5py.File(self.path, "r") as f:
                images = f[dataset]
                numbers = images.parent["frame_numbers"][:] if "frame_numbers" in images.parent else None
                rows = len(images)
                size = int(images.attrs.get("width", 0)), int(images.attrs.get("height", 0))
        except (OSError, KeyError) as err:
            raise AegroupError(f"{self.path}: cannot read embedded frames '{dataset}' ({err})") from None
        self._row = {int(n): i for i, n in enumerate(range(rows) if numbers is None else numbers)}
        if not all(size) and self._row:
            first = self.read(next(iter(self._row)))
            size = first.shape[1], first.shape[0]
        self.width, self.height = size

    def read(self, index: int) -> np.ndarray:
        """Frame `index` of the source video as (H, W, 3) uint8 RGB; a frame not embedded is an error."""
        import io

        from PIL import Image, UnidentifiedImageError

        h5py = require("h5py", "reading frames embedded in .pkg.slp files")
        if index not in self._row:
            raise AegroupError(
                f"{self.path}: frame {index} is not among the embedded frames of '{self.dataset}'"
            )
        with h5py.File(self.path, "r") as f:
            data = np.asarray(f[self.dataset][self._row[index]]).tobytes()
        try:
            return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise AegroupError(f"{self.path}: cannot decode embedded frame {index} ({err})") from None

    @property
    def frames(self) -> int:
        """One past the highest embedded frame number (the source video's frames that can be read)."""
        return max(self._row, default=-1) + 1

    def close(self) -> None:
        """Nothing stays open between reads."""


def open_frames(path: str | Path, dataset: str | None = None) -> VideoReader | EmbeddedFrames:
    """A frame reader: of a video file, or of the frames embedded in an HDF5 `dataset` (a .pkg.slp)."""
    return VideoReader(path) if dataset is None else EmbeddedFrames(path, dataset)


def parse_frame_range(text: str, frames: int, source: str = "--frames") -> range:
    """Frame indices of 'START:STOP[:STEP]' (slice rules, parts may be empty), checked against `frames`."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 3:
        raise AegroupError(f"{source}: expected START:STOP[:STEP], got '{text}'")
    try:
        values = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise AegroupError(f"{source}: expected integers in START:STOP[:STEP], got '{text}'") from None
    if len(values) == 1:
        values = [values[0], None if values[0] is None else values[0] + 1]
    start, stop, step = [*values, None][:3]
    if step is not None and step <= 0:
        raise AegroupError(f"{source}: STEP must be positive, got '{text}'")
    if (start is not None and start < 0) or (stop is not None and stop < 0):
        raise AegroupError(f"{source}: frame numbers must not be negative, got '{text}'")
    if start is not None and start >= frames:
        raise AegroupError(f"{source}: start frame {start} is past the end (the video has {frames} frames)")
    if stop is not None and stop > frames:
        raise AegroupError(f"{source}: stop frame {stop} is past the end (the video has {frames} frames)")
    chosen = range(frames)[slice(start, stop, step)]
    if not chosen:
        raise AegroupError(f"{source}: '{text}' selects no frames")
    return chosen
