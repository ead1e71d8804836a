"""The main window: canvas, tag view, panels, menus and shortcuts, saving, autosave and recovery."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.decode import warm_up
from aegroup_gui.controllers.editing import EditController
from aegroup_gui.controllers.review import DoubtUpdater
from aegroup_gui.model import actions, files, navigation
from aegroup_gui.model.document import Change, Document
from aegroup_gui.model.session import Session
from aegroup_gui.shortcuts import SHORTCUTS
from aegroup_gui.views.canvas import CanvasView
from aegroup_gui.views.frames import FrameBar
from aegroup_gui.views.help import HelpDialog
from aegroup_gui.views.images import FrameKey, ImageCache
from aegroup_gui.views.panels import ImageList, InstancePanel
from aegroup_gui.views.regroup import RegroupBox
from aegroup_gui.views.review import ReviewQueue
from aegroup_gui.views.style import LEGEND
from aegroup_gui.views.tagview import TagView
from aegroup_gui.views.timeline import TrackTimeline

AUTOSAVE_SECONDS = 30
"""Default autosave period; the sidecar is also written on every image change."""

BACK_RUN = 8
"""Frames decoded ahead in one pass when stepping backwards through a video."""


class MainWindow(QtWidgets.QMainWindow):
    """The labelling window around one document and its project file."""

    def __init__(
        self,
        session: Session,
        autosave_seconds: float = AUTOSAVE_SECONDS,
        ask_save: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__()
        # Asked on close with unsaved edits: returns "save", "discard" or "cancel" (tests pass their own).
        self.ask_save = ask_save or self._ask_save_dialog
        self.doc: Document = session.doc
        self.project_path = session.project_path
        self.stack = QtGui.QUndoStack(self)
        self.editor = EditController(self.doc, self.stack)
        self.canvas = CanvasView(self.doc, ImageCache())
        self.instances = InstancePanel(self.doc)
        self.image_list = ImageList(self.doc)
        self.regroup_box = RegroupBox(self.doc)
        self.tags = TagView(self.doc)
        self.frame_bar = FrameBar(self.doc)
        self.doc.color_by_track = bool(self.doc.tracks)  # identities first when there are any
        self.timeline = TrackTimeline(self.doc)
        self.review = ReviewQueue(self.doc)
        self.doubts = DoubtUpdater(self.doc, self)
        self._direction = 1  # the way the person last moved through a video: the next frame is decoded ahead
        self._autosaved_revision = self.doc.revision
        self._saved_revision = self.doc.revision
        self._autosave_cache: files.DumpCache = {}  # each edited image's sidecar JSON, until it changes
        self._build_layout()
        self._connect()
        self._build_menus()
        self.autosave_timer = QtCore.QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(int(autosave_seconds * 1000))
        self.show_message(session.note)
        self._update_status()
        if self.doc.tracks:
            self.review.set_busy()
            self.doubts.start()

    # ---- construction ------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        top = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(top)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.canvas, 1)
        column.addWidget(self.frame_bar)
        column.addWidget(self.timeline)
        split.addWidget(top)
        split.addWidget(self.tags)
        self.tags.setVisible(self.doc.tag_dim > 0)  # labels without tags: the image gets the room
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.setCentralWidget(split)
        left = QtWidgets.QDockWidget("Images", self)
        left.setObjectName("images")
        left.setWidget(self.image_list)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, left)
        side = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(side)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.instances, 1)
        box.addWidget(self.review, 1)
        self.review.setVisible(bool(self.doc.tracks))
        box.addWidget(self.regroup_box)
        legend = QtWidgets.QLabel(LEGEND.replace("   ", "\n"))
        legend.setWordWrap(True)
        legend.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        box.addWidget(legend)
        right = QtWidgets.QDockWidget("Instances", self)
        right.setObjectName("instances")
        right.setWidget(side)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, right)
        for dock in (left, right):
            dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.resizeDocks([left, right], [340, 290], QtCore.Qt.Orientation.Horizontal)
        self.position = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.position)

    def _connect(self) -> None:
        ed = self.editor
        self.canvas.keypoint_clicked.connect(ed.keypoint_clicked)
        self.canvas.empty_clicked.connect(ed.empty_clicked)
        self.canvas.keypoint_dragged.connect(ed.keypoint_dragged)
        self.canvas.rect_selected.connect(ed.rect_selected)
        self.canvas.hovered.connect(ed.hovered)
        self.tags.keypoint_clicked.connect(ed.keypoint_clicked)
        self.tags.hovered.connect(ed.hovered)
        self.instances.instance_clicked.connect(ed.instance_clicked)
        self.image_list.image_chosen.connect(self.go_to)
        self.frame_bar.frame_chosen.connect(self.show_frame)
        self.timeline.frame_chosen.connect(self.show_frame)
        self.timeline.image_chosen.connect(self.go_to)
        self.review.chosen.connect(self.go_to_instance)
        self.doubts.updated.connect(self.timeline.set_doubts)
        self.doubts.updated.connect(self.review.set_doubts)
        self.doubts.stale.connect(self.review.set_busy)
        self.doubts.failed.connect(self.show_message)
        self.regroup_box.requested.connect(lambda m, t: ed.run(lambda: actions.regroup(self.doc, m, t)))
        ed.message.connect(self.show_message)
        self.stack.indexChanged.connect(self._on_stack_index)
        self.doc.subscribe(self._on_change)

    def _build_menus(self) -> None:
        menus: dict[str, QtWidgets.QMenu] = {}
        for s in SHORTCUTS:
            menu = menus.get(s.menu) or menus.setdefault(s.menu, self.menuBar().addMenu(s.menu))
            if s.numbered:  # one action per number, the first one in the menu
                for n, key in enumerate(s.keys, start=1):
                    self._add_action(menu if n == 1 else None, s.label, (key,), self._numbered(s.method, n))
                continue
            self._add_action(menu, s.label, s.keys, getattr(self, s.method))

    def _add_action(
        self, menu: QtWidgets.QMenu | None, label: str, keys: tuple[str, ...], slot: Callable[[], object]
    ) -> None:
        action = QtGui.QAction(label, self)
        action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
        action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        if menu is not None:
            menu.addAction(action)

    def _numbered(self, method: str, number: int) -> Callable[[], None]:
        return lambda: getattr(self, method)(number)

    # ---- status ------------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        """Show a message in the status bar for a while."""
        if text:
            self.statusBar().showMessage(text, 8000)

    def _on_change(self, change: Change) -> None:
        if change.kind == "current":
            self.autosave()
            # Once the views have painted: a decode running during the paint would compete for the GIL.
            QtCore.QTimer.singleShot(0, self._prefetch_neighbours)
        if change.kind in ("current", "annotations", "review", "frames"):
            self._update_status()
        if change.kind == "tracks":
            self.review.setVisible(bool(self.doc.tracks))

    def _prefetch_neighbours(self) -> None:
        """Decode the likely next pictures in the background: in a video, the next frame (or, stepping
        backwards, the frames before this one in one pass); in a list of images, the next and previous
        images of the list."""
        doc, cache = self.doc, self.canvas.images
        record = doc.image
        if record.video is not None:
            ref, here = doc.videos[record.video], int(record.frame_index or 0)
            if self._direction < 0:
                cache.prefetch_run([FrameKey(ref, f) for f in range(max(here - BACK_RUN, 0), here)])
            elif here + 1 < (ref.frames or 0):
                cache.prefetch([FrameKey(ref, here + 1)])
            return
        order = self.image_list.visible_order()
        if doc.current in order:
            pos = order.index(doc.current)
            cache.prefetch([self.canvas.key(i) for i in (order[(pos + 1) % len(order)], order[pos - 1])])

    def _update_status(self) -> None:
        doc = self.doc
        kept = doc.kept()
        reviewed = sum(doc.images[i].reviewed for i in kept)
        missing = "  ·  image file missing" if self.canvas.image_missing else ""
        where = "unlabelled frame" if doc.current == doc.scratch else f"image {kept.index(doc.current) + 1}"
        self.position.setText(
            f"{where}/{len(kept)}  ·  {doc.image_name(doc.current)}  ·  "
            f"{'reviewed' if doc.image.reviewed else 'not reviewed'}  ·  {reviewed} reviewed{missing}"
        )
        self._update_title()

    def _on_stack_index(self, _index: int) -> None:
        self._update_title()

    def _update_title(self) -> None:
        dirty = "*" if self.dirty else ""
        self.setWindowTitle(f"{dirty}{self.project_path.name} — aegroup label")

    @property
    def dirty(self) -> bool:
        """Whether there are edits not yet saved to the project file."""
        return self.doc.revision != self._saved_revision

    # ---- files -------------------------------------------------------------------------------------
    def save(self) -> Path:
        """Save the project (atomic) and drop the autosave sidecar."""
        path = files.save_document(self.doc, self.project_path)
        self._saved_revision = self._autosaved_revision = self.doc.revision
        self._autosave_cache.clear()  # nothing is changed since the save
        self._update_title()
        self.show_message(f"saved {path}")
        return path

    def autosave(self) -> Path | None:
        """Write changed images to the sidecar if anything changed since the last autosave."""
        if self.doc.revision == self._autosaved_revision:
            return None
        path = files.write_autosave(self.doc, self.project_path, self._autosave_cache)
        self._autosaved_revision = self.doc.revision
        return path

    def offer_recovery(self, ask: Callable[[str], bool]) -> int:
        """If an autosave is newer than the project, ask whether to restore it; returns images restored."""
        if not files.autosave_is_newer(self.project_path):
            return 0
        sidecar = files.autosave_path(self.project_path)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sidecar.stat().st_mtime))
        question = f"Unsaved edits from {when} were autosaved (the app did not close normally). Restore them?"
        if not ask(question):
            return 0
        restored = files.recover_autosave(self.doc, self.project_path)
        self._autosaved_revision = self.doc.revision
        self.show_message(f"restored {restored} image(s) from the autosave; save to keep them")
        return restored

    def export_coco_to(self, path: Path, reviewed_only: bool = False) -> Path:
        """Write the COCO training file."""
        out, n_images, n_instances = files.export_coco(self.doc, path, reviewed_only)
        self.show_message(f"exported {n_instances} instances in {n_images} images to {out}")
        return out

    def export_slp_to(self, path: Path) -> Path:
        """Write the labels as a SLEAP file: corrected and added instances as user instances."""
        out, frames, instances = files.export_poses(self.doc, path, to="slp")
        self.show_message(f"exported {instances} instances in {frames} frames to {out}")
        return out

    def export_png_to(self, path: Path) -> Path:
        """Save the canvas as a PNG."""
        if not self.canvas.render_png(path):
            raise OSError(f"{path}: could not write PNG")
        self.show_message(f"saved view to {path}")
        return path

    def _ask_path(self, title: str, suggestion: str, pattern: str) -> Path | None:
        start = str(self.project_path.with_name(suggestion))
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, title, start, pattern)
        return Path(name) if name else None

    def export_all_dialog(self) -> None:
        """File > Export COCO (all images)."""
        if path := self._ask_path("Export COCO keypoints", "train.json", "JSON (*.json)"):
            self.export_coco_to(path)

    def export_reviewed_dialog(self) -> None:
        """File > Export COCO (reviewed images)."""
        if path := self._ask_path("Export reviewed images as COCO", "reviewed.json", "JSON (*.json)"):
            self.export_coco_to(path, reviewed_only=True)

    def export_slp_dialog(self) -> None:
        """File > Export SLEAP labels (never over the source without the file dialog's confirmation)."""
        stem = self.project_path.stem
        if path := self._ask_path("Export SLEAP labels", f"{stem}.corrected.slp", "SLEAP labels (*.slp)"):
            self.export_slp_to(path if path.suffix == ".slp" else path.with_suffix(".slp"))

    def export_png_dialog(self) -> None:
        """File > Export view as PNG."""
        if path := self._ask_path("Export view", "view.png", "PNG (*.png)"):
            self.export_png_to(path)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Offer to save unsaved edits; the autosave is kept unless the person discards them."""
        if self.dirty:
            choice = self.ask_save(f"Save your edits to {self.project_path.name}?")
            if choice == "cancel":
                event.ignore()
                return
            if choice == "save":
                self.save()
            else:
                files.autosave_path(self.project_path).unlink(missing_ok=True)
        self.autosave_timer.stop()
        self.canvas.images.close()
        self.doubts.close()
        event.accept()

    def _ask_save_dialog(self, question: str) -> str:
        buttons = QtWidgets.QMessageBox.StandardButton
        choice = QtWidgets.QMessageBox.question(
            self, "Unsaved edits", question, buttons.Save | buttons.Discard | buttons.Cancel
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(choice, "cancel")

    # ---- navigation ---------------------------------------------------------------------------------
    def _leave(self) -> None:
        """Before showing another image: finish a new instance, stop adding joints."""
        self.editor.finish_placing()
        self.editor.adding = None

    def _moved(self, before: tuple[int | None, int | None]) -> None:
        """Remember which way the person moved through a video (what to decode ahead)."""
        record = self.doc.image
        if record.video is not None and record.video == before[0] and before[1] is not None:
            self._direction = -1 if (record.frame_index or 0) < before[1] else 1

    def go_to(self, index: int) -> None:
        """Show image `index` (document order)."""
        self._leave()
        before = (self.doc.image.video, self.doc.image.frame_index)
        self.doc.set_current(index)
        self._moved(before)

    def go_to_instance(self, index: int, instance: int) -> None:
        """Show image `index` with one instance selected (from the identity review queue)."""
        self.go_to(index)
        self.editor.instance_clicked(instance, QtCore.Qt.KeyboardModifier.NoModifier)

    def show_frame(self, video: int, frame: int) -> None:
        """Show a frame of a video, labelled or not."""
        self._leave()
        before = (self.doc.image.video, self.doc.image.frame_index)
        self.doc.show_frame(video, frame)
        self._moved(before)

    def _navigate(self, move: Callable[[], int | None], nothing: str) -> None:
        self._leave()
        before = (self.doc.image.video, self.doc.image.frame_index)
        if move() is None:
            self.show_message(nothing)
        self._moved(before)

    def next_frame(self) -> None:
        """The next frame of the video (or the next image)."""
        self._navigate(lambda: navigation.step_frame(self.doc, 1), "last frame")

    def previous_frame(self) -> None:
        """The previous frame of the video (or the previous image)."""
        self._navigate(lambda: navigation.step_frame(self.doc, -1), "first frame")

    def next_labelled(self) -> None:
        """The next frame holding instances."""
        self._navigate(lambda: navigation.step_labelled(self.doc, 1), "no labelled frame after this one")

    def previous_labelled(self) -> None:
        """The previous frame holding instances."""
        self._navigate(lambda: navigation.step_labelled(self.doc, -1), "no labelled frame before this one")

    def go_to_frame(self, frame: int) -> None:
        """Show frame number `frame` of the current video (image number, 0-based, for image files)."""
        self._navigate(lambda: navigation.go_to_frame(self.doc, frame), "")

    def go_to_frame_dialog(self) -> None:
        """Go > Go to frame: ask for a frame number."""
        record = self.doc.image
        last = (self.doc.videos[record.video].frames or 1) - 1 if record.video is not None else 0
        if record.video is None:
            last = len([i for i in self.doc.kept() if self.doc.images[i].video is None]) - 1
        now = int(record.frame_index or 0) if record.video is not None else 0
        frame, ok = QtWidgets.QInputDialog.getInt(self, "Go to frame", f"frame (0…{last})", now, 0, last)
        if ok:
            self.go_to_frame(frame)

    def _step(self, step: int, only_unreviewed: bool = False) -> bool:
        order = self.image_list.visible_order()
        if self.doc.current not in order:  # an unlabelled video frame: the labelled ones around it
            self._navigate(lambda: navigation.step_labelled(self.doc, step), "no labelled frame that way")
            return True
        pos = order.index(self.doc.current)
        for offset in range(1, len(order)):
            candidate = order[(pos + step * offset) % len(order)]
            if not only_unreviewed or not self.doc.images[candidate].reviewed:
                self.go_to(candidate)
                return True
        return False

    def next_image(self) -> None:
        """Next image in the list's order."""
        self._step(1)

    def previous_image(self) -> None:
        """Previous image in the list's order."""
        self._step(-1)

    def next_unreviewed(self) -> None:
        """Next image not yet reviewed."""
        if not self._step(1, only_unreviewed=True):
            self.show_message("every image is reviewed")

    def sort_by_doubt(self) -> None:
        """Sort the image list most doubtful first."""
        self.image_list.sort_by_doubt()

    def fit(self) -> None:
        """Fit the image in the canvas."""
        self.canvas.fit()

    def show_help(self) -> None:
        """Open the shortcuts dialog."""
        HelpDialog(self).exec()

    # ---- edits (thin: the controller and actions do the work) ---------------------------------------
    def undo(self) -> None:
        """Undo the last edit (while placing a new instance: its last placed joint)."""
        self.stack.undo()

    def redo(self) -> None:
        """Redo the last undone edit."""
        self.stack.redo()

    def _run(self, produce: Callable[[], actions.Outcome]) -> bool:
        return self.editor.run(produce)

    def reassign(self, number: int) -> None:
        """Give the selection to instance `number` (1-based panel position)."""
        self.editor.reassign(number)

    def swap_identities(self) -> None:
        """Swap the tracks of two instances in this frame and every later one."""
        self._run(lambda: actions.swap_identities(self.doc))

    def assign_track(self, number: int) -> None:
        """Put the selected instance on track `number` from this frame on."""
        self._run(lambda: actions.assign_track(self.doc, number))

    def new_track(self) -> None:
        """Put the selected instance on a new track from this frame on."""
        self._run(lambda: actions.new_track(self.doc))

    def next_doubtful(self) -> None:
        """Go to the next frame of the identity review queue."""
        if not self.doc.tracks:
            self.show_message("no tracks: identities are reviewed on tracked files (aegroup track)")
        elif not self.review.go_next():
            self.show_message("end of the identity review queue")

    def toggle_track_colors(self) -> None:
        """Colour instances by track, or by instance."""
        self.doc.set_color_by_track(not self.doc.color_by_track)
        self.show_message("colour by track" if self.doc.color_by_track else "colour by instance")

    def split(self) -> None:
        """Move the selection into a new instance."""
        self.editor.reassign(0)

    def cycle_visibility(self) -> None:
        """Visible -> occluded -> absent."""
        self._run(lambda: actions.cycle_visibility(self.doc))

    def delete_keypoints(self) -> None:
        """Delete the selected keypoints."""
        self._run(lambda: actions.delete_keypoints(self.doc))

    def start_adding(self) -> None:
        """Click to place the selected instance's missing joints."""
        self.editor.start_adding()

    def start_placing(self) -> None:
        """Label a new instance from scratch: each click places the next joint."""
        self.editor.start_placing()

    def skip_joint(self) -> None:
        """Leave the joint the new instance awaits absent."""
        self.editor.skip_joint()

    def swap_types(self) -> None:
        """Swap the selected joint types between two instances."""
        self._run(lambda: actions.swap_types(self.doc))

    def swap_left(self) -> None:
        """Swap the left sides of two instances."""
        self._run(lambda: actions.swap_side(self.doc, "left"))

    def swap_right(self) -> None:
        """Swap the right sides of two instances."""
        self._run(lambda: actions.swap_side(self.doc, "right"))

    def merge(self) -> None:
        """Merge two instances."""
        self._run(lambda: actions.merge(self.doc))

    def delete_instances(self) -> None:
        """Delete the selected instances."""
        self._run(lambda: actions.delete_instances(self.doc))

    def accept_instances(self) -> None:
        """Finish the new instance being placed, or mark the selected instances as checked."""
        if not self.editor.finish_placing():
            self._run(lambda: actions.accept_instances(self.doc))

    def accept_image(self) -> None:
        """Accept the image, then go to the next unreviewed one."""
        if self._run(lambda: actions.accept_image(self.doc)):
            self.next_unreviewed()

    def toggle_reviewed(self) -> None:
        """Flip the image's review flag."""
        self._run(lambda: actions.toggle_reviewed(self.doc))

    def regroup(self) -> None:
        """Re-group with the settings in the re-group box."""
        self.regroup_box.request()

    def select_all(self) -> None:
        """Select every keypoint of the image."""
        self.doc.set_selection(self.doc.image.annotations.present_keys())

    def select_next_instance(self) -> None:
        """Select the instance after the selected one (panel order)."""
        ann = self.doc.image.annotations
        owners = self.doc.selected_instances()
        row = ann.row(owners[-1]) + 1 if owners else 0
        self.editor.select_instance_number(row % max(ann.num_instances, 1) + 1)

    def cancel(self) -> None:
        """Cancel the new instance, stop adding, or clear the selection."""
        self.editor.cancel()


def ask_dialog(parent: QtWidgets.QWidget) -> Callable[[str], bool]:
    """A yes/no question box."""

    def ask(question: str) -> bool:
        buttons = QtWidgets.QMessageBox.StandardButton
        choice = buttons.Yes | buttons.No
        return QtWidgets.QMessageBox.question(parent, "Recover autosave", question, choice) == buttons.Yes

    return ask


def application() -> QtWidgets.QApplication:
    """The QApplication (created once), with pyqtgraph's options set."""
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("aegroup label")
        app.setStyle("Fusion")
    return app


def screenshot(window: MainWindow, path: Path, size: tuple[int, int] = (1600, 1000)) -> Path:
    """Render the window offscreen at `size` and save it as PNG."""
    window.resize(*size)
    window.show()
    app = QtWidgets.QApplication.instance()
    window.doubts.wait()  # the identity review queue and timeline marks, when there are tracks
    for _ in range(5):
        app.processEvents()
    window.fit()
    app.processEvents()
    if not window.grab().save(str(path)):
        raise OSError(f"{path}: could not write the screenshot")
    return path


def launch(
    session: Session,
    screenshot_path: Path | None = None,
    autosave_seconds: float = 30,
    frame: int | None = None,
) -> int:
    """Open the window on a session (at frame `frame` of the first image's video, or image `frame`);
    with `screenshot_path`, save a screenshot and exit instead."""
    app = application()
    window = MainWindow(session, autosave_seconds)
    if frame is not None:
        window.go_to_frame(frame)
    if screenshot_path is not None:
        screenshot(window, screenshot_path)
        window.close()
        return 0
    window.resize(1500, 950)
    window.show()
    # Re-grouping uses compiled kernels that take ~1 s to load (~10 s to compile after an install): get
    # them ready in the background, so the first re-group does not freeze the window.
    threading.Thread(target=warm_up, args=(session.doc.schema,), name="decode-warm-up", daemon=True).start()
    window.offer_recovery(ask_dialog(window))
    return app.exec()
