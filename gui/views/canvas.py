"""The image canvas: the photo, each instance's joints and limbs, selection; emits intent, never edits."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.model import placing
from aegroup_gui.model.document import Annotations, Change, Document, Key
from aegroup_gui.views.images import FrameKey, ImageCache, PhotoItem
from aegroup_gui.views.images import Key as PictureKey
from aegroup_gui.views.instance_item import InstancesItem
from aegroup_gui.views.style import HOVER_COLOR, SELECTED_COLOR, brush, pen

HIT_RADIUS_PX = 10.0
"""How close (screen pixels) a click must be to a keypoint to hit it."""


class CanvasViewBox(pg.ViewBox):
    """Left click/drag select and move; right or middle drag pans; wheel zooms."""

    def __init__(self, canvas: CanvasView) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.canvas = canvas

    def mouseClickEvent(self, ev) -> None:
        """Left click: select or place."""
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.canvas.handle_click(self.mapSceneToView(ev.scenePos()), ev.modifiers())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        """Left drag: move a keypoint or draw a selection rectangle; other buttons pan."""
        ev.accept()
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            self.canvas.handle_drag(ev)
            return
        delta = self.mapToView(ev.pos()) - self.mapToView(ev.lastPos())
        self.translateBy(x=-delta.x(), y=-delta.y())

    def hoverEvent(self, ev) -> None:
        """Report the keypoint under the pointer."""
        if ev.isExit():
            self.canvas.handle_hover(None)
        else:
            self.canvas.handle_hover(self.mapSceneToView(ev.scenePos()))


class PassiveScatter(pg.ScatterPlotItem):
    """A scatter that leaves clicks to the view box (which does its own hit testing)."""

    def mouseClickEvent(self, ev) -> None:
        """Ignore, so the click reaches the canvas."""
        ev.ignore()


class CanvasView(pg.GraphicsView):
    """Renders the current image of a document; emits what the person wants to do."""

    keypoint_clicked = QtCore.Signal(object, object)  # key, keyboard modifiers
    empty_clicked = QtCore.Signal(float, float, object)  # x, y (image pixels), modifiers
    keypoint_dragged = QtCore.Signal(object, float, float, int)  # key, x, y, drag id
    rect_selected = QtCore.Signal(object, object)  # list of keys, modifiers
    hovered = QtCore.Signal(object)  # key or None

    def __init__(self, doc: Document, images: ImageCache, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, background="#202124")
        self.doc = doc
        self.images = images
        self.view = CanvasViewBox(self)
        self.setCentralItem(self.view)
        self.photo = PhotoItem()
        self.view.addItem(self.photo)
        # Every instance in one item; while a drag moves some, they go to a second item and the rest
        # are blitted from a cached pixmap.
        self.instances = InstancesItem()
        self.moving = InstancesItem()
        self.instances.setZValue(10)
        self.moving.setZValue(11)
        self.selection_item = PassiveScatter(pxMode=True, brush=brush("#000000", 0), size=22)
        self.hover_item = PassiveScatter(pxMode=True, brush=brush("#000000", 0), size=26)
        self.selection_item.setZValue(30)
        self.hover_item.setZValue(31)
        self.band = QtWidgets.QGraphicsRectItem()
        self.band.setPen(pen("#ffffff", 1.0, 200))
        self.band.setBrush(brush("#4a90d9", 50))
        self.band.setZValue(40)
        self.band.hide()
        # What a click does while a new instance is placed joint by joint, over the top-left corner.
        self.prompt = QtWidgets.QLabel(self)
        self.prompt.setStyleSheet(
            "background: rgba(20, 20, 20, 200); color: #ffd400; padding: 4px 8px; font-weight: bold;"
        )
        self.prompt.move(8, 8)
        self.prompt.hide()
        for item in (self.instances, self.moving, self.selection_item, self.hover_item, self.band):
            self.view.addItem(item)
        self.edge_index = np.array(doc.schema.edge_index, int).reshape(-1, 2)
        self._drag_key: Key | None = None
        self._drag_ids = itertools.count(1)
        self._drag_id = 0
        self.image_missing = False
        self._drawn: Annotations | None = None  # what the instance items show now
        self._moving_rows: list[int] = []  # rows drawn by the moving item
        doc.subscribe(self.on_change)
        self.show_image()

    # ---- rendering -----------------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Redraw what a document change affects."""
        if change.kind == "current":
            self.show_image()
        elif change.kind == "frames" or (change.kind == "annotations" and change.image == self.doc.current):
            self.draw_instances()
            self.draw_overlay()
        elif change.kind == "positions" and change.image == self.doc.current:
            self.draw_moved()
            self.draw_overlay()
        elif change.kind in ("selection", "hover"):
            self.draw_overlay()
        elif change.kind == "style":
            self.draw_instances()
        if change.kind in ("mode", "current", "annotations", "positions", "frames"):
            self.show_prompt()

    def show_image(self) -> None:
        """Load the current image's pixels, draw everything and fit the view (kept when the new image
        has the size of the last one: the next frame of a video is looked at where the last one was)."""
        record = self.doc.image
        same_size = (record.width, record.height) == (self.photo.image.width(), self.photo.image.height())
        image, self.image_missing = self.images.get(self.key(self.doc.current), (record.width, record.height))
        self.photo.set_image(image)
        self.draw_instances()
        self.draw_overlay()
        if not same_size or record.video is None:
            self.fit()

    def key(self, index: int) -> PictureKey:
        """What image `index` shows: its file, or its video frame."""
        record = self.doc.images[index]
        if record.video is None:
            return Path(self.doc.image_dir or ".") / str(record.file_name)
        return FrameKey(self.doc.videos[record.video], int(record.frame_index or 0))

    def show_prompt(self) -> None:
        """Say which joint the next click places while a new instance is being placed."""
        state = self.doc.placing
        if state is None or state.image != self.doc.current:
            self.prompt.hide()
            return
        self.prompt.setText(placing.prompt(self.doc, state))
        self.prompt.adjustSize()
        self.prompt.show()

    def fit(self) -> None:
        """Show the whole image."""
        record = self.doc.image
        self.view.setRange(xRange=(0, record.width), yRange=(0, record.height), padding=0.02)

    def draw_instances(self) -> None:
        """(Re)draw every instance of the current image."""
        ann = self.doc.image.annotations
        self.instances.set_cached(False)  # everything is redrawn once anyway; a pixmap would only add work
        by_track = self.doc.color_by_track
        self.instances.set_instances(ann, list(range(ann.num_instances)), self.edge_index, by_track)
        self.moving.set_instances(ann, [], self.edge_index, by_track)
        self._moving_rows = []
        self._drawn = ann

    def draw_moved(self) -> None:
        """Redraw only the instances whose coordinates changed since they were last drawn."""
        ann, old = self.doc.image.annotations, self._drawn
        if old is None or old.keypoints.shape != ann.keypoints.shape:
            self.draw_instances()
            return
        changed = np.flatnonzero((old.keypoints != ann.keypoints).any(axis=(1, 2))).tolist()
        moving = sorted(set(self._moving_rows) | set(changed))
        if moving != self._moving_rows:  # the others stay still: drawn once, then blitted from a pixmap
            self._moving_rows = moving
            self.instances.set_cached(True)
            still = [r for r in range(ann.num_instances) if r not in set(moving)]
            self.instances.set_instances(ann, still, self.edge_index, self.doc.color_by_track)
        self.moving.set_instances(ann, moving, self.edge_index, self.doc.color_by_track)
        self._drawn = ann

    def draw_overlay(self) -> None:
        """Rings around selected keypoints and the hovered one."""
        ann = self.doc.image.annotations
        sel = self._positions(ann, sorted(self.doc.selection))
        self.selection_item.setData(pos=sel, pen=pen(SELECTED_COLOR, 2.5))
        hover = self._positions(ann, [self.doc.hover] if self.doc.hover else [])
        self.hover_item.setData(pos=hover, pen=pen(HOVER_COLOR, 2.5))
        for item, points in ((self.selection_item, sel), (self.hover_item, hover)):
            item.setVisible(len(points) > 0)  # an empty pyqtgraph scatter still costs a paint pass
        self._dim_unselected()

    def _dim_unselected(self) -> None:
        selected = set(self.doc.selected_instances())
        self.instances.set_dimmed(selected)
        self.moving.set_dimmed(selected)

    @staticmethod
    def _positions(ann: Annotations, keys: list[Key]) -> np.ndarray:
        out = np.zeros((len(keys), 2))
        for i, (inst, k) in enumerate(keys):
            out[i] = ann.keypoints[ann.row(inst), k, :2]
        return out

    # ---- hit testing and mouse -----------------------------------------------------------------------
    def key_at(self, point: QtCore.QPointF) -> Key | None:
        """The present keypoint nearest to a view position within HIT_RADIUS_PX screen pixels."""
        ann = self.doc.image.annotations
        present = ann.present()
        if not present.any():
            return None
        px = self.view.viewPixelSize()
        d = np.hypot(
            (ann.keypoints[:, :, 0] - point.x()) / px[0], (ann.keypoints[:, :, 1] - point.y()) / px[1]
        )
        d[~present] = np.inf
        row, k = np.unravel_index(np.argmin(d), d.shape)
        return (int(ann.ids[row]), int(k)) if d[row, k] <= HIT_RADIUS_PX else None

    def keys_in_rect(self, rect: QtCore.QRectF) -> list[Key]:
        """Present keypoints inside a rectangle (view coordinates)."""
        ann = self.doc.image.annotations
        x, y = ann.keypoints[:, :, 0], ann.keypoints[:, :, 1]
        inside = ann.present() & (x >= rect.left()) & (x <= rect.right())
        inside &= (y >= rect.top()) & (y <= rect.bottom())
        rows, joints = np.nonzero(inside)
        return [(int(ann.ids[r]), int(k)) for r, k in zip(rows, joints, strict=True)]

    def handle_click(self, point: QtCore.QPointF, modifiers) -> None:
        """Emit a keypoint or empty-space click (while placing a new instance, every click places)."""
        key = None if self.doc.placing is not None else self.key_at(point)
        if key is not None:
            self.keypoint_clicked.emit(key, modifiers)
        else:
            self.empty_clicked.emit(point.x(), point.y(), modifiers)

    def handle_drag(self, ev) -> None:
        """Start, continue or finish a keypoint drag or a rubber band."""
        if self.doc.placing is not None:  # placing takes clicks only; drag the joints once it is finished
            return
        start = self.view.mapSceneToView(ev.buttonDownScenePos())
        here = self.view.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._drag_key = self.key_at(start)
            self._drag_id = next(self._drag_ids)
        if self._drag_key is not None:
            self.keypoint_dragged.emit(self._drag_key, here.x(), here.y(), self._drag_id)
            if ev.isFinish():
                self._drag_key = None
            return
        rect = QtCore.QRectF(start, here).normalized()
        self.band.setRect(rect)
        self.band.setVisible(not ev.isFinish())
        if ev.isFinish():
            self.rect_selected.emit(self.keys_in_rect(rect), ev.modifiers())

    def handle_hover(self, point: QtCore.QPointF | None) -> None:
        """Emit the keypoint under the pointer."""
        self.hovered.emit(None if point is None else self.key_at(point))

    def widget_pos(self, x: float, y: float) -> QtCore.QPoint:
        """Widget pixel position of an image position (for tests and tooltips)."""
        scene = self.view.mapViewToScene(QtCore.QPointF(x, y))
        return self.mapFromScene(scene)

    def render_png(self, path: Path) -> bool:
        """Save what the canvas shows as a PNG."""
        image = QtGui.QImage(self.viewport().size(), QtGui.QImage.Format.Format_ARGB32)
        image.fill(QtGui.QColor("#202124"))
        painter = QtGui.QPainter(image)
        self.render(painter)
        painter.end()
        return image.save(str(path))
