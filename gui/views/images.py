"""The canvas photo: files decoded ahead on a worker thread into a small LRU cache; a stand-in if missing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.model.document import ImageRecord


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


def placeholder(record: ImageRecord) -> QtGui.QImage:
    """A grey image of the record's size, shown when its file is missing."""
    image = QtGui.QImage(max(record.width, 1), max(record.height, 1), QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor(64, 64, 64))
    return image


class ImageCache:
    """Recently shown and prefetched images, decoded on one worker thread (the decoders release the GIL)."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aegroup-decode")
        self._items: OrderedDict[Path, Future[QtGui.QImage | None]] = OrderedDict()

    def get(self, folder: Path, record: ImageRecord) -> tuple[QtGui.QImage, bool]:
        """Pixels of an image and whether the file was missing or unreadable (then a placeholder).

        A prefetched image is taken as decoded (or waited for if its decode already runs); any other
        is decoded here, not queued behind prefetches.
        """
        path = folder / record.file_name
        future = self._items.get(path)
        if future is not None and future.cancel():  # queued, not started: decode it now instead
            future = None
        image = future.result() if future is not None else decode(path)
        if image is None:
            self._items.pop(path, None)  # not remembered: the file may appear later
            return placeholder(record), True
        if future is None:
            future = Future()
            future.set_result(image)
        self._remember(path, future)
        return image, False

    def prefetch(self, folder: Path, records: Iterable[ImageRecord]) -> None:
        """Start decoding these images on the worker thread, unless cached or under way (then kept longer)."""
        for record in records:
            path = folder / record.file_name
            future = self._items.get(path)
            self._remember(path, future if future is not None else self._worker.submit(decode, path))

    def wait(self) -> None:
        """Block until every started prefetch has finished (for benchmarks and tests)."""
        for future in list(self._items.values()):
            if not future.cancelled():
                future.result()

    def _remember(self, path: Path, future: Future[QtGui.QImage | None]) -> None:
        self._items[path] = future
        self._items.move_to_end(path)
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
