"""Side panels: the instances of the current image, and the image list with review status and doubt."""

from __future__ import annotations

import math

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.document import INSTANCE_STATUSES, Change, Document
from aegroup_gui.uncertainty import image_uncertainty
from aegroup_gui.views.style import instance_color


class InstancePanel(QtWidgets.QTableWidget):
    """One row per instance: number (the reassign key), colour, status, score, joints present."""

    instance_clicked = QtCore.Signal(int, object)  # instance id, modifiers

    HEADERS = ("#", "status", "score", "joints")

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
        self._shown: dict[int, tuple[tuple[str, ...], int, bool]] = {}  # what each row shows now
        doc.subscribe(self.on_change)
        self.refresh()

    def on_change(self, change: Change) -> None:
        """Refresh on anything that changes what the rows say or highlight."""
        if change.kind in ("hover", "positions"):
            return
        if change.kind == "current" or change.image == self.doc.current:
            self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the current image."""
        ann = self.doc.image.annotations
        k = ann.keypoints.shape[1]
        selected = set(self.doc.selected_instances())
        counts = ann.present().sum(axis=1)
        self.setRowCount(ann.num_instances)
        for row in [r for r in self._shown if r >= ann.num_instances]:
            del self._shown[row]  # its items went with the row
        for row in range(ann.num_instances):
            inst = int(ann.ids[row])
            score = ann.instance_score[row]
            cells = (
                f"{row + 1}",
                INSTANCE_STATUSES[ann.status[row]],
                "–" if np.isnan(score) else f"{score:.2f}",
                f"{counts[row]}/{k}",
            )
            shown = (cells, inst, inst in selected)
            if self._shown.get(row) != shown:  # unchanged rows cost nothing (most rows on a switch)
                self._show_row(row, *shown)
                self._shown[row] = shown

    def _show_row(self, row: int, cells: tuple[str, ...], inst: int, selected: bool) -> None:
        for col, text in enumerate(cells):
            item = self.item(row, col)
            if item is None:
                # Items are created once and then reused: replacing them on every refresh trips a
                # reference-counting bug in PySide6 6.12 (a fatal "deallocating None" after many calls).
                item = QtWidgets.QTableWidgetItem()
                self.setItem(row, col, item)
            if item.text() != text:
                item.setText(text)
            if col == 0:
                item.setBackground(QtGui.QColor(instance_color(inst)))
                item.setForeground(QtGui.QColor("#000000"))
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            else:
                item.setBackground(QtGui.QColor("#3d5a80") if selected else QtGui.QBrush())

    def _clicked(self, row: int, _col: int) -> None:
        inst = int(self.doc.image.annotations.ids[row])
        self.instance_clicked.emit(inst, QtWidgets.QApplication.keyboardModifiers())


_DISPLAY = QtCore.Qt.ItemDataRole.DisplayRole
_SORT_KEY = QtCore.Qt.ItemDataRole.UserRole
_BACKGROUND = QtCore.Qt.ItemDataRole.BackgroundRole
_SERVED_ROLES = frozenset({_DISPLAY, _SORT_KEY, _BACKGROUND, QtCore.Qt.ItemDataRole.ToolTipRole})


class ImageTableModel(QtCore.QAbstractTableModel):
    """The document's images: number, file, instances, reviewed, uncertainty (computed lazily, cached)."""

    HEADERS = ("#", "file", "inst.", "reviewed", "doubt")

    def __init__(self, doc: Document) -> None:
        super().__init__()
        self.doc = doc
        # Every image's doubt up front (about 0.3 ms each, once, while the window is built): computed
        # lazily, each jump to another part of the list paid ~13 ms for the newly shown rows.
        self._doubt = {row: image_uncertainty(im.annotations) for row, im in enumerate(doc.images)}
        self._shown = doc.current
        doc.subscribe(self.on_change)

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        """Number of images."""
        return 0 if parent.isValid() else len(self.doc.images)

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:
        """Number of columns."""
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        """Column titles."""
        if orientation == QtCore.Qt.Orientation.Horizontal and role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def doubt(self, row: int) -> float:
        """The uncertainty score of an image (cached until its annotations change)."""
        if row not in self._doubt:
            self._doubt[row] = image_uncertainty(self.doc.images[row].annotations)
        return self._doubt[row]

    def data(self, index: QtCore.QModelIndex, role=QtCore.Qt.ItemDataRole.DisplayRole):
        """Cell text, sort keys and highlighting (called per cell and role on every repaint: kept lean)."""
        if role not in _SERVED_ROLES:
            return None
        row, col = index.row(), index.column()
        image = self.doc.images[row]
        if role == _DISPLAY:
            if col == 4:
                doubt = self.doubt(row)
                return "–" if math.isnan(doubt) else f"{doubt:.2f}"
            if col == 1:
                return image.file_name
            if col == 2:
                return str(image.annotations.num_instances)
            return str(row + 1) if col == 0 else ("✓" if image.reviewed else "")
        if role == _SORT_KEY:
            if col == 4:
                doubt = self.doubt(row)
                return -1.0 if math.isnan(doubt) else doubt
            return (row, image.file_name, image.annotations.num_instances, int(image.reviewed))[col]
        if role == _BACKGROUND:
            return QtGui.QColor("#3d5a80") if row == self.doc.current else None
        if col == 4:  # tooltip
            return "Largest tag doubt of a keypoint: above 0.5 it is closer to another instance's mean tag"
        return None

    def on_change(self, change: Change) -> None:
        """Invalidate the doubt of an edited image and repaint its row (and the old/new current rows)."""
        if change.kind == "annotations":
            self._doubt.pop(change.image, None)
        if change.kind in ("annotations", "review"):
            self._repaint(change.image)
        elif change.kind == "current":
            self._repaint(self._shown)
            self._repaint(change.image)
            self._shown = change.image

    def _repaint(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))


class ImageList(QtWidgets.QTableView):
    """Sortable list of images; picking a row shows that image."""

    image_chosen = QtCore.Signal(int)

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.source = ImageTableModel(doc)
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(QtCore.Qt.ItemDataRole.UserRole)
        self.proxy.setDynamicSortFilter(False)  # rows must not jump while the person edits
        self.setModel(self.proxy)
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
        self.clicked.connect(lambda index: self.image_chosen.emit(self.proxy.mapToSource(index).row()))
        doc.subscribe(self._follow)

    def sort_by_doubt(self) -> None:
        """Most doubtful images first."""
        self.sortByColumn(4, QtCore.Qt.SortOrder.DescendingOrder)

    def visible_order(self) -> list[int]:
        """Image indices in the order the list shows them."""
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]

    def _follow(self, change: Change) -> None:
        if change.kind == "current":
            self.scrollTo(self.proxy.mapFromSource(self.source.index(change.image, 0)))
