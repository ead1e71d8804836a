"""The frame bar of a video-backed document: a slider over every frame of the current video, labelled
frames marked under its groove, and the frame number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.model.document import Change, Document
from aegroup_gui.model.navigation import labelled_frames

MARK_COLOR = "#4fc3f7"
"""Labelled frames under the slider's groove."""


class FrameSlider(QtWidgets.QSlider):
    """A horizontal slider with a mark under the groove at each labelled frame (one run per pixel)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.marks = np.zeros(0, np.int64)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # the window's arrow keys step frames
        self.setMinimumHeight(26)

    def set_marks(self, frames: np.ndarray) -> None:
        """Mark these frame numbers."""
        self.marks = np.asarray(frames, np.int64)
        self.update()

    def mark_x(self, frames: np.ndarray) -> np.ndarray:
        """Widget x of the centre of the handle at each frame value."""
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        control = QtWidgets.QStyle.ComplexControl.CC_Slider
        groove = style.subControlRect(control, opt, QtWidgets.QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(control, opt, QtWidgets.QStyle.SubControl.SC_SliderHandle, self)
        span = max(groove.width() - handle.width(), 1)
        low, high = self.minimum(), max(self.maximum(), self.minimum() + 1)
        return groove.x() + handle.width() / 2 + (np.asarray(frames) - low) / (high - low) * span

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        """The marks (one rectangle per run of marked pixels), then the slider over them."""
        if self.marks.size:
            xs = np.unique(np.round(self.mark_x(self.marks)).astype(int))
            starts = xs[np.r_[True, np.diff(xs) > 1]]
            ends = xs[np.r_[np.diff(xs) > 1, True]]
            painter = QtGui.QPainter(self)
            color = QtGui.QColor(MARK_COLOR)
            bottom = self.height() - 6
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                painter.fillRect(a, bottom, b - a + 1, 5, color)
            painter.end()
        super().paintEvent(event)


class FrameBar(QtWidgets.QWidget):
    """Slider and frame number for the video of the current image; picking a frame emits `frame_chosen`."""

    frame_chosen = QtCore.Signal(int, int)  # video, frame index

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slider = FrameSlider()
        self.label = QtWidgets.QLabel()
        self.label.setMinimumWidth(190)
        self.label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.video = -1
        self.slider.valueChanged.connect(self._moved)
        doc.subscribe(self.on_change)
        self.refresh()

    def on_change(self, change: Change) -> None:
        """Follow the current frame; re-mark labelled frames when instances come or go."""
        if change.kind in ("current", "added", "annotations"):
            self.refresh(marks=change.kind != "current" or self.doc.image.video != self.video)

    def refresh(self, marks: bool = True) -> None:
        """Show the current image's video and frame (hidden when it is an image file)."""
        record = self.doc.image
        self.setVisible(record.video is not None)
        if record.video is None:
            return
        ref = self.doc.videos[record.video]
        if marks or record.video != self.video:
            self.video = record.video
            self.slider.blockSignals(True)
            self.slider.setRange(0, max((ref.frames or 1) - 1, 0))
            self.slider.setPageStep(max((ref.frames or 1) // 20, 1))
            self.slider.blockSignals(False)
            self.slider.set_marks(labelled_frames(self.doc, record.video))
        self.slider.blockSignals(True)
        self.slider.setValue(int(record.frame_index or 0))
        self.slider.blockSignals(False)
        self.label.setText(f"{Path(ref.path).name}  frame {record.frame_index} / {(ref.frames or 1) - 1}")

    def _moved(self, value: int) -> None:
        if self.video >= 0 and value != self.doc.image.frame_index:
            self.frame_chosen.emit(self.video, value)
