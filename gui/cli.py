"""`aegroup label` and `aegroup-label`: open the labeller on any pose file, a results or COCO file, a video
or an image folder to label from scratch, or a saved project.

The core CLI finds `label` through the `aegroup.commands` entry point, so the core never imports the GUI;
Qt loads only when the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from aegroup.cli import run
from aegroup.errors import AegroupError


def label(
    source: Path | None = typer.Argument(
        None,
        help="Pose file or folder to label: .slp, DeepLabCut project / config.yaml / CollectedData file, "
        "Label Studio JSON, YOLO folder, COCO or results JSON, or a project (.aeproj).",
        show_default=False,
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Folder the file names are relative to; alone with --schema: label its images."
    ),
    results: Path | None = typer.Option(None, "--results", help="Results file from `aegroup predict`."),
    coco: Path | None = typer.Option(None, "--coco", help="COCO keypoints file."),
    video: Path | None = typer.Option(
        None,
        "--video",
        help="Video to label: with --schema from scratch, with --results its predictions; with a .slp, "
        "the video's path when the stored one is wrong.",
    ),
    schema: str | None = typer.Option(
        None, "--schema", help="Built-in schema name or file (default: the one in the file)."
    ),
    project: Path | None = typer.Option(
        None, "--project", help="Project file to open or create (default: <source>.aeproj beside it)."
    ),
    frame: int | None = typer.Option(
        None, "--frame", min=0, help="Start at this frame of the video (or this image, 0-based)."
    ),
    screenshot: Path | None = typer.Option(
        None, "--screenshot", help="Render the window offscreen, save it as this PNG and exit."
    ),
    autosave: float = typer.Option(30.0, "--autosave", min=1.0, help="Autosave period in seconds."),
) -> None:
    """Label from scratch, review and correct poses; Ctrl+S saves the project, Ctrl+Shift+S exports SLEAP
    labels, Ctrl+E COCO training data."""
    try:
        from aegroup_gui.app import launch
    except ImportError as err:
        raise AegroupError(
            f"the labelling companion needs the GUI extra: pip install 'aegroup[gui]' ({err})"
        ) from None
    from aegroup_gui.model.session import open_session

    if screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    session = open_session(images, results, coco, schema, project, source=source, video=video)
    code = launch(session, screenshot, autosave, frame)
    if code:
        raise typer.Exit(code)


def main() -> None:
    """Console script `aegroup-label`: `aegroup label` as its own program, with the CLI's error handling."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(label)
    run(app)
