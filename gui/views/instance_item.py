"""The instances of an image in one graphics item: limbs, joint markers (fixed screen size), panel numbers.

Drawn with QPainter directly: pyqtgraph's general ScatterPlotItem/PlotCurveItem pair costs several
times more per update, which decides whether switching images stays under 50 ms (benchmarks/bench_gui.py).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.io.poses import OCCLUDED
from aegroup_gui.model.document import Annotations
from aegroup_gui.views.style import marker_look, marker_sizes, marker_symbols, pen, row_colors

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


def padded_rect(xy: np.ndarray, pad: float | np.ndarray) -> QtCore.QRectF:
    """Bounds of (N, 2) points grown by `pad` (scalar, or per x and y) on every side; empty if N = 0."""
    if not len(xy):
        return QtCore.QRectF()
    lo, hi = xy.min(axis=0) - pad, xy.max(axis=0) + pad
    return QtCore.QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


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


class InstancesItem(pg.GraphicsObject):
    """Limbs, joints and numbers of many instances in one item; markers keep their pixel size at any zoom.

    One item for all instances: thirty items cost the scene thirty bounding-rect, sort and paint passes
    per redraw, which decided whether switching images stays under 50 ms (benchmarks/bench_gui.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self.ids = np.zeros(0, np.int64)  # instance id of each drawn row, in paint order
        self.xy = np.zeros((0, 2))  # present joints of every drawn row, row after row (image pixels)
        self.spans: list[tuple[int, int]] = []  # each row's slice of xy
        self.limbs = np.zeros((0, 2), int)  # every drawn limb as indices into xy, row after row
        self.limb_spans: list[tuple[int, int]] = []  # each row's slice of limbs
        self.tops: list[int] = []  # each row's topmost joint (index into xy), where its number goes
        self.looks: list[tuple[str, float, int, int, float]] = []  # marker key of each joint, no pixel ratio
        self.pens: list[QtGui.QPen] = []
        self.colors: list[QtGui.QColor] = []
        self.numbers: list[QtGui.QStaticText] = []
        self._marks: tuple[float, list[QtGui.QPixmap], np.ndarray] = (0.0, [], np.zeros(0))
        self.opacity: list[float] = []
        self._rect = QtCore.QRectF()
        self._px = 1.0  # data units per screen pixel, refreshed when the view zooms
        self.font = QtGui.QFont()
        self.font.setBold(True)
        self.font.setPixelSize(13)
        # The number's baseline sits 10 px above the topmost joint; static text is placed by its top.
        self._label_rise = 10 + QtGui.QFontMetricsF(self.font).ascent()

    def set_instances(
        self, ann: Annotations, rows: list[int], edge_index: np.ndarray, by_track: bool = False
    ) -> None:
        """Draw rows `rows` of `ann` (in that order); limbs are the schema's (E, 2) joint index pairs;
        coloured by instance, or by track."""
        self.prepareGeometryChange()
        kps = ann.keypoints[rows]
        present = kps[:, :, 2] > 0
        ends = np.cumsum(present.sum(axis=1))
        self.spans = list(zip((ends - present.sum(axis=1)).tolist(), ends.tolist(), strict=True))
        r_idx, j_idx = np.nonzero(present)
        self.xy = kps[r_idx, j_idx, :2]
        # Index into xy of every (row, joint), -1 where absent: limbs whose two ends exist.
        where = np.full(present.shape, -1)
        where[r_idx, j_idx] = np.arange(r_idx.size)
        ends_ij = where[:, edge_index] if len(edge_index) else np.zeros((len(rows), 0, 2), int)
        whole = (ends_ij >= 0).all(axis=2)
        self.limbs = ends_ij[whole]
        limb_ends = np.cumsum(whole.sum(axis=1))
        self.limb_spans = list(zip((limb_ends - whole.sum(axis=1)).tolist(), limb_ends.tolist(), strict=True))
        self.tops = [a + int(np.argmin(self.xy[a:b, 1])) if b > a else -1 for a, b in self.spans]
        self.ids = ann.ids[rows]
        colors = row_colors(self.ids, ann.track[rows], by_track)
        score = ann.scores[rows][r_idx, j_idx]
        sizes = np.round(marker_sizes(score)).tolist()  # whole pixels keep the pixmap cache small and warm
        symbols = marker_symbols(ann.origin[rows][r_idx, j_idx], score)
        hollow = (kps[r_idx, j_idx, 2] == OCCLUDED).tolist()
        self.looks = [
            (sym, size, *marker_look(colors[r], h))
            for sym, size, r, h in zip(symbols, sizes, r_idx.tolist(), hollow, strict=True)
        ]
        self.pens = [pen(c, 2.0) for c in colors]
        self.colors = [QtGui.QColor(c) for c in colors]
        self.numbers = [_number_text(r + 1) for r in rows]
        self._marks = (0.0, [], np.zeros(0))  # marker pixmaps and half sides for a pixel ratio, made on paint
        self.opacity = [1.0] * len(rows)
        self._update_rect()
        self.update()

    def set_dimmed(self, selected: set[int]) -> None:
        """Fade the instances not in `selected` (none are faded when it is empty)."""
        opacity = [0.4 if selected and i not in selected else 1.0 for i in self.ids.tolist()]
        if opacity != self.opacity:
            self.opacity = opacity
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
        self._rect = padded_rect(self.xy, MARKER_PADDING_PX * self._px * 2)

    def boundingRect(self) -> QtCore.QRectF:
        """Joints plus marker padding."""
        return self._rect

    def _markers(self, ratio: float) -> tuple[list[QtGui.QPixmap], np.ndarray]:
        """Each joint's marker pixmap and half side (screen pixels) at a device pixel ratio."""
        if self._marks[0] != ratio:  # set_instances resets the ratio to 0
            marks = [marker_pixmap((*look, ratio)) for look in self.looks]
            self._marks = (ratio, [m for m, _ in marks], np.array([h for _, h in marks]))
        return self._marks[1], self._marks[2]

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """Per instance: limbs (opaque, unantialiased: many times cheaper), cached markers, the number."""
        if not len(self.xy):
            return
        sx, sy = screen_xy(painter, self.xy)
        ends = np.column_stack([sx, sy])
        pixmaps, halves = self._markers(painter.device().devicePixelRatioF())
        corners = np.rint(ends - halves[:, None]).astype(int).tolist()  # whole pixels: the cheapest blit
        segments = np.concatenate([ends[self.limbs[:, 0]], ends[self.limbs[:, 1]]], axis=1).tolist()
        lines = [QtCore.QLineF(*s) for s in segments]
        labels = [QtCore.QPointF(sx[t] - 4, sy[t] - self._label_rise) for t in self.tops]
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        painter.setFont(self.font)
        for r, ((a, b), (c, d)) in enumerate(zip(self.spans, self.limb_spans, strict=True)):
            painter.setOpacity(self.opacity[r])
            if d > c:
                painter.setPen(self.pens[r])
                painter.drawLines(lines[c:d])
            for (x, y), pixmap in zip(corners[a:b], pixmaps[a:b], strict=True):
                painter.drawPixmap(x, y, pixmap)
            if b > a:
                painter.setPen(self.colors[r])
                painter.drawStaticText(labels[r], self.numbers[r])
        painter.restore()


@cache
def _number_text(number: int) -> QtGui.QStaticText:
    """An instance number laid out once (drawing static text skips the layout on every paint)."""
    return QtGui.QStaticText(str(number))
