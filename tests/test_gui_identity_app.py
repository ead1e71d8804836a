"""Identity in the window, offscreen: swap-from-here and its undo by keys, assign and new track, the
timeline following edits, the review queue ranked by tracking doubt, colour by track."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
from posesets import walking_poses
from PySide6 import QtCore, QtGui

from aegroup_gui.app import MainWindow, application
from aegroup_gui.model.convert import document_from_poses
from aegroup_gui.model.session import Session
from aegroup_gui.views.style import track_color

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]
KEY, MOD = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    """The window on two tracked animals walking for 20 frames (the video is missing: grey frames)."""
    application()
    doc = document_from_poses(walking_poses(), tmp_path / "walk.slp")
    win = MainWindow(
        Session(doc, tmp_path / "walk.aeproj"), autosave_seconds=3600, ask_save=lambda _: "discard"
    )
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    win.doubts.wait()
    return win


def tracks(win: MainWindow) -> list[list[int]]:
    """Each frame's track per instance row."""
    return [im.annotations.track.tolist() for im in win.doc.images]


def cell(win: MainWindow, row: int, frame: int) -> tuple[int, ...]:
    """RGBA of the timeline at a track row and frame."""
    return tuple(int(v) for v in win.timeline.image.image[row, frame])


def rgba(color: str) -> tuple[int, ...]:
    """A colour as the timeline stores it."""
    return tuple(QtGui.QColor(color).getRgb())


def test_swap_from_here_by_key_and_its_undo(qtbot, window: MainWindow) -> None:
    doc = window.doc
    assert doc.color_by_track and window.timeline.isVisible() and window.review.isVisible()
    assert window.review.queue and window.review.queue[0].doubt < 0.5  # nothing doubtful yet
    before, count = doc.snapshot(), window.stack.count()
    window.go_to_frame(10)
    qtbot.keyClick(window, KEY.Key_T, MOD.ControlModifier)
    assert tracks(window) == [[0, 1]] * 10 + [[1, 0]] * 10
    assert window.stack.count() == count + 1 and doc.current == 10
    window.doubts.wait()
    QtCore.QCoreApplication.processEvents()
    assert window.review.queue[0].image == 10 and window.review.queue[0].doubt == pytest.approx(1.0)
    assert window.review.table.item(0, 0).text() == "10"
    assert len(window.timeline.marks.data) >= 2  # the two doubtful instances of frame 10 are marked
    window.go_to_frame(0)
    qtbot.keyClick(window, KEY.Key_D)  # the review queue's first frame, its doubtful instance selected
    assert doc.current == 10 and len(doc.selected_instances()) == 1
    qtbot.keyClick(window, KEY.Key_Z, MOD.ControlModifier)
    assert doc.same_state(before)
    window.doubts.wait()
    QtCore.QCoreApplication.processEvents()
    assert window.review.queue[0].doubt < 0.5


def test_assign_and_new_track_from_here_show_on_the_timeline(qtbot, window: MainWindow) -> None:
    doc = window.doc
    left, right = rgba(track_color(0)), rgba(track_color(1))
    assert cell(window, 0, 15) == left and cell(window, 1, 15) == right
    window.go_to_frame(12)
    upper = int(doc.image.annotations.ids[0])
    window.editor.instance_clicked(upper, MOD.NoModifier)
    qtbot.keyClick(window, KEY.Key_0, MOD.ControlModifier)  # upper animal: a new track from frame 12
    assert doc.tracks == ["left", "right", "track_2"]
    assert tracks(window) == [[0, 1]] * 12 + [[2, 1]] * 8
    QtCore.QCoreApplication.processEvents()
    assert window.timeline.image.image.shape[:2] == (3, 20)
    assert cell(window, 0, 11) == left and cell(window, 0, 12) != left  # "left" ends at frame 12 ...
    assert cell(window, 2, 12) == rgba(track_color(2)) and cell(window, 2, 11) != rgba(track_color(2))
    window.editor.instance_clicked(upper, MOD.NoModifier)
    qtbot.keyClick(window, KEY.Key_1, MOD.ControlModifier)  # ... back on left from here: one track again
    assert tracks(window) == [[0, 1]] * 20
    window.undo()
    window.undo()
    assert doc.tracks == ["left", "right"] and tracks(window) == [[0, 1]] * 20
    path = window.save()
    from aegroup_gui.model.files import open_project

    assert open_project(path).tracks == ["left", "right"]


def test_colour_by_track_or_by_instance(qtbot, window: MainWindow) -> None:
    doc = window.doc
    window.go_to_frame(3)
    doc.set_annotations(3, doc.image.annotations.evolve(track=[1, 0]))
    by_track = [c.name() for c in window.canvas.instances.colors]
    assert by_track == [track_color(1), track_color(0)]
    qtbot.keyClick(window, KEY.Key_C)
    assert not doc.color_by_track
    assert [c.name() for c in window.canvas.instances.colors] == [track_color(0), track_color(1)]
    assert np.array_equal(doc.image.annotations.track, [1, 0])


def test_clicking_the_timeline_goes_to_that_frame(qtbot, window: MainWindow) -> None:
    timeline = window.timeline
    scene = timeline.getPlotItem().vb.mapViewToScene(QtCore.QPointF(7, 1))
    qtbot.mouseClick(timeline.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=timeline.mapFromScene(scene))
    assert window.doc.image.frame_index == 7 and timeline.line.value() == 7


@pytest.mark.slow
def test_shared_fly_clip_swap_from_here_and_back_to_slp(qtbot, tmp_path: Path) -> None:
    """The real 1,500-frame two-fly clip: tracks shown, a swap over 800 frames and its undo, .slp out."""
    from conftest import real_data_root

    from aegroup.io.formats import load_poses
    from aegroup_gui.model.session import open_session

    clip = real_data_root() / "sleap" / "clip.slp"
    if not clip.is_file():
        pytest.skip(f"shared clip not found at {clip} (set AEGROUP_TEST_DATA to the shared data folder)")
    application()
    win = MainWindow(
        open_session(None, source=clip, project=tmp_path / "clip.aeproj"), ask_save=lambda _: "discard"
    )
    qtbot.addWidget(win)
    doc = win.doc
    assert len(doc.images) == 1500 and doc.tracks == ["female", "male"] and doc.videos[0].frames == 1500
    before = doc.snapshot()
    win.go_to_frame(700)
    win.swap_identities()
    assert all(
        im.annotations.track.tolist()
        == ([1 - t for t in ann.track.tolist()] if im.frame_index >= 700 else ann.track.tolist())
        for im, (ann, _) in zip(doc.images, before, strict=True)
    )
    win.undo()
    assert doc.same_state(before)
    out = load_poses(win.export_slp_to(tmp_path / "out.slp"))
    original = load_poses(clip)
    assert len(out.frames) == 1500 and out.num_instances == 3000 and out.tracks == ["female", "male"]
    for a, b in zip(original.frames, out.frames, strict=True):
        assert a.frame_index == b.frame_index and b.user.all() and a.track.tolist() == b.track.tolist()
        assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)
