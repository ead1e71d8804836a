"""QUndoCommand wrappers around the plain commands; consecutive steps of one drag merge into one."""

from __future__ import annotations

from PySide6 import QtGui

from aegroup_gui.model.commands import Command, EditAnnotations
from aegroup_gui.model.document import Document

MERGEABLE_ID = 1
"""QUndoCommand id shared by commands that may merge (Qt only calls mergeWith on equal ids)."""


class QtCommand(QtGui.QUndoCommand):
    """Runs a plain command on the document; shows the edited image first, so undo is never invisible."""

    def __init__(self, doc: Document, command: Command) -> None:
        super().__init__(command.label)
        self.doc = doc
        self.command = command

    def redo(self) -> None:
        """Apply (Qt calls this on push too)."""
        self.doc.set_current(self.command.image)
        self.command.apply(self.doc)

    def undo(self) -> None:
        """Revert."""
        self.doc.set_current(self.command.image)
        self.command.revert(self.doc)

    def id(self) -> int:
        """MERGEABLE_ID for drag steps, -1 (never merge) otherwise."""
        mergeable = isinstance(self.command, EditAnnotations) and self.command.merge_key is not None
        return MERGEABLE_ID if mergeable else -1

    def mergeWith(self, other: QtGui.QUndoCommand) -> bool:
        """Fold a later step of the same drag into this one."""
        if not isinstance(other, QtCommand) or not isinstance(other.command, EditAnnotations):
            return False
        return isinstance(self.command, EditAnnotations) and self.command.merge(other.command)
