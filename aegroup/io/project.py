"""Labelling project files (`.aeproj`, JSON, versioned) and their autosave sidecars; torch-free.

Format, version 1 (coordinates in image pixels)::

    {"format": "aegroup-project", "version": 1,
     "schema": { PoseSchema fields },
     "image_dir": "images",            # relative to the project file's folder, or absolute
     "source": "results.json",         # the results / COCO file the project started from
     "tag_dim": 1,                     # D, 0 when the source had no tags
     "images": [{"id": 1, "file_name": "a.png", "width": 640, "height": 480,
                 "reviewed": false,
                 "instances": [{"id": 1, "status": "predicted" | "corrected" | "added",
                                "score": 0.93 | null,
                                "keypoints": [x, y, v, ...3K],  # v: 0 absent, 1 occluded, 2 visible
                                "scores": [s | null, ...K],     # null: placed by hand
                                "tags": [[t, ...D] | null, ...K] | null,
                                "origin": ["predicted" | "refined" | "corrected" | "added", ...K]}],
                 "candidates": {"image_id": 1, "joint": [...], "xy": [[x, y]...], "score": [...],
                                "tag": [[...D]...]} | null}]}   # as in the results file

The autosave sidecar (`P.aeproj.autosave`) holds only the images changed since the last save::

    {"format": "aegroup-autosave", "version": 1, "project": "P.aeproj", "images": [ same as above ]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_text
from aegroup.io.results import CandidateRecord
from aegroup.schema import PoseSchema

PROJECT_FORMAT = "aegroup-project"
AUTOSAVE_FORMAT = "aegroup-autosave"
PROJECT_VERSION = 1
PROJECT_SUFFIX = ".aeproj"

InstanceStatus = Literal["predicted", "corrected", "added"]
JointOrigin = Literal["predicted", "refined", "corrected", "added"]


class ProjectInstance(BaseModel):
    """One instance: keypoints (x, y, v) * K, per-joint score, tag and provenance."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    status: InstanceStatus = "predicted"
    score: float | None = None
    keypoints: list[float]
    scores: list[float | None]
    tags: list[list[float] | None] | None = None
    origin: list[JointOrigin]


class ProjectImage(BaseModel):
    """One image with its instances, review flag and stored candidates."""

    model_config = ConfigDict(extra="forbid")

    id: int
    file_name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    reviewed: bool = False
    instances: list[ProjectInstance] = Field(default_factory=list)
    candidates: CandidateRecord | None = None


class Project(BaseModel):
    """A whole labelling project."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["aegroup-project"] = PROJECT_FORMAT
    version: Literal[1] = PROJECT_VERSION
    pose_schema: PoseSchema = Field(alias="schema")
    image_dir: str
    source: str = ""
    tag_dim: int = Field(ge=0)
    images: list[ProjectImage]

    @model_validator(mode="after")
    def _check_shapes(self) -> Project:
        check_images(self.images, self.pose_schema.num_joints, self.tag_dim)
        return self


class Autosave(BaseModel):
    """The autosave sidecar: images changed since the project was last saved."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["aegroup-autosave"] = AUTOSAVE_FORMAT
    version: Literal[1] = PROJECT_VERSION
    project: str
    images: list[ProjectImage]


def check_images(images: list[ProjectImage], num_joints: int, tag_dim: int) -> None:
    """Raise ValueError naming the field when an instance's arrays do not fit K joints and D tag dims."""
    seen: set[int] = set()
    for i, image in enumerate(images):
        if image.id in seen:
            raise ValueError(f"field 'images[{i}].id': duplicate image id {image.id}")
        seen.add(image.id)
        ids: set[int] = set()
        for j, inst in enumerate(image.instances):
            where = f"images[{i}].instances[{j}]"
            if inst.id in ids:
                raise ValueError(f"field '{where}.id': duplicate instance id {inst.id}")
            ids.add(inst.id)
            lengths = {"keypoints": (len(inst.keypoints), 3 * num_joints)}
            lengths.update(scores=(len(inst.scores), num_joints), origin=(len(inst.origin), num_joints))
            if inst.tags is not None:
                lengths["tags"] = (len(inst.tags), num_joints)
                bad = [t for t in inst.tags if t is not None and len(t) != tag_dim]
                if bad:
                    raise ValueError(f"field '{where}.tags': {len(bad[0])} dims, expected {tag_dim}")
            for name, (got, want) in lengths.items():
                if got != want:
                    raise ValueError(f"field '{where}.{name}': {got} values, expected {want}")
            if any(v not in (0, 1, 2) for v in inst.keypoints[2::3]):
                raise ValueError(f"field '{where}.keypoints': visibility must be 0, 1 or 2")


def load_project(path: str | Path) -> Project:
    """Read and validate a project file (one-line errors naming the file and field)."""
    path = Path(path)
    text = _read(path, "project")
    try:
        return Project.model_validate_json(text)
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None


def save_project(path: str | Path, project: Project) -> Path:
    """Write a project file atomically (readers see the old or the complete new file)."""
    return atomic_write_text(path, project.model_dump_json(by_alias=True))


def autosave_path(project_path: str | Path) -> Path:
    """The autosave sidecar beside a project file."""
    path = Path(project_path)
    return path.with_name(path.name + ".autosave")


def save_autosave(project_path: str | Path, images: list[ProjectImage]) -> Path:
    """Atomically write the sidecar holding `images` (the ones changed since the last save)."""
    data = Autosave(project=Path(project_path).name, images=images)
    return atomic_write_text(autosave_path(project_path), data.model_dump_json())


def load_autosave(project_path: str | Path, num_joints: int, tag_dim: int) -> Autosave | None:
    """The sidecar of a project, or None when there is none; validated against K and D."""
    path = autosave_path(project_path)
    if not path.is_file():
        return None
    try:
        data = Autosave.model_validate_json(_read(path, "autosave"))
        check_images(data.images, num_joints, tag_dim)
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None
    except ValueError as err:
        raise AegroupError(f"{path}: {err}") from None
    return data


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise AegroupError(f"{path}: {what} file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AegroupError(f"{path}: cannot read {what} file ({err})") from None
    return text
