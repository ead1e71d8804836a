"""Tag-cluster view: each keypoint's tag (y) per joint type (x), coloured by instance, means as lines."""

from __future__ import annotations

from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.model.document import Annotations, Change, Document, Key
from aegroup_gui.views.instance_item import marker_pixmap, padded_rect, screen_xy
from aegroup_gui.views.style import HOVER_COLOR, SELECTED_COLOR, brush, instance_color, pen


def project_tags(ann: Annotations, component: str) -> np.ndarray:
    """(N, K) one number per tag: raw dimension 'dim i' or principal component 'PC i' of this image."""
    n, k, d = ann.tags.shape
    if d == 0:
        return np.full((n, k), np.nan)
    if component.startswith("dim "):
        return ann.tags[:, :, int(component[4:]) - 1]
    index = int(component[3:]) - 1 if component.startswith("PC ") else 0
    if d == 1:
        return ann.tags[:, :, 0]
    flat = ann.tags.reshape(-1, d)
    ok = np.isfinite(flat).all(axis=1) & ann.present().reshape(-1)
    if ok.sum() < 2:
        return ann.tags[:, :, min(index, d - 1)]
    mean = flat[ok].mean(axis=0)
    _, _, vt = np.linalg.svd(flat[ok] - mean, full_matrices=False)
    axis = vt[min(index, len(vt) - 1)]
    axis = axis * np.sign(axis[np.argmax(np.abs(axis))])  # a stable sign, so the plot does not flip
    return ((flat - mean) @ axis).reshape(n, k)


def short_name(joint: str) -> str:
    """A compact tick label: 'left_shoulder' -> 'L shou'."""
    for prefix, short in (("left_", "L "), ("right_", "R "), ("l_", "L "), ("r_", "R ")):
        if joint.lower().startswith(prefix):
            return short + joint[len(prefix) :][:4]
    return joint[:6]


class MeanLines(pg.GraphicsObject):
    """Every instance's mean tag as a horizontal line across the joint types (one item, cheap to update)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, QtGui.QPen]] = []
        self.width = 1

    def set_lines(self, lines: list[tuple[float, QtGui.QPen]], num_joints: int) -> None:
        """Draw a line at each (value, pen) from joint -0.5 to K - 0.5."""
        self.prepareGeometryChange()
        self.lines, self.width = lines, num_joints
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        """The span of the lines."""
        if not self.lines:
            return QtCore.QRectF()
        values = [v for v, _ in self.lines]
        return QtCore.QRectF(-0.5, min(values), self.width, max(values) - min(values))

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """Cosmetic pens, so the lines stay thin at any zoom."""
        for value, line_pen in self.lines:
            painter.setPen(line_pen)
            painter.drawLine(QtCore.QPointF(-0.5, value), QtCore.QPointF(self.width - 0.5, value))


class GridLines(pg.GraphicsObject):
    """A faint grid: one vertical line per joint type and horizontal lines at the tag axis ticks.

    Opaque, unantialiased lines in one cheap item: pyqtgraph's own axis grid is alpha-blended and repaints
    with both axes on every redraw, which cost about 40 ms per image switch (benchmarks/bench_gui.py).
    """

    MAJOR, MINOR = "#3d3e42", "#2b2c30"  # white at 15% / 5% over the plot background, precomputed

    def __init__(self, axis: pg.AxisItem, num_joints: int) -> None:
        super().__init__()
        self.axis = axis
        self.num_joints = num_joints
        self.setZValue(-100)

    def viewRangeChanged(self) -> None:
        """The visible range moved: the lines span it."""
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        """The visible part of the plot."""
        rect = self.viewRect()
        return QtCore.QRectF() if rect is None else QtCore.QRectF(rect)

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """Minor then major horizontal lines at the axis ticks, and the joint columns."""
        rect = self.viewRect()
        if rect is None or rect.height() <= 0:
            return
        top, bottom = rect.top(), rect.bottom()
        levels = self.axis.tickValues(top, bottom, max(self.axis.height(), 1.0))[:2]
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        for (_, values), color in reversed(list(zip(levels, (self.MAJOR, self.MINOR), strict=False))):
            painter.setPen(pen(color, 1.0))
            painter.drawLines([QtCore.QLineF(rect.left(), v, rect.right(), v) for v in values])
        painter.setPen(pen(self.MAJOR, 1.0))
        painter.drawLines([QtCore.QLineF(x, top, x, bottom) for x in range(self.num_joints)])


class TagPoints(pg.GraphicsObject):
    """Every plotted tag as a marker in its instance colour; reports clicks and hovers by point index.

    Markers are blitted from the canvas's cached pixmaps: pyqtgraph's ScatterPlotItem with a brush and
    pen per point cost about 15 ms per image switch to set up (benchmarks/bench_gui.py).
    """

    clicked = QtCore.Signal(int, object)  # point index, keyboard modifiers
    hovered = QtCore.Signal(object)  # point index or None

    SIZE_PX = 9.0
    HIT_PX = 7.0

    def __init__(self) -> None:
        super().__init__()
        self.xy = np.zeros((0, 2))
        self.looks: list[tuple[str, float, int, int, float]] = []
        self._px = np.ones(2)  # data units per screen pixel along x and y
        self._rect = QtCore.QRectF()
        self.setAcceptHoverEvents(True)

    def set_points(self, xy: np.ndarray, colors: list[str]) -> None:
        """Show points (M, 2) in plot coordinates, one colour each."""
        self.prepareGeometryChange()
        self.xy = xy
        self.looks = [_point_look(c) for c in colors]
        self._update_rect()
        self.update()

    def viewTransformChanged(self) -> None:
        """Zoom changed: the marker padding in data units changes with it."""
        self._px = np.abs([self.pixelLength(QtCore.QPointF(1, 0)), self.pixelLength(QtCore.QPointF(0, 1))])
        self._px[self._px == 0] = 1.0
        self.prepareGeometryChange()
        self._update_rect()

    def _update_rect(self) -> None:
        self._rect = padded_rect(self.xy, self._px * self.SIZE_PX)

    def boundingRect(self) -> QtCore.QRectF:
        """The points plus marker padding."""
        return self._rect

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        """Cached antialiased markers, in screen space."""
        if not len(self.xy):
            return
        sx, sy = screen_xy(painter, self.xy)
        ratio = painter.device().devicePixelRatioF()
        marks = [marker_pixmap((*look, ratio)) for look in self.looks]
        halves = np.array([half for _, half in marks])
        corners = np.rint(np.column_stack([sx, sy]) - halves[:, None]).astype(int).tolist()
        painter.save()
        painter.resetTransform()
        for (x, y), (pixmap, _) in zip(corners, marks, strict=True):
            painter.drawPixmap(x, y, pixmap)  # whole pixels: the cheapest blit
        painter.restore()

    def index_at(self, pos: QtCore.QPointF) -> int | None:
        """The point nearest to an item position within HIT_PX screen pixels."""
        if not len(self.xy):
            return None
        d = np.hypot((self.xy[:, 0] - pos.x()) / self._px[0], (self.xy[:, 1] - pos.y()) / self._px[1])
        i = int(np.argmin(d))
        return i if d[i] <= self.HIT_PX else None

    def mouseClickEvent(self, ev) -> None:
        """Left click on a point: report it; elsewhere leave the click to the plot."""
        i = self.index_at(ev.pos()) if ev.button() == QtCore.Qt.MouseButton.LeftButton else None
        if i is None:
            ev.ignore()
            return
        ev.accept()
        self.clicked.emit(i, ev.modifiers())

    def hoverEvent(self, ev) -> None:
        """Report the point under the pointer (None when it leaves)."""
        self.hovered.emit(None if ev.isExit() else self.index_at(ev.pos()))


@cache
def _point_look(color: str) -> tuple[str, float, int, int, float]:
    """The marker of a tag point: a filled circle with an outline in the instance colour."""
    return ("o", TagPoints.SIZE_PX, brush(color, 220).color().rgba(), pen(color, 1.0).color().rgba(), 1.0)


class TagView(QtWidgets.QWidget):
    """Plots the current image's tags; emits clicks and hovers on points."""

    keypoint_clicked = QtCore.Signal(object, object)  # key, modifiers
    hovered = QtCore.Signal(object)  # key or None

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.component = QtWidgets.QComboBox()
        self.component.setToolTip("Which tag component is plotted (for tags of more than one dimension)")
        choices = ["PC 1"] if doc.tag_dim == 1 else []
        if doc.tag_dim > 1:
            choices = [f"PC {i + 1}" for i in range(min(doc.tag_dim, 3))]
            choices += [f"dim {i + 1}" for i in range(doc.tag_dim)]
        self.component.addItems(choices or ["no tags"])
        self.component.setEnabled(doc.tag_dim > 1)
        self.component.currentTextChanged.connect(lambda _: self.redraw())
        self.plot = pg.PlotWidget(background="#202124")
        self.plot.setMenuEnabled(False)
        self.plot.addItem(GridLines(self.plot.getAxis("left"), doc.schema.num_joints))
        self.plot.setLabel("left", "tag")
        self.plot.getViewBox().setMouseMode(pg.ViewBox.PanMode)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, short_name(j)) for i, j in enumerate(doc.schema.joints)]])
        self.points = TagPoints()
        self.points.clicked.connect(self._clicked)
        self.points.hovered.connect(self._hovered)
        self.plot.addItem(self.points)
        self.means = MeanLines()
        self.plot.addItem(self.means)
        self.overlay = pg.ScatterPlotItem(pxMode=True, size=17, brush=brush("#000000", 0))
        self.overlay.setZValue(20)
        self.plot.addItem(self.overlay)
        self.empty_note = pg.TextItem("no tags in this file", color="#aaaaaa", anchor=(0.5, 0.5))
        self.plot.addItem(self.empty_note)
        self._keys: list[Key] = []
        self._xy = np.zeros((0, 2))
        self._hover_key: Key | None = None
        top = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("Tags per joint type, coloured by instance; lines are instance means.")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QtWidgets.QLabel("component"))
        top.addWidget(self.component)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.plot)
        doc.subscribe(self.on_change)
        self.redraw()

    def on_change(self, change: Change) -> None:
        """Redraw on image or annotation changes; update rings on selection or hover."""
        if change.kind == "current" or (change.kind == "annotations" and change.image == self.doc.current):
            self.redraw()
        elif change.kind in ("selection", "hover"):
            self.draw_overlay()

    def redraw(self) -> None:
        """Plot every present keypoint's tag and each instance's mean."""
        ann = self.doc.image.annotations
        values = project_tags(ann, self.component.currentText())
        n, k = values.shape
        ok = ann.present() & np.isfinite(values)
        rows, joints = np.nonzero(ok)
        spread = 0.5 / max(n, 1)
        x = joints + (rows - (n - 1) / 2) * spread
        y = values[rows, joints]
        self._keys = [(int(ann.ids[r]), int(j)) for r, j in zip(rows, joints, strict=True)]
        self._xy = np.column_stack([x, y]) if len(x) else np.zeros((0, 2))
        row_colors = [instance_color(int(i)) for i in ann.ids.tolist()]
        self.points.set_points(self._xy, [row_colors[r] for r in rows.tolist()])
        counts = ok.sum(axis=1)
        means = np.where(ok, values, 0.0).sum(axis=1) / np.maximum(counts, 1)
        lines = [
            (m, pen(c, 1.5, 150))
            for m, c, n_ok in zip(means.tolist(), row_colors, counts, strict=True)
            if n_ok
        ]
        self.means.set_lines(lines, k)
        self.empty_note.setVisible(not ok.any())
        if not ok.any():
            self.empty_note.setPos((k - 1) / 2, 0)
        pad = 0.08 * float(np.ptp(y)) if ok.any() else 0.0
        y_range = (float(y.min()) - pad, float(y.max()) + pad) if ok.any() else None
        self.plot.setRange(xRange=(-0.7, k - 0.3), yRange=y_range, padding=0)  # one range update
        self.draw_overlay()

    def draw_overlay(self) -> None:
        """Rings around the selected and hovered keypoints."""
        self.overlay.setVisible(bool(self.doc.selection) or self.doc.hover is not None)
        if not self.overlay.isVisible():  # the usual case right after a switch: skip the key lookup
            return
        index = {key: i for i, key in enumerate(self._keys)}
        sel = [index[key] for key in sorted(self.doc.selection) if key in index]
        hover = index.get(self.doc.hover) if self.doc.hover is not None else None
        spots = [{"pos": self._xy[i], "pen": pen(SELECTED_COLOR, 2.0)} for i in sel]
        if hover is not None:
            spots.append({"pos": self._xy[hover], "pen": pen(HOVER_COLOR, 2.5), "size": 21})
        self.overlay.setData(spots=spots)

    def point_of(self, key: Key) -> tuple[float, float] | None:
        """Plot position of a keypoint's tag, if plotted."""
        for i, k in enumerate(self._keys):
            if k == key:
                return float(self._xy[i, 0]), float(self._xy[i, 1])
        return None

    def _clicked(self, index: int, modifiers) -> None:
        self.keypoint_clicked.emit(self._keys[index], modifiers)

    def _hovered(self, index: int | None) -> None:
        key = None if index is None else self._keys[index]
        if key != self._hover_key:
            self._hover_key = key
            self.hovered.emit(key)
