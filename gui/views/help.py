"""The Help dialog: every shortcut, the mouse, and what the marker shapes mean."""

from __future__ import annotations

import html

from PySide6 import QtWidgets

from aegroup_gui.shortcuts import MOUSE_HELP, SHORTCUTS
from aegroup_gui.views.style import LEGEND


def help_html() -> str:
    """The dialog's contents as HTML."""
    rows = []
    menu = ""
    for s in SHORTCUTS:
        if s.menu != menu:
            menu = s.menu
            rows.append(f"<tr><th colspan=2 align=left><br>{menu}</th></tr>")
        rows.append(
            f"<tr><td><b>{html.escape(s.shown_keys)}</b>&nbsp;&nbsp;</td><td>{html.escape(s.label)}</td></tr>"
        )
    rows.append("<tr><th colspan=2 align=left><br>Mouse</th></tr>")
    rows += [f"<tr><td><b>{a}</b>&nbsp;&nbsp;</td><td>{b}</td></tr>" for a, b in MOUSE_HELP]
    return (
        "<h3>aegroup label: keyboard shortcuts</h3><table>"
        + "".join(rows)
        + f"</table><h4>Markers</h4><p>{html.escape(LEGEND)}</p>"
    )


class HelpDialog(QtWidgets.QDialog):
    """A scrollable, closeable list of the shortcuts."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("aegroup label: help")
        self.resize(620, 720)
        self.text = QtWidgets.QTextBrowser()
        self.text.setHtml(help_html())
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
