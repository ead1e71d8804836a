"""Qt controllers: turn view intent into the model's undoable commands on a Qt undo stack."""
