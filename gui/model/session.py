"""Which files a launch opens, and where its project is saved (plain Python)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aegroup.errors import AegroupError
from aegroup.io.formats import detect_format
from aegroup.io.project import PROJECT_SUFFIX
from aegroup.schema import load_schema
from aegroup_gui.model.document import Document
from aegroup_gui.model.files import (
    complete_videos,
    default_project_path,
    open_coco,
    open_images,
    open_poses,
    open_project,
    open_results,
    open_video,
)


@dataclass
class Session:
    """An opened document, the project file it saves to, and a note for the status bar."""

    doc: Document
    project_path: Path
    note: str = ""


NOTHING = (
    "nothing to open: give a pose file (labels.slp, a DeepLabCut project, ...), --results R.json, "
    "--coco ANN.json, --video V.mp4 [--results R.json | --schema S], --images DIR --schema S or --project P"
)


def open_session(
    images: Path | None,
    results: Path | None = None,
    coco: Path | None = None,
    schema: str | None = None,
    project: Path | None = None,
    source: Path | None = None,
    video: Path | None = None,
) -> Session:
    """Open a project, or start one from a pose file, a results or COCO file, or a video or image folder
    with nothing labelled yet (see `aegroup label --help`).

    An existing project (given, or `<source>.aeproj` beside the source) is opened rather than rebuilt,
    so work saved earlier is never silently replaced by the source file.
    """
    given = [name for name, value in (("SOURCE", source), ("--results", results), ("--coco", coco)) if value]
    if len(given) > 1:
        raise AegroupError(f"give one file to label, not {' and '.join(given)}")
    if project is not None and project.suffix != PROJECT_SUFFIX:
        raise AegroupError(f"{project}: a project file must end in {PROJECT_SUFFIX}")
    if source is not None and detect_format(source) == "project":
        project, source = project or source, None
    start = source or results or coco or video or (images if schema is not None else None)
    project_path = project or (default_project_path(start) if start else None)
    if project_path is None:
        raise AegroupError(NOTHING)
    if project_path.is_file():
        doc = open_project(project_path)
        _check_schema(doc, schema, project_path)
        note = f"opened project {project_path.name}"
        if start is not None:
            note += f" (saved earlier; {start.name} not re-read: move the project away to start over)"
        return _session(doc, project_path, note)
    if start is None:
        raise AegroupError(f"{project_path}: project file not found (give a file to label to start one)")
    return _session(
        _start(source, results, coco, video, images, schema), project_path, f"new project from {start.name}"
    )


def _start(
    source: Path | None,
    results: Path | None,
    coco: Path | None,
    video: Path | None,
    images: Path | None,
    schema: str | None,
) -> Document:
    """A new document from what the command line names."""
    if images is not None and not images.is_dir():
        raise AegroupError(f"{images}: --images: folder not found")
    if results is not None:
        return open_results(results, images, schema, video)
    if coco is not None:
        return open_coco(coco, images, schema)
    if source is not None:
        if detect_format(source) == "results":
            return open_results(source, images, schema, video)
        return open_poses(source, schema, video, images)
    if schema is None:
        raise AegroupError("--schema is needed to label a video or an image folder from scratch")
    if video is not None:
        return open_video(video, schema)
    assert images is not None
    return open_images(images, schema)


def _check_schema(doc: Document, schema: str | None, path: Path) -> None:
    """A --schema given with an existing project must have the project's joints."""
    if schema is None:
        return
    wanted = load_schema(schema)
    if list(wanted.joints) != list(doc.schema.joints):
        raise AegroupError(
            f"{path}: field 'schema.joints' {list(doc.schema.joints)} differ from --schema '{wanted.name}' "
            f"joints {list(wanted.joints)}"
        )


def _session(doc: Document, project_path: Path, note: str) -> Session:
    """The session, with the videos' lengths known (a missing video is said in the note)."""
    missing = complete_videos(doc)
    if missing:
        note += f"; video not found: {', '.join(missing)} (frames show grey)"
    return Session(doc, project_path.resolve(), note + f"; saves to {project_path.name}")
