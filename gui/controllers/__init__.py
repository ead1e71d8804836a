"""Controllers: turn view intent into undoable commands, navigation and file actions."""
