"""Turns what the person does in the views into selection changes and undoable commands."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui

from aegroup_gui.controllers.qt_commands import QtCommand
from aegroup_gui.model import actions, placing
from aegroup_gui.model.commands import EditAnnotations
from aegroup_gui.model.document import Annotations, Document, Key

_ADDITIVE = QtCore.Qt.KeyboardModifier.ShiftModifier | QtCore.Qt.KeyboardModifier.ControlModifier


def _additive(modifiers: object) -> bool:
    return bool(QtCore.Qt.KeyboardModifier(modifiers) & _ADDITIVE)


class EditController(QtCore.QObject):
    """Selection, add-joint and new-instance modes and every edit intent; refusals are reported through
    `message`.

    While a new instance is placed joint by joint, each placed joint is its own undo step (undo takes the
    last one back and asks for it again); finishing folds every step since placing began into one
    "New instance" step, and Esc undoes that step (redo brings the instance back).
    """

    message = QtCore.Signal(str)

    def __init__(self, doc: Document, stack: QtGui.QUndoStack) -> None:
        super().__init__()
        self.doc = doc
        self.stack = stack
        self.adding: tuple[int, int] | None = None  # (instance id, joint) waiting for a click
        self._base = 0  # undo stack index when placing began
        self._before: Annotations | None = None  # the placing image's annotations then
        self._collapsing = False
        stack.indexChanged.connect(self._stack_moved)

    def run(self, produce: Callable[[], actions.Outcome]) -> bool:
        """Build a command with `produce` and push it; a refusal becomes a status message. An edit of
        another kind than the placing image's own ends placing a new instance first."""
        try:
            outcome = produce()
        except actions.Refused as why:
            self.message.emit(str(why))
            return False
        state = self.doc.placing
        command = outcome.command
        if state is not None and not (isinstance(command, EditAnnotations) and command.image == state.image):
            self.finish_placing()
        self.stack.push(QtCommand(self.doc, command))
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
        """Place the next joint of a new instance or in add mode; otherwise clear the selection."""
        if self.doc.placing is not None:
            self.place_next(x, y)
        elif self.adding is not None:
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

    # ---- a new instance, joint by joint ---------------------------------------------------------------
    def start_placing(self) -> None:
        """Begin a new instance on the current image: each click places its next joint."""
        if self.doc.placing is not None:
            return
        self.adding = None
        self._base = self.stack.index()
        self._before = self.doc.image.annotations
        self.doc.set_selection(())
        self.doc.set_placing(placing.start(self.doc))
        self._prompt()

    def place_next(self, x: float, y: float) -> None:
        """Place the awaited joint of the new instance at (x, y); finish when none is left."""
        state = self.doc.placing
        command = placing.place(self.doc, state, (x, y)) if state is not None else None
        if state is None or command is None:
            return
        joint = state.next_joint(self.doc.images[state.image].annotations)
        self.stack.push(QtCommand(self.doc, command))
        self.doc.set_selection({(state.instance_id, joint)})
        self._after_step()

    def skip_joint(self) -> None:
        """Leave the awaited joint of the new instance absent and ask for the next one."""
        state = self.doc.placing
        if state is None:
            self.message.emit("skip works while placing a new instance (Ctrl+I)")
            return
        self.doc.set_placing(state.skip(self.doc.images[state.image].annotations))
        self._after_step()

    def _after_step(self) -> None:
        state = self.doc.placing
        if state is not None and state.next_joint(self.doc.images[state.image].annotations) is None:
            self.finish_placing()
        else:
            self._prompt()

    def _prompt(self) -> None:
        if self.doc.placing is not None:
            self.message.emit(placing.prompt(self.doc, self.doc.placing))

    def finish_placing(self) -> bool:
        """End placing: the new instance keeps the joints placed, as one undo step; False if not placing."""
        state = self.doc.placing
        if state is None:
            return False
        placed = self._collapse(state)
        self.doc.set_placing(None)
        self.message.emit(f"added instance {state.instance_id} with {placed} joint(s)" if placed else "")
        return True

    def cancel_placing(self) -> None:
        """End placing and take the new instance back (redo restores it)."""
        state = self.doc.placing
        if state is None:
            return
        placed = self._collapse(state)
        self.doc.set_placing(None)
        if placed:
            self.stack.undo()
        self.message.emit("new instance cancelled")

    def _collapse(self, state: placing.Placing) -> int:
        """Fold the steps pushed since placing began into one; returns the joints the instance has."""
        steps = self.stack.index() - self._base
        after = self.doc.images[state.image].annotations
        if steps <= 0 or self._before is None:
            return 0
        self._collapsing = True
        try:
            for _ in range(steps):
                self.stack.undo()
        finally:
            self._collapsing = False
        count = len(state.placed(after))
        label = f"New instance {state.instance_id} ({count} joint(s))"
        self.stack.push(QtCommand(self.doc, EditAnnotations(label, state.image, self._before, after)))
        return count

    def _stack_moved(self, index: int) -> None:
        """Undo while placing takes back the last placed joint; undo past where placing began ends it."""
        if self._collapsing or self.doc.placing is None:
            return
        if index < self._base:
            self.doc.set_placing(None)
            self.message.emit("stopped placing the new instance (undone past its start)")
        else:
            self.doc.set_placing(self.doc.placing)  # the awaited joint follows the document
            self._prompt()

    def cancel(self) -> None:
        """Cancel a new instance, leave add mode, or clear the selection."""
        if self.doc.placing is not None:
            self.cancel_placing()
        elif self.adding is not None:
            self.adding = None
            self.message.emit("stopped adding joints")
        else:
            self.doc.set_selection(())

    def reassign(self, number: int) -> None:
        """Give the selection to instance `number` (1-based panel position), or a new one for 0."""
        self.run(lambda: actions.reassign(self.doc, None if number == 0 else number - 1))
