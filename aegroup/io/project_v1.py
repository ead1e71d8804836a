"""Version-1 project files (nested JSON lists per keypoint): read and migrate to version 2 on load.

Version 1 stored every instance as lists (coordinates in image pixels)::

    "instances": [{"id": 1, "status": "predicted" | "corrected" | "added", "score": 0.93 | null,
                   "keypoints": [x, y, v, ...3K], "scores": [s | null, ...K],
                   "tags": [[t, ...D] | null, ...K] | null,
                   "origin": ["predicted" | "refined" | "corrected" | "added", ...K]}],
    "candidates": {"image_id": 1, "joint": [...], "xy": [[x, y]...], "score": [...], "tag": [[...D]...]}

Everything else (header, image fields, autosave wrapper) is as in version 2.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from aegroup.io.provenance import InstanceStatus, JointOrigin, code_by_name
from aegroup.io.results import CandidateRecord
from aegroup.schema import PoseSchema

StatusName = Annotated[InstanceStatus, BeforeValidator(code_by_name(InstanceStatus))]
"""An instance status stored by its name ('predicted', 'corrected', 'added')."""
OriginName = Annotated[JointOrigin, BeforeValidator(code_by_name(JointOrigin))]
"""A joint origin stored by its name ('predicted', 'refined', 'corrected', 'added')."""


class ProjectInstanceV1(BaseModel):
    """One version-1 instance: keypoints (x, y, v) * K, per-joint score, tag and provenance as lists."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=0)
    status: StatusName = InstanceStatus.PREDICTED
    score: float | None = None
    keypoints: list[float]
    scores: list[float | None]
    tags: list[list[float] | None] | None = None
    origin: list[OriginName]


class ProjectImageV1(BaseModel):
    """One version-1 image with its instances, review flag and stored candidates."""

    model_config = ConfigDict(extra="forbid")

    id: int
    file_name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    reviewed: bool = False
    instances: list[ProjectInstanceV1] = Field(default_factory=list)
    candidates: CandidateRecord | None = None


class ProjectV1(BaseModel):
    """A whole version-1 project file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["aegroup-project"] = "aegroup-project"
    version: Literal[1] = 1
    pose_schema: PoseSchema = Field(alias="schema")
    image_dir: str
    source: str = ""
    tag_dim: int = Field(ge=0)
    images: list[ProjectImageV1]

    @model_validator(mode="after")
    def _check_shapes(self) -> ProjectV1:
        check_images_v1(self.images, self.pose_schema.num_joints, self.tag_dim)
        return self


class AutosaveV1(BaseModel):
    """A version-1 autosave sidecar."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["aegroup-autosave"] = "aegroup-autosave"
    version: Literal[1] = 1
    project: str
    images: list[ProjectImageV1]


def check_images_v1(images: list[ProjectImageV1], num_joints: int, tag_dim: int) -> None:
    """Raise ValueError naming the field when an instance's lists do not fit K joints and D tag dims."""
    for i, image in enumerate(images):
        for j, inst in enumerate(image.instances):
            where = f"images[{i}].instances[{j}]"
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


def migrate_image(image: ProjectImageV1, num_joints: int, tag_dim: int) -> dict[str, Any]:
    """A version-1 image as the fields of a version-2 `ProjectImage` (same values; null becomes nan)."""
    insts = image.instances
    n = len(insts)
    tags = np.full((n, num_joints, tag_dim), np.nan)
    for r, inst in enumerate(insts):
        for k, t in enumerate(inst.tags or []):
            if t is not None:
                tags[r, k] = t
    scores = [[np.nan if s is None else s for s in i.scores] for i in insts]
    instances = {
        "ids": np.array([i.id for i in insts], np.int64),
        "status": np.array([i.status for i in insts], np.int8),
        "instance_score": np.array([np.nan if i.score is None else i.score for i in insts], np.float64),
        "keypoints": np.array([i.keypoints for i in insts], np.float64).reshape(n, num_joints, 3),
        "scores": np.array(scores, np.float64).reshape(n, num_joints),
        "tags": tags,
        "origin": np.array([i.origin for i in insts], np.int8).reshape(n, num_joints),
    }
    cand = image.candidates
    candidates = None
    if cand is not None:
        m = len(cand.joint)
        dim = len(cand.tag[0]) if cand.tag else tag_dim
        candidates = {
            "joint": np.array(cand.joint, np.int64),
            "xy": np.array(cand.xy, np.float64).reshape(m, 2),
            "score": np.array(cand.score, np.float64),
            "tag": np.array(cand.tag, np.float64).reshape(m, dim),
        }
    fields = image.model_dump(include={"id", "file_name", "width", "height", "reviewed"})
    return {**fields, "instances": instances, "candidates": candidates}
