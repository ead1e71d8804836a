"""The aegroup results file: COCO keypoint results plus per-joint tags and optional grouping candidates.

Written by `aegroup predict`, read by `aegroup evaluate`, `aegroup export` and the labeller. A JSON object::

    {"format": "aegroup-results", "version": 1,
     "schema": { PoseSchema fields },
     "images": [{"id": 1, "file_name": "a.png", "width": 640, "height": 480}],
     "annotations": [{"image_id": 1, "category_id": 1, "keypoints": [x, y, s, ...3K], "score": 0.9,
                      "tags": [[t0, ...D], ...K]}],
     "candidates": [{"image_id": 1, "joint": [k...], "xy": [[x, y]...], "score": [...], "tag": [[...D]...]}]}

`annotations` alone is a plain COCO results list (pycocotools `loadRes` reads it): `score` is the
instance's, the third value of each keypoint triple the joint's. Coordinates are image pixels.
`candidates` is optional (present with `--candidates`, default on) and lets a consumer re-group without
the network through `aegroup.decode.group_candidates`. Torch-free so that the labeller can read it.

Optional fields (older files, without them, read as before): `images[].video` (the video's path,
relative to the results file's folder) and `images[].frame_index` for a video frame (its `file_name`
then names the PNG `aegroup convert` would extract it to); `annotations[].track_id`, an index into a
top-level `tracks` list of names, and `annotations[].track_doubt` (0..1), how close the tracker came to
giving the instance another track (`aegroup predict --track`; docs/tracking.md); `annotations[].user`, true
for an instance labelled by a person, whose third keypoint values are then COCO visibility flags (0, 1, 2)
instead of scores; `annotations[].origin`, K `aegroup.io.provenance.JointOrigin` codes saying where each
joint came from (`aegroup predict` writes 0 for a detected joint, 1 for one refinement filled in; 2
corrected and 3 added are a person's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_json
from aegroup.io.jsonfile import read_json
from aegroup.io.provenance import JointOrigin
from aegroup.schema import PoseSchema

if TYPE_CHECKING:
    from aegroup.decode.types import Candidates, Instance

RESULTS_FORMAT = "aegroup-results"
RESULTS_VERSION = 1


class ResultImage(BaseModel):
    """One image the results refer to (COCO `images` entry)."""

    model_config = ConfigDict(extra="allow")

    id: int
    file_name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    video: str | None = Field(default=None, description="Path of the video this frame belongs to.")
    frame_index: int | None = Field(default=None, ge=0, description="Frame number in `video` (0-based).")


class ResultAnnotation(BaseModel):
    """One predicted instance: COCO keypoint result plus the tag of every joint."""

    model_config = ConfigDict(extra="allow")

    image_id: int
    category_id: int = 1
    keypoints: list[float] = Field(description="x, y, score per joint (3K values), image pixels.")
    score: float
    tags: list[list[float]] | None = Field(default=None, description="Per-joint tag vectors, K x D.")
    track_id: int | None = Field(default=None, ge=0, description="Index into the file's `tracks`.")
    track_doubt: float | None = Field(
        default=None, ge=0, le=1, description="Tracking doubt: 1 - margin / max_cost (docs/tracking.md)."
    )
    user: bool | None = Field(default=None, description="True: labelled by a person (values x, y, v).")
    origin: list[int] | None = Field(
        default=None,
        description="Per-joint JointOrigin codes (K): 0 detected, 1 refined-in, 2, 3 a person's.",
    )


class CandidateRecord(BaseModel):
    """All grouping candidates of one image: joint type, location (image pixels), score and tag each."""

    model_config = ConfigDict(extra="forbid")

    image_id: int
    joint: list[int]
    xy: list[tuple[float, float]]
    score: list[float]
    tag: list[list[float]]

    @model_validator(mode="after")
    def _same_lengths(self) -> CandidateRecord:
        n = len(self.joint)
        for field in ("xy", "score", "tag"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"field '{field}': {len(getattr(self, field))} entries for {n} joints")
        if len({len(t) for t in self.tag}) > 1:
            raise ValueError("field 'tag': tag vectors differ in length")
        return self


class ResultsFile(BaseModel):
    """A whole results file; `pose_schema` is stored under the JSON key `schema`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["aegroup-results"] = RESULTS_FORMAT
    version: Literal[1] = RESULTS_VERSION
    pose_schema: PoseSchema = Field(alias="schema")
    images: list[ResultImage] = Field(default_factory=list)
    annotations: list[ResultAnnotation] = Field(default_factory=list)
    candidates: list[CandidateRecord] | None = None
    tracks: list[str] | None = Field(default=None, description="Track (identity) names.")

    @model_validator(mode="after")
    def _check_consistency(self) -> ResultsFile:
        k = self.pose_schema.num_joints
        num_tracks = len(self.tracks or [])
        ids = {im.id for im in self.images}
        if len(ids) != len(self.images):
            raise ValueError("field 'images': duplicate image id")
        for i, ann in enumerate(self.annotations):
            where = f"field 'annotations[{i}]"
            if ann.image_id not in ids:
                raise ValueError(f"{where}.image_id': image {ann.image_id} is not in 'images'")
            if len(ann.keypoints) != 3 * k:
                raise ValueError(f"{where}.keypoints': {len(ann.keypoints)} values, expected 3 x {k} joints")
            if ann.tags is not None and len(ann.tags) != k:
                raise ValueError(f"{where}.tags': {len(ann.tags)} tag vectors for {k} joints")
            if ann.origin is not None and len(ann.origin) != k:
                raise ValueError(f"{where}.origin': {len(ann.origin)} codes for {k} joints")
            if ann.origin is not None and not all(0 <= c < len(JointOrigin) for c in ann.origin):
                raise ValueError(f"{where}.origin': codes must be 0..{len(JointOrigin) - 1}")
            if ann.track_id is not None and ann.track_id >= num_tracks:
                raise ValueError(f"{where}.track_id': {ann.track_id} is not one of {num_tracks} 'tracks'")
        for i, rec in enumerate(self.candidates or []):
            if rec.image_id not in ids:
                raise ValueError(f"field 'candidates[{i}].image_id': image {rec.image_id} is not in 'images'")
            bad = [j for j in rec.joint if not 0 <= j < k]
            if bad:
                raise ValueError(f"field 'candidates[{i}].joint': index {bad[0]} outside 0..{k - 1}")
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to disk (key `schema`, no null candidates)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def annotations_for(self, image_id: int) -> list[ResultAnnotation]:
        """The predicted instances of one image."""
        return [a for a in self.annotations if a.image_id == image_id]


def load_results(path: str | Path) -> ResultsFile:
    """Read and validate a results file; every problem is a one-line `AegroupError` naming file and field."""
    path = Path(path)
    data = read_json(path, "results file")
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise AegroupError(
            f"{path}: field 'format': expected '{RESULTS_FORMAT}' (is this a plain COCO results list?)"
        )
    try:
        return ResultsFile.model_validate(data)
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None


def save_results(path: str | Path, results: ResultsFile) -> Path:
    """Write a results file atomically."""
    return atomic_write_json(path, results.to_json())


def instances_to_annotations(
    image_id: int, instances: Sequence[Instance], category_id: int = 1
) -> list[dict[str, Any]]:
    """COCO result dicts (plus `tags` and `origin`) for the instances of one image; coordinates are taken as
    they are."""
    out = []
    for inst in instances:
        origin = np.where(inst.refined, JointOrigin.REFINED, JointOrigin.PREDICTED)
        out.append(
            {
                "image_id": int(image_id),
                "category_id": int(category_id),
                "keypoints": [float(v) for v in np.asarray(inst.keypoints, dtype=np.float64).ravel()],
                "score": float(inst.score),
                "tags": np.asarray(inst.tags, dtype=np.float64).tolist(),
                "origin": origin.tolist(),
            }
        )
    return out


def annotations_to_instances(annotations: Sequence[ResultAnnotation | dict[str, Any]]) -> list[Instance]:
    """Instances back from result annotations (tags of zeros, D = 1, when a record has none; refined-in
    joints from `origin`)."""
    from aegroup.decode.types import Instance

    out = []
    for ann in annotations:
        rec = ann if isinstance(ann, ResultAnnotation) else ResultAnnotation.model_validate(ann)
        kps = np.asarray(rec.keypoints, dtype=np.float32).reshape(-1, 3)
        tags = (
            np.asarray(rec.tags, dtype=np.float32)
            if rec.tags is not None
            else np.zeros((kps.shape[0], 1), np.float32)
        )
        refined = np.asarray(rec.origin if rec.origin is not None else [], int) == JointOrigin.REFINED
        out.append(
            Instance(
                keypoints=kps, tags=tags.reshape(kps.shape[0], -1), score=float(rec.score), refined=refined
            )
        )
    return out


def candidates_to_record(image_id: int, candidates: Candidates) -> dict[str, Any]:
    """Flatten one image's candidates (padding dropped) into a `candidates` record."""
    valid = candidates.score > 0
    joint, slot = np.nonzero(valid)
    return {
        "image_id": int(image_id),
        "joint": joint.tolist(),
        "xy": candidates.xy[joint, slot].astype(np.float64).tolist(),
        "score": candidates.score[joint, slot].astype(np.float64).tolist(),
        "tag": candidates.tag[joint, slot].astype(np.float64).tolist(),
    }


def record_to_candidates(
    record: CandidateRecord | dict[str, Any], num_joints: int, tag_dim: int | None = None
) -> Candidates:
    """Rebuild padded per-joint `Candidates` (highest score first) from a `candidates` record."""
    from aegroup.decode.types import Candidates

    rec = record if isinstance(record, CandidateRecord) else CandidateRecord.model_validate(record)
    joint = np.asarray(rec.joint, dtype=np.int64)
    if joint.size and (joint.min() < 0 or joint.max() >= num_joints):
        raise AegroupError(f"candidates of image {rec.image_id}: field 'joint' outside 0..{num_joints - 1}")
    dim = len(rec.tag[0]) if rec.tag else (tag_dim or 1)
    score = np.asarray(rec.score, dtype=np.float32)
    xy = np.asarray(rec.xy, dtype=np.float32).reshape(-1, 2)
    tag = np.asarray(rec.tag, dtype=np.float32).reshape(-1, dim)
    counts = np.bincount(joint, minlength=num_joints)
    m = int(counts.max()) if counts.size else 0
    out = Candidates.empty(num_joints, m, dim)
    # Stable sort by (joint, -score) keeps the "highest score first" order extraction produces.
    order = np.lexsort((-score, joint))
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    j = joint[order]
    out.xy[j, slot] = xy[order]
    out.score[j, slot] = score[order]
    out.tag[j, slot] = tag[order]
    return out


def build_results(
    schema: PoseSchema,
    images: Sequence[dict[str, Any]],
    annotations: Sequence[dict[str, Any]],
    candidates: Sequence[dict[str, Any]] | None = None,
    tracks: Sequence[str] | None = None,
) -> ResultsFile:
    """Assemble and validate a `ResultsFile` from plain dicts (as produced by the helpers above)."""
    try:
        return ResultsFile.model_validate(
            {
                "schema": schema,
                "images": list(images),
                "annotations": list(annotations),
                "candidates": None if candidates is None else list(candidates),
                "tracks": None if tracks is None else list(tracks),
            }
        )
    except ValidationError as err:
        raise AegroupError(validation_message("results", err)) from None
