"""The real widgets, offscreen: click + key reassign, drag, rubber band, undo/redo, export, linked views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from pycocotools.coco import COCO

pytest.importorskip("PySide6")
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup_gui.app import MainWindow, application
from aegroup_gui.demo import noisy_results
from aegroup_gui.model.document import Key
from aegroup_gui.model.session import open_session
from aegroup_gui.model.uncertainty import image_uncertainty
from aegroup_gui.views.tagview import project_tags

pytestmark = [pytest.mark.gui, pytest.mark.timeout(120)]
LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def results_file(synth_set, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(results file, image folder): noisy predictions over the synthetic custom-skeleton set."""
    ann, images, schema = synth_set
    results = noisy_results(json.loads(Path(ann).read_text()), schema, tag_dim=1, seed=11)
    path = tmp_path_factory.mktemp("gui") / "results.json"
    path.write_text(json.dumps(results))
    return path, Path(images)


@pytest.fixture
def window(qtbot, results_file, tmp_path: Path) -> MainWindow:
    """The main window on the synthetic results, shown offscreen, on an image with two or more instances."""
    application()
    results, images = results_file
    session = open_session(images, results, project=tmp_path / "work.aeproj")
    win = MainWindow(session, autosave_seconds=3600, ask_save=lambda _: "discard")
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    many = [i for i, im in enumerate(session.doc.images) if im.annotations.num_instances >= 2]
    win.go_to(many[0])
    QtWidgets.QApplication.processEvents()
    return win


def canvas_point(win: MainWindow, key: Key) -> QtCore.QPoint:
    """Widget position of a keypoint in the canvas viewport."""
    ann = win.doc.image.annotations
    x, y = ann.keypoints[ann.row(key[0]), key[1], :2]
    return win.canvas.widget_pos(float(x), float(y))


def send_drag(widget: QtWidgets.QWidget, start: QtCore.QPoint, end: QtCore.QPoint, steps: int = 6) -> None:
    """Press, move with the button held (which QTest.mouseMove cannot do), release."""

    def send(kind, pos: QtCore.QPointF, buttons) -> None:
        glob = QtCore.QPointF(widget.mapToGlobal(pos.toPoint()))
        event = QtGui.QMouseEvent(kind, pos, glob, LEFT, buttons, QtCore.Qt.KeyboardModifier.NoModifier)
        QtWidgets.QApplication.sendEvent(widget, event)
        QtWidgets.QApplication.processEvents()

    a, b = QtCore.QPointF(start), QtCore.QPointF(end)
    send(QtCore.QEvent.Type.MouseButtonPress, a, LEFT)
    for i in range(1, steps + 1):
        send(QtCore.QEvent.Type.MouseMove, a + (b - a) * (i / steps), LEFT)
    send(QtCore.QEvent.Type.MouseButtonRelease, b, QtCore.Qt.MouseButton.NoButton)


def test_reassign_by_click_and_key_then_undo_redo_and_export(qtbot, window: MainWindow, tmp_path) -> None:
    doc = window.doc
    ann = doc.image.annotations
    both = ann.present()[0] & ann.present()[1]
    k = int(np.flatnonzero(both)[0]) if both.any() else int(np.flatnonzero(ann.present()[0])[0])
    key = (int(ann.ids[0]), k)
    moved = ann.keypoints[0, k].copy()
    qtbot.mouseClick(window.canvas.viewport(), LEFT, pos=canvas_point(window, key))
    assert doc.selection == {key}
    before = doc.snapshot()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_2)  # reassign to instance #2 of the panel
    after = doc.snapshot()
    target = int(ann.ids[1])
    now = doc.image.annotations
    assert np.array_equal(now.keypoints[now.row(target), k], moved)
    assert doc.selection == {(target, k)}
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert doc.same_state(before)
    qtbot.keyClick(
        window,
        QtCore.Qt.Key.Key_Z,
        QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier,
    )
    assert doc.same_state(after)
    out = window.export_coco_to(tmp_path / "train.json")
    coco = COCO(str(out))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[doc.image.id]))
    exported = [np.array(a["keypoints"], float).reshape(-1, 3)[k] for a in anns]
    assert any(np.allclose(e, [round(moved[0], 2), round(moved[1], 2), moved[2]]) for e in exported)
    assert coco.loadCats(coco.getCatIds())[0]["keypoints"] == list(doc.schema.joints)


def test_drag_moves_a_keypoint_as_one_undo_step(window: MainWindow) -> None:
    doc = window.doc
    ann = doc.image.annotations
    k = int(np.flatnonzero(ann.present()[0])[0])
    key = (int(ann.ids[0]), k)
    start = canvas_point(window, key)
    end = start + QtCore.QPoint(25, 15)
    count = window.stack.count()
    before = doc.snapshot()
    send_drag(window.canvas.viewport(), start, end)
    assert window.stack.count() == count + 1  # six move steps merged into one
    now = doc.image.annotations
    new_pos = window.canvas.widget_pos(*now.keypoints[now.row(key[0]), k, :2])
    assert abs(new_pos.x() - end.x()) <= 1 and abs(new_pos.y() - end.y()) <= 1
    canvas = window.canvas
    assert canvas.moving.ids.tolist() == [key[0]]  # the moved instance is redrawn in the drag layer...
    assert any(np.allclose(p, now.keypoints[now.row(key[0]), k, :2]) for p in canvas.moving.xy)
    assert sorted([*canvas.instances.ids.tolist(), key[0]]) == sorted(now.ids.tolist())  # ...the rest stay
    window.undo()
    assert doc.same_state(before)
    drawn = np.vstack([canvas.instances.xy, canvas.moving.xy])
    assert len(drawn) == int(doc.image.annotations.present().sum())  # every joint drawn once after the undo


def test_rubber_band_selects_keypoints_inside(window: MainWindow) -> None:
    doc = window.doc
    ann = doc.image.annotations
    corner_a = window.canvas.widget_pos(-2.0, -2.0)
    corner_b = window.canvas.widget_pos(doc.image.width / 2, doc.image.height + 2.0)
    send_drag(window.canvas.viewport(), corner_a, corner_b)
    inside = {
        key for key in ann.present_keys() if ann.keypoints[ann.row(key[0]), key[1], 0] <= doc.image.width / 2
    }
    assert inside and doc.selection == inside


def test_tag_view_and_canvas_stay_in_sync(qtbot, window: MainWindow) -> None:
    doc = window.doc
    ann = doc.image.annotations
    key = (int(ann.ids[1]), int(np.flatnonzero(ann.present()[1])[-1]))
    # Click the keypoint's point in the tag view: the canvas rings it.
    x, y = window.tags.point_of(key)
    plot = window.tags.plot
    scene = plot.getViewBox().mapViewToScene(QtCore.QPointF(x, y))
    qtbot.mouseClick(plot.viewport(), LEFT, pos=plot.mapFromScene(scene))
    assert doc.selection == {key}
    ring = window.canvas.selection_item.getData()
    assert np.allclose(np.column_stack(ring), ann.keypoints[ann.row(key[0]), key[1], :2][None])
    # Select on the canvas: the tag view rings the same keypoint's tag.
    other = (int(ann.ids[0]), int(np.flatnonzero(ann.present()[0])[0]))
    qtbot.mouseClick(window.canvas.viewport(), LEFT, pos=canvas_point(window, other))
    spots = window.tags.overlay.getData()
    assert np.allclose(np.column_stack(spots), [window.tags.point_of(other)])
    # Hovering a keypoint on the canvas highlights it in both views.
    qtbot.mouseMove(window.canvas.viewport(), canvas_point(window, key))
    QtWidgets.QApplication.processEvents()
    window.editor.hovered(key)
    assert doc.hover == key
    assert np.allclose(
        np.column_stack(window.canvas.hover_item.getData()), ann.keypoints[ann.row(key[0]), key[1], :2][None]
    )
    assert len(window.tags.overlay.getData()[0]) == 2  # selection ring + hover ring


def test_tag_view_means_are_each_instances_mean_tag(window: MainWindow) -> None:
    ann = window.doc.image.annotations
    values = project_tags(ann, window.tags.component.currentText())
    usable = ann.present() & np.isfinite(values)
    expected = [values[r, usable[r]].mean() for r in range(ann.num_instances) if usable[r].any()]
    assert len(expected) >= 2
    assert np.allclose([value for value, _ in window.tags.means.lines], expected)


def test_keyboard_review_flow_and_save(qtbot, window: MainWindow) -> None:
    doc = window.doc
    first = doc.current
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Return, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert doc.images[first].reviewed and doc.current != first
    qtbot.keyClick(window, QtCore.Qt.Key.Key_PageUp)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_N)
    assert not doc.image.reviewed
    assert window.dirty and window.windowTitle().startswith("*")
    path = window.save()
    assert not window.dirty
    reopened = open_session(None, project=path).doc
    assert reopened.same_state(doc.snapshot())


def test_image_list_sorts_follows_and_picks_images(qtbot, window: MainWindow) -> None:
    doc, images = window.doc, window.image_list
    window.sort_by_doubt()
    order = images.visible_order()
    doubts = [image_uncertainty(doc.images[i].annotations) for i in order]
    assert sorted(order) == list(range(len(doc.images)))
    assert doubts == sorted(doubts, reverse=True)
    window.go_to(order[1])
    qtbot.mouseClick(images.viewport(), LEFT, pos=images.visualRect(images.cells.index(0, 1)).center())
    assert doc.current == order[0]
    row = order.index(doc.current)
    assert images.cells.item(row, 0).background().color().name() == "#3d5a80"  # the current row
    window.toggle_reviewed()
    assert images.cells.item(row, 3).text() == "✓"
    window.select_all()
    window.delete_instances()
    assert images.cells.item(row, 2).text() == "0" and images.cells.item(row, 4).text() == "0.00"
    window.next_image()
    assert doc.current == order[row + 1]
    assert images.cells.item(row, 0).background().style() == QtCore.Qt.BrushStyle.NoBrush


def test_regroup_is_undoable(qtbot, window: MainWindow) -> None:
    doc = window.doc
    before = doc.snapshot()
    window.regroup_box.threshold.setValue(0.05)  # far below the tag noise: joints split into many instances
    qtbot.keyClick(window, QtCore.Qt.Key.Key_G)
    assert doc.image.annotations.num_instances > before[doc.current][0].num_instances
    window.undo()
    assert doc.same_state(before)


def test_recovery_restores_autosaved_edits(qtbot, window: MainWindow, results_file) -> None:
    doc = window.doc
    window.select_all()
    window.delete_instances()
    window.next_image()  # changing image autosaves
    edited = doc.snapshot()
    results, images = results_file
    session = open_session(images, results, project=window.project_path)
    again = MainWindow(session, autosave_seconds=3600, ask_save=lambda _: "discard")
    qtbot.addWidget(again)
    questions = []
    assert again.offer_recovery(lambda q: questions.append(q) or True) >= 1
    assert again.doc.same_state(edited) and questions


def test_help_lists_every_shortcut() -> None:
    from aegroup_gui.shortcuts import SHORTCUTS, markdown_table
    from aegroup_gui.views.help import help_html

    text = help_html()
    assert all(s.label.split("…")[0].replace("&", "&amp;") in text for s in SHORTCUTS)
    page = (Path(__file__).resolve().parents[1] / "docs" / "labelling.md").read_text(encoding="utf-8")
    assert markdown_table() in page, "docs/labelling.md shortcut table is out of date: paste markdown_table()"


def test_label_cli_help_and_errors(cli, tmp_path: Path) -> None:
    result = cli("label", "--help")
    assert result.code == 0 and "--results" in result.out and "--screenshot" in result.out
    missing = cli("label", "--images", str(tmp_path), "--results", str(tmp_path / "nope.json"))
    assert missing.code == 2 and "nope.json" in missing.err and missing.err.count("\n") == 1
    nothing = cli("label")
    assert nothing.code == 2 and "nothing to open" in nothing.err


@pytest.mark.slow
def test_screenshot_command_without_torch(results_file, tmp_path: Path) -> None:
    """`aegroup-label --screenshot` in a fresh process renders the window and never imports torch."""
    results, images = results_file
    out = tmp_path / "shot.png"
    code = (
        "import sys, runpy\n"
        "sys.argv = ['aegroup-label', '--images', sys.argv[1], '--results', sys.argv[2],"
        " '--project', sys.argv[3], '--screenshot', sys.argv[4]]\n"
        "from aegroup_gui.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "from aegroup_gui.model import actions\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('torch-free')\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    args = [str(images), str(results), str(tmp_path / "p.aeproj"), str(out)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "torch-free" in done.stdout
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
