"""Crash safety: SIGKILL the app while it writes the autosave or the project; nothing a person did is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aegroup.io.project import autosave_path
from aegroup.schema import load_schema
from aegroup_gui.demo import noisy_results, random_coco
from aegroup_gui.model.files import open_project, open_results, recover_autosave, save_document

pytestmark = [pytest.mark.slow, pytest.mark.gui, pytest.mark.skipif(os.name != "posix", reason="SIGKILL")]

# The app process: open the project, edit every image (state B), record B and B' (B with image 0's review
# flag flipped) as reference projects, then flip that flag and autosave or save, over and over, until killed.
CHILD = """
import sys
from pathlib import Path
from aegroup.io.project import save_project
from aegroup_gui.app import MainWindow, application
from aegroup_gui.model import actions
from aegroup_gui.model.session import open_session
from aegroup_gui.model.convert import project_from_document

project, mode, refs = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
application()
win = MainWindow(open_session(None, project=project), autosave_seconds=3600, ask_save=lambda _: "discard")
doc = win.doc
for i in range(len(doc.images)):
    doc.set_current(i)
    doc.set_selection(doc.image.annotations.present_keys()[:1])
    win.editor.run(lambda: actions.delete_keypoints(doc))
    win.editor.run(lambda: actions.accept_image(doc))
doc.set_current(0)
for name in ("b", "b_flipped"):
    save_project(refs / f"{name}.aeproj", project_from_document(doc, refs / f"{name}.aeproj"))
    win.editor.run(lambda: actions.toggle_reviewed(doc))
win.autosave() if mode == "autosave" else win.save()
print("ready", flush=True)
while True:
    win.editor.run(lambda: actions.toggle_reviewed(doc))
    win.autosave() if mode == "autosave" else win.save()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A saved project (state A) large enough that writing it takes a while: 40 images x 30 instances."""
    schema = load_schema("coco17")
    results = noisy_results(random_coco(schema, 40, 30, seed=9), schema, seed=10)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return save_document(open_results(path, tmp_path), tmp_path / "work.aeproj")


def kill_mid_write(project: Path, mode: str, target: Path) -> None:
    """Run the app, wait until a temporary file of `target` exists (a write in progress), SIGKILL it."""
    refs = project.parent / "refs"
    refs.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project), mode, str(refs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready", child.stderr.read()
        deadline = time.monotonic() + 60
        prefix = f".{target.name}."
        while time.monotonic() < deadline:
            if any(n.startswith(prefix) and n.endswith(".tmp") for n in os.listdir(project.parent)):
                break
        else:
            pytest.fail(f"never saw a write of {target.name} in progress")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def reference_states(project: Path) -> list:
    """Snapshots of the two states the app alternated between."""
    refs = project.parent / "refs"
    return [open_project(refs / f"{n}.aeproj").snapshot() for n in ("b", "b_flipped")]


def test_kill_during_autosave_keeps_project_and_recovers_edits(project: Path) -> None:
    original = project.read_bytes()
    kill_mid_write(project, "autosave", autosave_path(project))
    assert project.read_bytes() == original  # autosave never touches the project file
    doc = open_project(project)
    assert recover_autosave(doc, project) == len(doc.images)
    assert any(doc.same_state(state) for state in reference_states(project))


def test_kill_during_save_leaves_a_complete_project(project: Path) -> None:
    kill_mid_write(project, "save", project)
    doc = open_project(project)  # complete and valid: the old or the new file, never a torn one
    assert any(doc.same_state(state) for state in reference_states(project))
