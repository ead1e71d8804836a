"""Side panels: the instances of the current image, and the image list with review status and doubt."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.io.provenance import InstanceStatus
from aegroup_gui.model.document import Change, Document
from aegroup_gui.model.uncertainty import image_uncertainty
from aegroup_gui.views.style import row_colors

_SELECTED = QtGui.QBrush(QtGui.QColor("#3d5a80"))
"""The highlight of selected instances and of the current image."""


class InstancePanel(QtWidgets.QTableWidget):
    """One row per instance: number (the reassign key), colour, status, score, joints present, track."""

    instance_clicked = QtCore.Signal(int, object)  # instance id, modifiers

    HEADERS = ("#", "status", "score", "joints", "track")

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.doc = doc
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.verticalHeader().hide()
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)  # single-line cells paint without a text layout pass
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Press the number key of an instance to give it the selected keypoints (0: new)")
        self.cellClicked.connect(self._clicked)
        self._shown: dict[int, tuple[tuple[str, ...], str, bool]] = {}  # what each row shows now
        doc.subscribe(self.on_change)
        self.refresh()

    def on_change(self, change: Change) -> None:
        """Refresh on anything that changes what the rows say or highlight."""
        if change.kind in ("hover", "positions", "mode"):
            return
        if change.kind in ("current", "frames", "tracks", "style") or change.image == self.doc.current:
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the current image (the track column only when the document has tracks)."""
        self.setColumnHidden(4, not self.doc.tracks)
        ann = self.doc.image.annotations
        k = ann.keypoints.shape[1]
        selected = set(self.doc.selected_instances())
        counts = ann.present().sum(axis=1)
        colors = row_colors(ann.ids, ann.track, self.doc.color_by_track)
        tracks = self.doc.tracks
        self.setRowCount(ann.num_instances)
        for row in [r for r in self._shown if r >= ann.num_instances]:
            del self._shown[row]  # its items went with the row
        for row in range(ann.num_instances):
            inst = int(ann.ids[row])
            score = ann.instance_score[row]
            cells = (
                f"{row + 1}",
                InstanceStatus(ann.status[row]).name.lower(),
                "–" if np.isnan(score) else f"{score:.2f}",
                f"{counts[row]}/{k}",
                tracks[ann.track[row]] if 0 <= ann.track[row] < len(tracks) else "–",
            )
            shown = (cells, colors[row], inst in selected)
            if self._shown.get(row) != shown:  # only what changed is rewritten (each call repaints a cell)
                self._show_row(row, *shown)
                self._shown[row] = shown

    def _show_row(self, row: int, cells: tuple[str, ...], color: str, selected: bool) -> None:
        old_cells, old_color, old_selected = self._shown.get(row, (("",) * len(cells), "", None))
        for col, text in enumerate(cells):
            item = self.item(row, col)
            if item is None:
                # Items are created once and then reused: replacing them on every refresh trips a
                # reference-counting bug in PySide6 6.12 (a fatal "deallocating None" after many calls).
                item = QtWidgets.QTableWidgetItem()
                self.setItem(row, col, item)
                if col == 0:
                    item.setForeground(QtGui.QColor("#000000"))
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            if text != old_cells[col]:
                item.setText(text)
            if col == 0 and color != old_color:
                item.setBackground(QtGui.QColor(color))
            elif col > 0 and selected != old_selected:
                item.setBackground(_SELECTED if selected else QtGui.QBrush())

    def _clicked(self, row: int, _col: int) -> None:
        inst = int(self.doc.image.annotations.ids[row])
        self.instance_clicked.emit(inst, QtWidgets.QApplication.keyboardModifiers())


_SORT_KEY = QtCore.Qt.ItemDataRole.UserRole
_IMAGE = QtCore.Qt.ItemDataRole.UserRole + 1  # the document index of a row (on its first cell)


class ImageList(QtWidgets.QTableView):
    """Sortable list of images or labelled video frames: number, name, instances, reviewed, doubt; picking
    a row shows that image. A video frame looked at but not labelled has no row until its first edit.

    The cells live in a QStandardItemModel (C++), updated only where the document changed: a Python
    model was asked for every visible cell and role on each repaint, and a switch that scrolls the list
    repaints all of it (about 13 ms per image switch, benchmarks/bench_gui.py).
    """

    image_chosen = QtCore.Signal(int)

    HEADERS = ("#", "file", "inst.", "reviewed", "doubt")
    DOUBT_TIP = "Largest tag doubt of a keypoint: above 0.5 it is closer to another instance's mean tag"

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.cells = QtGui.QStandardItemModel(0, len(self.HEADERS), self)
        self.cells.setHorizontalHeaderLabels(self.HEADERS)
        self.cells.horizontalHeaderItem(4).setToolTip(self.DOUBT_TIP)
        self.cells.setSortRole(_SORT_KEY)
        self._rows: dict[int, list[QtGui.QStandardItem]] = {}  # each listed image's cells, by index
        for index in doc.kept():
            self.cells.appendRow(self._new_row(index))
        self._shown = doc.current
        self._highlight(doc.current, True)
        self._order: list[int] | None = None  # image indices in list order, until the next sort
        self.cells.layoutChanged.connect(self._forget_order)
        self.setModel(self.cells)
        self._set_up_view()
        self.clicked.connect(lambda index: self.image_chosen.emit(self.image_at(index.row())))
        doc.subscribe(self.on_change)

    def _new_row(self, index: int) -> list[QtGui.QStandardItem]:
        row = [QtGui.QStandardItem() for _ in self.HEADERS]
        for item in row:
            item.setEditable(False)
        row[0].setData(index, _IMAGE)
        self._rows[index] = row
        self._show(index)
        return row

    def _set_up_view(self) -> None:
        self.setSortingEnabled(True)
        self.sortByColumn(0, QtCore.Qt.SortOrder.AscendingOrder)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(20)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        header = self.horizontalHeader()
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.setWordWrap(False)  # single-line cells paint without a text layout pass (many rows per scroll)
        # Fixed widths: ResizeToContents would ask every row for its text on each change (slow at 1,000s).
        for col, width in ((0, 44), (2, 40), (3, 64), (4, 50)):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, width)

    def _show(self, index: int) -> None:
        """Write image `index`'s cells: text and sort key."""
        image = self.doc.images[index]
        doubt = image_uncertainty(image.annotations)
        count = image.annotations.num_instances
        name = self.doc.image_name(index)
        # Video frames sort by video, then frame number ("#9" before "#10").
        order = name if image.video is None else f"{image.video:06d} {image.frame_index:012d}"
        cells = (
            (str(index + 1), index),
            (name, order),
            (str(count), count),
            ("✓" if image.reviewed else "", int(image.reviewed)),
            ("–" if math.isnan(doubt) else f"{doubt:.2f}", -1.0 if math.isnan(doubt) else doubt),
        )
        for item, (text, key) in zip(self._rows[index], cells, strict=True):
            if item.text() != text:
                item.setText(text)
            item.setData(key, _SORT_KEY)

    def _highlight(self, index: int, on: bool) -> None:
        for item in self._rows.get(index, ()):
            item.setBackground(_SELECTED if on else QtGui.QBrush())

    def on_change(self, change: Change) -> None:
        """Rewrite an edited image's cells; add a frame labelled from scratch; move the highlight and
        scroll to the current image."""
        if change.kind == "added":
            self.cells.appendRow(self._new_row(change.image))
            self._highlight(change.image, change.image == self.doc.current)
            self._forget_order()
        elif change.kind in ("annotations", "review") and change.image in self._rows:
            self._show(change.image)
        elif change.kind == "frames":
            for index in self.doc.changed & self._rows.keys():
                self._show(index)
        elif change.kind == "current":
            self._highlight(self._shown, False)
            self._highlight(change.image, True)
            self._shown = change.image
            if change.image in self._rows:
                self.scrollTo(self._rows[change.image][0].index())

    def image_at(self, row: int) -> int:
        """The document index of the image shown in list row `row`."""
        return int(self.cells.item(row, 0).data(_IMAGE))

    def sort_by_doubt(self) -> None:
        """Most doubtful images first."""
        self.sortByColumn(4, QtCore.Qt.SortOrder.DescendingOrder)

    def visible_order(self) -> list[int]:
        """Image indices in the order the list shows them."""
        if self._order is None:
            self._order = [self.image_at(r) for r in range(self.cells.rowCount())]
        return self._order

    def _forget_order(self) -> None:
        self._order = None
