"""The window on a video, offscreen: frames shown are the frames asked for, frame keys and slider, a new
instance placed joint by joint with skip, undo and finish, saving to .slp and the project."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("av")
from posesets import FRAMES, LABELLED, frame_number, video_poses
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.io.formats import load_poses, save_poses
from aegroup.io.poses import VISIBLE
from aegroup_gui.app import MainWindow, application
from aegroup_gui.model.session import open_session

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]
KEY, MOD = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier


def pixels(image: QtGui.QImage) -> np.ndarray:
    """(H, W, 3) of an RGB32 QImage (B, G, R order: the test video's frame code is grey)."""
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return data[:, : 4 * image.width()].reshape(image.height(), image.width(), 4)[..., :3]


def shown_frame(win: MainWindow) -> int:
    """The number the canvas's picture shows."""
    return frame_number(pixels(win.canvas.photo.image))


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    """The window on a .slp of the numbered test video (six labelled frames, two tracks)."""
    application()
    slp = save_poses(video_poses(tmp_path), tmp_path / "labels.slp")
    win = MainWindow(open_session(None, source=slp), autosave_seconds=3600, ask_save=lambda _: "discard")
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


def test_frames_shown_follow_keys_slider_and_labelled_navigation(qtbot, window: MainWindow) -> None:
    doc = window.doc
    assert window.frame_bar.isVisible() and not window.tags.isVisible()
    assert doc.image.frame_index == LABELLED[0] and shown_frame(window) == LABELLED[0]
    assert window.frame_bar.slider.maximum() == FRAMES - 1
    assert window.frame_bar.slider.marks.tolist() == LABELLED
    qtbot.keyClick(window, KEY.Key_Right)
    assert doc.image.frame_index == LABELLED[0] + 1 and shown_frame(window) == LABELLED[0] + 1
    qtbot.keyClick(window, KEY.Key_Right, MOD.AltModifier)
    qtbot.keyClick(window, KEY.Key_Right, MOD.AltModifier)  # 4 -> 5 -> 12
    assert doc.image.frame_index == 12 and shown_frame(window) == 12
    window.frame_bar.slider.setValue(20)  # an unlabelled frame
    assert doc.image.frame_index == 20 and doc.current == doc.scratch and shown_frame(window) == 20
    assert window.frame_bar.label.text().endswith(f"frame 20 / {FRAMES - 1}")
    qtbot.keyClick(window, KEY.Key_Left, MOD.AltModifier)
    assert doc.image.frame_index == 12 and doc.scratch is None
    for expected in range(11, 5, -1):  # stepping back: frames decoded ahead in one pass, each right
        qtbot.keyClick(window, KEY.Key_Left)
        QtWidgets.QApplication.processEvents()
        assert shown_frame(window) == expected
    window.go_to(len(LABELLED) - 1)
    assert window.frame_bar.slider.value() == LABELLED[-1]


def test_new_instance_joint_by_joint_with_skip_undo_and_finish(qtbot, window: MainWindow, tmp_path) -> None:
    doc, canvas = window.doc, window.canvas
    window.frame_bar.slider.setValue(30)
    start_count = window.stack.count()
    qtbot.keyClick(window, KEY.Key_I, MOD.ControlModifier)
    assert doc.placing is not None and canvas.prompt.isVisible() and "'snout'" in canvas.prompt.text()
    qtbot.mouseClick(canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=canvas.widget_pos(20.0, 30.0))
    ann = doc.image.annotations
    assert (
        ann.num_instances == 1
        and abs(ann.keypoints[0, 0, 0] - 20.0) < 1
        and abs(ann.keypoints[0, 0, 1] - 30) < 1
    )
    assert doc.scratch is None and window.frame_bar.slider.marks.tolist() == sorted([*LABELLED, 30])
    qtbot.keyClick(window, KEY.Key_Space)  # neck: skipped
    assert "'earL'" in canvas.prompt.text()
    window.editor.empty_clicked(40.25, 10.5, MOD.NoModifier)  # earL
    window.editor.empty_clicked(41.0, 11.0, MOD.NoModifier)  # earR, misplaced...
    qtbot.keyClick(window, KEY.Key_Z, MOD.ControlModifier)  # ...taken back: earR is asked for again
    assert "'earR'" in canvas.prompt.text() and not doc.image.annotations.present()[0, 3]
    window.editor.empty_clicked(44.5, 12.75, MOD.NoModifier)
    assert window.stack.count() == start_count + 3  # one step per placed joint while placing
    qtbot.keyClick(window, KEY.Key_Return)  # finish: the instance keeps what was placed
    assert doc.placing is None and not canvas.prompt.isVisible()
    assert window.stack.count() == start_count + 1  # ... as one undo step
    ann = doc.image.annotations
    assert np.flatnonzero(ann.present()[0]).tolist() == [0, 2, 3]
    assert ann.keypoints[0, 2].tolist() == [40.25, 10.5, VISIBLE] and ann.keypoints[0, 3].tolist() == [
        44.5,
        12.75,
        2,
    ]
    placed = ann
    window.undo()
    assert doc.image.annotations.num_instances == 0 and doc.image.frame_index == 30
    window.redo()
    assert doc.image.annotations.same_as(placed)
    # A second instance, cancelled with Esc (redo brings it back); a new instance on another frame.
    qtbot.keyClick(window, KEY.Key_I, MOD.ControlModifier)
    window.editor.empty_clicked(5.0, 5.0, MOD.NoModifier)
    qtbot.keyClick(window, KEY.Key_Escape)
    assert doc.placing is None and doc.image.annotations.same_as(placed)
    window.redo()
    assert doc.image.annotations.num_instances == 2
    window.undo()
    # Navigating away finishes the instance being placed.
    qtbot.keyClick(window, KEY.Key_I, MOD.ControlModifier)
    window.editor.empty_clicked(6.0, 7.0, MOD.NoModifier)
    qtbot.keyClick(window, KEY.Key_Right)
    assert doc.placing is None and doc.image.frame_index == 31
    qtbot.keyClick(window, KEY.Key_Left)
    assert doc.image.annotations.num_instances == 2
    shot = tmp_path / "placing.png"
    qtbot.keyClick(window, KEY.Key_I, MOD.ControlModifier)
    window.editor.empty_clicked(30.0, 30.0, MOD.NoModifier)
    assert window.grab().save(str(shot))  # looked at during development: the prompt over the frame
    qtbot.keyClick(window, KEY.Key_Return)
    # Saved back to .slp: a person's instances, exact coordinates, tracks kept.
    out = window.export_slp_to(tmp_path / "out.slp")
    back = {f.frame_index: f for f in load_poses(out).frames}
    assert sorted(back) == sorted([*LABELLED, 30])
    assert back[30].user.tolist() == [True, True, True] and back[30].track.tolist() == [-1, -1, -1]
    assert back[30].keypoints[0, 2].tolist() == [40.25, 10.5, VISIBLE]
    assert all(back[f].track.tolist() == [0, 1] for f in LABELLED)
    window.save()
    reopened = open_session(None, project=window.project_path).doc
    assert reopened.same_state(doc.snapshot()[: len(reopened.images)])
    assert reopened.images[reopened.frame_image(0, 30)].annotations.num_instances == 3
