"""The labeller's Qt-free model: document, edits and undoable commands, file conversion, sessions.

Nothing here imports Qt, pyqtgraph, torch or the network (an import-linter contract holds it), so every
module is testable without a display and the views render it through `Document.subscribe`.
"""
