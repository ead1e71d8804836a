"""The track timeline under the image: one row per track, one column per frame of the current video
(image files: per image, by id), filled where the track has an instance; identity doubts marked; the
current frame a line. A click picks that frame."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.model.document import Change, Document
from aegroup_gui.model.identity import Doubt, sequence
from aegroup_gui.views.style import UNTRACKED_COLOR, track_color

DOUBT_MARK = 0.5
"""Instances at least this doubtful are marked on the timeline (another track was about as close)."""
EMPTY = (42, 43, 46, 255)
"""A frame where the track has no instance."""
ROW_PX = 16
"""Height of one track row in screen pixels."""


class TrackTimeline(pg.PlotWidget):
    """Rows = tracks (and untracked instances, last), x = frames; emits the frame or image clicked."""

    frame_chosen = QtCore.Signal(int, int)  # video, frame index
    image_chosen = QtCore.Signal(int)  # image index (image files)

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, background="#202124")
        self.doc = doc
        self.image = pg.ImageItem()
        self.marks = pg.ScatterPlotItem(pxMode=True, symbol="t", size=9, pen=pg.mkPen("#000000", width=0.5))
        self.marks.setBrush(pg.mkBrush("#ff5252"))
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffd400", width=1.5))
        plot = self.getPlotItem()
        for item in (self.image, self.marks, self.line):
            plot.addItem(item)
        plot.setMouseEnabled(x=True, y=False)
        plot.hideButtons()
        plot.invertY(True)
        plot.setMenuEnabled(False)
        plot.getAxis("bottom").setHeight(18)
        plot.getAxis("left").setWidth(72)
        plot.showGrid(x=False, y=False)
        self.setToolTip("Tracks per frame: filled where the track has an instance; ▼ identity in doubt")
        self.scene().sigMouseClicked.connect(self._clicked)
        self.doubts: list[Doubt] = []
        self.positions: list[int] = []  # image index of each column (image files)
        self.video: int | None = -1
        self._dirty = False
        doc.subscribe(self.on_change)
        self.rebuild()

    def on_change(self, change: Change) -> None:
        """Rebuild when labels or tracks change (once per burst of changes); move the line otherwise."""
        if change.kind in ("annotations", "frames", "added", "tracks") or (
            change.kind == "current" and self.doc.image.video != self.video
        ):
            if not self._dirty:
                self._dirty = True
                QtCore.QTimer.singleShot(0, self.rebuild)
        elif change.kind == "current":
            self.move_line()

    def set_doubts(self, doubts: list[Doubt]) -> None:
        """Mark the instances in doubt (the review queue's figures)."""
        self.doubts = doubts
        self.draw_marks()

    def _x(self, index: int) -> float:
        record = self.doc.images[index]
        if record.video is not None:
            return float(record.frame_index or 0)
        return float(self.positions.index(index)) if index in self.positions else -1.0

    def rebuild(self) -> None:
        """Draw which track has an instance in which frame of the current video."""
        self._dirty = False
        doc = self.doc
        record = doc.image
        self.video = record.video
        self.setVisible(bool(doc.tracks))
        if not doc.tracks:
            return
        if record.video is not None:
            width = int(doc.videos[record.video].frames or 1)
            members = [i for i in doc.kept() if doc.images[i].video == record.video]
            self.positions = []
        else:
            self.positions = sequence(doc, doc.current) if doc.current in doc.kept() else []
            members, width = self.positions, max(len(self.positions), 1)
        rows = len(doc.tracks)
        cells = np.zeros((rows + 1, width, 4), np.uint8)
        cells[:] = EMPTY
        colors = np.array([QtGui.QColor(track_color(t)).getRgb() for t in range(rows)], np.uint8).reshape(
            -1, 4
        )
        untracked = False
        for index in members:
            x = int(self._x(index))
            track = doc.images[index].annotations.track
            on = track[(track >= 0) & (track < rows)]
            cells[on, x] = colors[on]
            if (track < 0).any():
                cells[rows, x] = QtGui.QColor(UNTRACKED_COLOR).getRgb()
                untracked = True
        shown = rows + int(untracked)
        self.image.setImage(cells[:shown], autoLevels=False)
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, width, max(shown, 1)))
        names = [*doc.tracks, "untracked"][:shown]
        self.getPlotItem().getAxis("left").setTicks([[(i, n[:10]) for i, n in enumerate(names)]])
        plot = self.getPlotItem()
        plot.setLimits(xMin=-0.5, xMax=width - 0.5, yMin=-0.5, yMax=max(shown, 1) - 0.5)
        plot.setRange(xRange=(-0.5, width - 0.5), yRange=(-0.5, max(shown, 1) - 0.5), padding=0)
        self.setFixedHeight(min(ROW_PX * max(shown, 1), 8 * ROW_PX) + 26)
        self.move_line()
        self.draw_marks()

    def move_line(self) -> None:
        """Put the current-frame line at the current image."""
        self.line.setValue(self._x(self.doc.current))

    def draw_marks(self) -> None:
        """A marker at each instance of the shown video whose identity is in doubt."""
        doc = self.doc
        points = []
        for d in self.doubts:
            if d.doubt < DOUBT_MARK:
                break  # most doubtful first
            if d.image >= len(doc.images) or doc.images[d.image].video != self.video:
                continue
            ann = doc.images[d.image].annotations
            if d.instance in ann.ids:
                track = int(ann.track[ann.row(d.instance)])
                points.append((self._x(d.image), track if track >= 0 else len(doc.tracks)))
        self.marks.setData(pos=np.array(points, float).reshape(-1, 2))

    def _clicked(self, event) -> None:
        point = self.getPlotItem().vb.mapSceneToView(event.scenePos())
        x = round(point.x())
        if self.video is not None:
            frames = int(self.doc.videos[self.video].frames or 1)
            self.frame_chosen.emit(self.video, min(max(x, 0), frames - 1))
        elif self.positions:
            self.image_chosen.emit(self.positions[min(max(x, 0), len(self.positions) - 1)])
