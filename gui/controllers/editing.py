"""Turns what the person does in the views into selection changes and undoable commands."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui

from aegroup_gui.controllers.qt_commands import QtCommand
from aegroup_gui.model import actions
from aegroup_gui.model.document import Document, Key

_ADDITIVE = QtCore.Qt.KeyboardModifier.ShiftModifier | QtCore.Qt.KeyboardModifier.ControlModifier


def _additive(modifiers: object) -> bool:
    return bool(QtCore.Qt.KeyboardModifier(modifiers) & _ADDITIVE)


class EditController(QtCore.QObject):
    """Selection, add-joint mode and every edit intent; refusals are reported through `message`."""

    message = QtCore.Signal(str)

    def __init__(self, doc: Document, stack: QtGui.QUndoStack) -> None:
        super().__init__()
        self.doc = doc
        self.stack = stack
        self.adding: tuple[int, int] | None = None  # (instance id, joint) waiting for a click

    def run(self, produce: Callable[[], actions.Outcome]) -> bool:
        """Build a command with `produce` and push it; a refusal becomes a status message."""
        try:
            outcome = produce()
        except actions.Refused as why:
            self.message.emit(str(why))
            return False
        self.stack.push(QtCommand(self.doc, outcome.command))
        if outcome.select is not None:
            self.doc.set_selection(outcome.select)
        return True

    # ---- selection ---------------------------------------------------------------------------------
    def keypoint_clicked(self, key: Key, modifiers: object) -> None:
        """Select a keypoint; Shift or Ctrl toggles it in the selection."""
        if _additive(modifiers):
            self.doc.set_selection(self.doc.selection ^ {key})
        else:
            self.doc.set_selection({key})

    def empty_clicked(self, x: float, y: float, modifiers: object) -> None:
        """Place a joint in add mode; otherwise clear the selection."""
        if self.adding is not None:
            self.place_joint(x, y)
        elif not _additive(modifiers):
            self.doc.set_selection(())

    def rect_selected(self, keys: list[Key], modifiers: object) -> None:
        """Select what a rubber band covered (added to the selection with Shift/Ctrl)."""
        self.doc.set_selection(set(keys) | (self.doc.selection if _additive(modifiers) else set()))

    def instance_clicked(self, instance_id: int, modifiers: object) -> None:
        """Select every joint of an instance."""
        ann = self.doc.image.annotations
        keys = {key for key in ann.present_keys() if key[0] == instance_id}
        self.doc.set_selection(keys | (self.doc.selection if _additive(modifiers) else set()))

    def select_instance_number(self, number: int) -> None:
        """Select the instance at 1-based panel position `number`."""
        ann = self.doc.image.annotations
        if 1 <= number <= ann.num_instances:
            self.instance_clicked(int(ann.ids[number - 1]), QtCore.Qt.KeyboardModifier.NoModifier)

    def hovered(self, key: Key | None) -> None:
        """Mark the keypoint under the pointer in every view."""
        self.doc.set_hover(key)

    # ---- edits ------------------------------------------------------------------------------------
    def keypoint_dragged(self, key: Key, x: float, y: float, drag_id: int) -> None:
        """Move a keypoint; steps of one drag merge into one undo step."""
        if key not in self.doc.selection:
            self.doc.set_selection({key})
        self.run(lambda: actions.move(self.doc, key, (x, y), drag_id))

    def start_adding(self) -> None:
        """Wait for a click that places the next missing joint of the selected instance."""
        owners = self.doc.selected_instances()
        if len(owners) != 1:
            self.message.emit("select one instance (click one of its joints) to add its missing joints")
            return
        joint = actions.next_missing_joint(self.doc, owners[0])
        if joint is None:
            self.message.emit(f"instance {owners[0]} has every joint")
            return
        self.adding = (owners[0], joint)
        name = self.doc.schema.joints[joint]
        self.message.emit(f"click to place '{name}' of instance {owners[0]} (Esc: stop)")

    def place_joint(self, x: float, y: float) -> None:
        """Place the awaited joint at (x, y), then wait for the next missing one."""
        if self.adding is None:
            return
        inst, joint = self.adding
        self.adding = None
        if self.run(lambda: actions.add_joint(self.doc, inst, joint, (x, y))):
            self.start_adding()

    def cancel(self) -> None:
        """Leave add mode, or clear the selection."""
        if self.adding is not None:
            self.adding = None
            self.message.emit("stopped adding joints")
        else:
            self.doc.set_selection(())

    def reassign(self, number: int) -> None:
        """Give the selection to instance `number` (1-based panel position), or a new one for 0."""
        self.run(lambda: actions.reassign(self.doc, None if number == 0 else number - 1))
