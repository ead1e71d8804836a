"""The identity review queue: frames ranked by how close the tracker came to another identity there."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from aegroup_gui.model.document import Document
from aegroup_gui.model.identity import Doubt, frame_doubts

SHOWN = 500
"""Rows the queue lists (the most doubtful frames)."""


class ReviewQueue(QtWidgets.QWidget):
    """Most doubtful frames first: frame, track of the doubtful instance, doubt; a click goes there."""

    chosen = QtCore.Signal(int, int)  # image index, instance id

    HEADERS = ("frame", "track", "doubt")
    TIP = (
        "Tracking doubt (aegroup.track.track_doubt): 1 - (cost margin to the best other assignment) / gate; "
        "1 is a tie, or a link the tracker would refuse"
    )

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.summary = QtWidgets.QLabel("identity review:")
        self.summary.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.horizontalHeaderItem(2).setToolTip(self.TIP)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(lambda row, _col: self.go(row))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.queue: list[Doubt] = []
        self.position = -1  # the row last gone to

    def set_busy(self) -> None:
        """Say that the figures shown are out of date and being computed again."""
        text = self.summary.text()
        if not text.endswith("(updating…)"):
            self.summary.setText(f"{text} (updating…)")

    def set_doubts(self, doubts: list[Doubt]) -> None:
        """Show the frames ranked by their most doubtful instance."""
        self.queue = frame_doubts(doubts)
        doubtful = sum(d.doubt >= 0.5 for d in self.queue)
        self.summary.setText(
            f"identity review: {doubtful} frame(s) with doubt ≥ 0.5 among {len(self.queue)} tracked frames"
        )
        shown = self.queue[:SHOWN]
        self.table.setRowCount(len(shown))
        for row, d in enumerate(shown):
            for col, text in enumerate(self._cells(d)):
                item = self.table.item(row, col)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    self.table.setItem(row, col, item)
                item.setText(text)
        self.position = -1

    def _cells(self, d: Doubt) -> tuple[str, str, str]:
        if d.image >= len(self.doc.images):
            return "?", "?", f"{d.doubt:.2f}"
        record = self.doc.images[d.image]
        ann = record.annotations
        track = int(ann.track[ann.row(d.instance)]) if d.instance in ann.ids else -1
        name = self.doc.tracks[track] if 0 <= track < len(self.doc.tracks) else "–"
        frame = str(record.frame_index) if record.video is not None else str(record.file_name)
        return frame, name, f"{d.doubt:.2f}"

    def go(self, row: int) -> bool:
        """Go to the frame of queue row `row`; False when there is no such row."""
        if not 0 <= row < min(len(self.queue), SHOWN):
            return False
        self.position = row
        self.table.selectRow(row)
        d = self.queue[row]
        self.chosen.emit(d.image, d.instance)
        return True

    def go_next(self) -> bool:
        """Go to the next frame of the queue (the most doubtful one first)."""
        return self.go(self.position + 1)
