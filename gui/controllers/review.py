"""Keeps the identity doubts of a document's tracks up to date: recomputed on a worker thread a moment
after labels or tracks change (about 0.5 s for 1,500 frames of two animals), never blocking the window."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from PySide6 import QtCore

from aegroup.errors import AegroupError
from aegroup_gui.model.document import Change, Document
from aegroup_gui.model.identity import Doubt, DoubtJob

DELAY_MS = 400
"""Quiet time after the last change before the doubts are recomputed (a drag makes many changes)."""

RELEVANT = ("annotations", "positions", "frames", "added", "tracks")
"""Changes that can change a track's doubt."""


class DoubtUpdater(QtCore.QObject):
    """Emits `updated(list[Doubt])` with the document's identity doubts, most doubtful first, whenever
    they may have changed; `failed(str)` when they cannot be computed; `stale()` as soon as a change
    makes the last ones out of date."""

    updated = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    stale = QtCore.Signal()
    _done = QtCore.Signal(object, int)  # result (list or error message), document revision

    def __init__(self, doc: Document, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.doubts: list[Doubt] = []
        self.revision = -1  # the document revision the doubts describe
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aegroup-doubt")
        self._running = False
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.start)
        self._done.connect(self._finished)
        doc.subscribe(self.on_change)

    def on_change(self, change: Change) -> None:
        """Recompute a moment after the last relevant change."""
        if change.kind in RELEVANT and self.doc.tracks:
            self._timer.start()
            self.stale.emit()

    def start(self) -> None:
        """Compute the doubts of the document as it is now, on the worker thread."""
        if not self.doc.tracks or self._running or self.revision == self.doc.revision:
            return
        self._running = True
        job = DoubtJob.of(self.doc)
        future = self._worker.submit(job.run)
        future.add_done_callback(lambda f: self._done.emit(self._outcome(f), job.revision))

    @staticmethod
    def _outcome(future: Future[list[Doubt]]) -> list[Doubt] | str:
        try:
            return future.result()
        except AegroupError as err:
            return str(err)

    def _finished(self, result: list[Doubt] | str, revision: int) -> None:
        self._running = False
        if isinstance(result, str):
            self.failed.emit(result)
            self.revision = revision
            return
        self.doubts, self.revision = result, revision
        self.updated.emit(result)
        if revision != self.doc.revision:  # changed meanwhile
            self._timer.start()

    def wait(self) -> None:
        """Bring the doubts up to date now: start what the timer would, finish it and deliver it (for
        tests and screenshots)."""
        while self._running or self._timer.isActive():
            if self._timer.isActive():
                self._timer.stop()
                self.start()
            QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def close(self) -> None:
        """Stop the worker thread."""
        self._timer.stop()
        self._worker.shutdown(wait=True, cancel_futures=True)
