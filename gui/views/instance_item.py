"""One graphics item per instance: limbs, joint markers (fixed screen size) and its panel number.

Drawn with QPainter directly: pyqtgraph's general ScatterPlotItem/PlotCurveItem pair costs several
times more per update, which decides whether switching images stays under 50 ms (benchmarks/bench_gui.py).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.views.style import pen

MARKER_PADDING_PX = 16.0
"""Screen pixels around the joints that the item may paint into (markers and the number label)."""


def _polygon(points: tuple[tuple[float, float], ...]) -> QtGui.QPainterPath:
    """A closed outline through `points`."""
    path = QtGui.QPainterPath()
    path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(x, y) for x, y in points]))
    path.closeSubpath()
    return path


def _symbol_paths() -> dict[str, QtGui.QPainterPath]:
    """Unit-size marker outlines centred on the origin."""
    circle = QtGui.QPainterPath()
    circle.addEllipse(QtCore.QPointF(0, 0), 0.5, 0.5)
    square = QtGui.QPainterPath()
    square.addRect(QtCore.QRectF(-0.42, -0.42, 0.84, 0.84))
    diamond = _polygon(((0, -0.6), (0.6, 0), (0, 0.6), (-0.6, 0)))
    triangle = _polygon(((0, -0.55), (0.55, 0.4), (-0.55, 0.4)))
    return {"o": circle, "s": square, "d": diamond, "t": triangle}


SYMBOLS = _symbol_paths()

MarkerKey = tuple[str, float, int, int, float, float]
"""A marker's look: symbol, size (px), fill ARGB, outline ARGB, outline width, device pixel ratio."""

_MARKERS: dict[MarkerKey, tuple[QtGui.QPixmap, float]] = {}


def screen_xy(painter: QtGui.QPainter, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map (N, 2) item coordinates through the painter's transform to screen x and y arrays."""
    t = painter.transform()
    sx = t.m11() * xy[:, 0] + t.m21() * xy[:, 1] + t.dx()
    sy = t.m12() * xy[:, 0] + t.m22() * xy[:, 1] + t.dy()
    return sx, sy


def marker_pixmap(key: MarkerKey) -> tuple[QtGui.QPixmap, float]:
    """An antialiased marker drawn once into a transparent pixmap, and its half side in screen pixels.

    Blitting these is several times cheaper than filling and stroking a path per marker, which
    decides whether switching images stays under 50 ms (benchmarks/bench_gui.py).
    """
    if key in _MARKERS:
        return _MARKERS[key]
    symbol, size, fill, outline, width, ratio = key
    half = math.ceil(size * 0.62 + width) + 1
    pixmap = QtGui.QPixmap(round(2 * half * ratio), round(2 * half * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(pixmap)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    outline_pen = QtGui.QPen(QtGui.QColor.fromRgba(outline))
    outline_pen.setWidthF(width)
    painter.setPen(outline_pen)
    painter.setBrush(QtGui.QBrush(QtGui.QColor.fromRgba(fill)))
    painter.drawPath(QtGui.QTransform(size, 0, 0, size, half, half).map(SYMBOLS[symbol]))
    painter.end()
    _MARKERS[key] = (pixmap, float(half))
    return _MARKERS[key]


class InstanceGraphic(pg.GraphicsObject):
    """Limbs, joints and number of one instance; markers keep their pixel size at any zoom."""

    def __init__(self) -> None:
        super().__init__()
        self.xy = np.zeros((0, 2))
        self.pairs = np.zeros((0, 2), int)
        self.sizes = np.zeros(0)
        self.looks: list[tuple[str, float, int, int, float]] = []  # marker key without the pixel ratio
        self.limb_pen = pen("#ffffff")
        self.color = QtGui.QColor("#ffffff")
        self.number = ""
        self._rect = QtCore.QRectF()
        self._px = 1.0  # data units per screen pixel, refreshed when the view zooms
        self.font = QtGui.QFont()
        self.font.setBold(True)
        self.font.setPixelSize(13)

    def set_data(
        self,
        xy: np.ndarray,
        pairs: np.ndarray,
        sizes: np.ndarray,
        symbols: list[str],
        fills: list[tuple[int, int, float]],
        color: str,
        number: str,
    ) -> None:
        """Replace what is drawn: joints (J, 2) image pixels, limbs as (E, 2) indices into them; per joint
        a size (px), symbol and (fill ARGB, outline ARGB, outline width)."""
        self.prepareGeometryChange()
        self.xy, self.pairs, self.sizes = xy, pairs, sizes
        # Sizes rounded to whole pixels so the marker pixmap cache stays small (and warm).
        whole = np.round(sizes).tolist()
        self.looks = [(sym, q, *f) for sym, q, f in zip(symbols, whole, fills, strict=True)]
        self.limb_pen = pen(color, 2.0, 230)
        self.color = QtGui.QColor(color)
        self.number = number
        self._update_rect()
        self.update()

    def set_cached(self, cached: bool) -> None:
        """Keep a pixmap of this item (worth it while another instance is dragged), or draw directly."""
        mode = QtWidgets.QGraphicsItem.CacheMode
        wanted = mode.DeviceCoordinateCache if cached else mode.NoCache
        if self.cacheMode() != wanted:
            self.setCacheMode(wanted)

    def viewTransformChanged(self) -> None:
        """Zoom changed: the padding in data units changes with it."""
        length = self.pixelLength(QtCore.QPointF(1, 0))
        self._px = float(length) if length else 1.0
        self.prepareGeometryChange()
        self._update_rect()

    def _update_rect(self) -> None:
        if not len(self.xy):
            self._rect = QtCore.QRectF()
            return
        lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
        pad = MARKER_PADDING_PX * self._px * 2
        self._rect = QtCore.QRectF(lo[0] - pad, lo[1] - pad, hi[0] - lo[0] + 2 * pad, hi[1] - lo[1] + 2 * pad)

    def boundingRect(self) -> QtCore.QRectF:
        """Joints plus marker padding."""
        return self._rect

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """Limbs (no antialiasing: 4x cheaper), then the cached markers and the number, in screen space."""
        if not len(self.xy):
            return
        sx, sy = screen_xy(painter, self.xy)
        painter.save()
        painter.resetTransform()
        if len(self.pairs):
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
            painter.setPen(self.limb_pen)
            a, b = self.pairs[:, 0], self.pairs[:, 1]
            painter.drawLines(
                [
                    QtCore.QLineF(sx[i], sy[i], sx[j], sy[j])
                    for i, j in zip(a.tolist(), b.tolist(), strict=True)
                ]
            )
        ratio = painter.device().devicePixelRatioF()
        for look, x, y in zip(self.looks, sx.tolist(), sy.tolist(), strict=True):
            pixmap, half = marker_pixmap((*look, ratio))
            painter.drawPixmap(QtCore.QPointF(x - half, y - half), pixmap)
        top = int(np.argmin(sy))
        painter.setFont(self.font)
        painter.setPen(self.color)
        painter.drawText(QtCore.QPointF(sx[top] - 4, sy[top] - 10), self.number)
        painter.restore()
