"""Video frames for training: one reader per video in each process, optionally a cache of decoded frames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from aegroup.io.video import EmbeddedFrames, VideoReader


class VideoFrames:
    """Frames of some videos by (video, frame index), decoded on demand or taken from a preloaded cache.

    Each reader opens its file in the process that reads, so every DataLoader worker decodes with a reader of
    its own. `preload` decodes chosen frames once, in file order, and keeps them in memory; workers forked
    afterwards share those pages. A grey frame (equal channels) is kept as one channel, a third of the memory.
    """

    def __init__(self, readers: Mapping[int, VideoReader | EmbeddedFrames]) -> None:
        self.readers = dict(readers)
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def length(self, video: int) -> int:
        """Number of frames of a video."""
        return self.readers[video].frames

    def size(self, video: int) -> tuple[int, int]:
        """(width, height) of a video's frames."""
        reader = self.readers[video]
        return reader.width, reader.height

    def path(self, video: int) -> Path:
        """The file of a video."""
        return self.readers[video].path

    def read(self, video: int, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels of frame `index` of `video`."""
        cached = self._cache.get((video, index))
        if cached is None:
            return self.readers[video].read(index)
        return cached if cached.ndim == 3 else np.repeat(cached[:, :, None], 3, axis=2)

    def preload(self, wanted: Iterable[tuple[int, int]]) -> None:
        """Decode the (video, frame index) pairs into memory, in file order (reads mostly sequential)."""
        for video, index in sorted(set(wanted)):
            pixels = self.readers[video].read(index)
            grey = np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(
                pixels[..., 1], pixels[..., 2]
            )
            self._cache[video, index] = np.ascontiguousarray(pixels[..., 0]) if grey else pixels
        for reader in self.readers.values():
            reader.close()  # the decoders' buffers are not needed any more

    @property
    def cached_frames(self) -> int:
        """Number of preloaded frames."""
        return len(self._cache)

    @property
    def cached_bytes(self) -> int:
        """Memory held by preloaded frames."""
        return sum(a.nbytes for a in self._cache.values())
