"""Qt views: render the document and emit intent signals; they never edit the document."""
