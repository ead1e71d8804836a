"""The re-group box: choose a grouper and a tag threshold, then re-group the image from its candidates."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from aegroup.decode import DecodeConfig
from aegroup.decode.groupers import available_groupers
from aegroup_gui.model.document import Change, Document


class RegroupBox(QtWidgets.QGroupBox):
    """Grouper and threshold pickers; emits `requested(method, tag_threshold)`."""

    requested = QtCore.Signal(str, float)

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Re-group from candidates", parent)
        self.doc = doc
        self.method = QtWidgets.QComboBox()
        self.method.addItems(available_groupers())
        self.threshold = QtWidgets.QDoubleSpinBox()
        self.threshold.setRange(0.01, 100.0)
        self.threshold.setSingleStep(0.1)
        self.threshold.setValue(DecodeConfig().tag_threshold)
        self.threshold.setToolTip("A candidate joins an instance only when their tag distance is below this")
        self.button = QtWidgets.QPushButton("Re-group image (G)")
        self.button.clicked.connect(self.request)
        for widget in (self.method, self.threshold, self.button):
            widget.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        form = QtWidgets.QFormLayout(self)
        form.addRow("grouper", self.method)
        form.addRow("tag threshold", self.threshold)
        form.addRow(self.button)
        doc.subscribe(self._on_change)
        self._on_change(Change("current", doc.current))

    def request(self) -> None:
        """Ask for a re-group with the chosen settings."""
        self.requested.emit(self.method.currentText(), float(self.threshold.value()))

    def _on_change(self, change: Change) -> None:
        if change.kind == "current":
            has = bool(self.doc.image.candidates)
            self.button.setEnabled(has)
            self.button.setToolTip("" if has else "this image has no stored candidates")
