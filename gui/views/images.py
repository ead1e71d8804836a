"""Image pixels for the canvas: a small LRU cache; a grey placeholder when a file is missing."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aegroup_gui.document import ImageRecord


class ImageCache:
    """Recently shown images as (H, W, 3) uint8 RGB arrays."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Path, np.ndarray] = OrderedDict()

    def get(self, folder: Path, record: ImageRecord) -> tuple[np.ndarray, bool]:
        """Pixels of an image and whether the file was missing or unreadable (then a placeholder)."""
        path = folder / record.file_name
        if path in self._items:
            self._items.move_to_end(path)
            return self._items[path], False
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError):
            return np.full((record.height, record.width, 3), 64, np.uint8), True
        self._items[path] = pixels
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return pixels, False
