"""Which files a launch opens, and where its project is saved (plain Python)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aegroup.errors import AegroupError
from aegroup.io.project import PROJECT_SUFFIX
from aegroup_gui.model.document import Document
from aegroup_gui.model.files import default_project_path, open_coco, open_project, open_results


@dataclass
class Session:
    """An opened document, the project file it saves to, and a note for the status bar."""

    doc: Document
    project_path: Path
    note: str = ""


def open_session(
    images: Path | None,
    results: Path | None = None,
    coco: Path | None = None,
    schema: str | None = None,
    project: Path | None = None,
) -> Session:
    """Open a project, or start one from a results or COCO file (see `aegroup label --help`).

    An existing project (given, or `<source>.aeproj` beside the source) is opened rather than rebuilt,
    so work saved earlier is never silently replaced by the source file.
    """
    if results is not None and coco is not None:
        raise AegroupError("give either --results or --coco, not both")
    if project is not None and project.suffix != PROJECT_SUFFIX:
        raise AegroupError(f"{project}: a project file must end in {PROJECT_SUFFIX}")
    source = results or coco
    project_path = project or (default_project_path(source) if source else None)
    if project_path is None:
        raise AegroupError("nothing to open: give --results R.json, --coco ANN.json or --project P.aeproj")
    if project_path.is_file():
        note = f"opened project {project_path.name}"
        if source is not None:
            note += f" (saved earlier; {source.name} not re-read: move the project away to start over)"
        return Session(open_project(project_path), project_path.resolve(), note)
    if source is None:
        raise AegroupError(f"{project_path}: project file not found (give --results or --coco to start one)")
    if images is None:
        raise AegroupError("--images DIR is required to start a project from a results or COCO file")
    if not images.is_dir():
        raise AegroupError(f"{images}: image folder not found")
    opener = open_results if results is not None else open_coco
    doc = opener(source, images, schema)
    note = f"new project from {source.name}; saves to {project_path.name}"
    return Session(doc, project_path.resolve(), note)
