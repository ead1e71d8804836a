"""Convert between the document and files: project files, results files, COCO keypoint files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.io.project import PROJECT_VERSION, Project, ProjectCandidates, ProjectImage, ProjectInstances
from aegroup.io.provenance import JointOrigin
from aegroup.schema import PoseSchema
from aegroup_gui.model.document import Annotations, Document, ImageRecord


def image_to_project(record: ImageRecord) -> ProjectImage:
    """One document image as a project image (lossless; the arrays are shared, not copied)."""
    # The document's arrays are the project file's, name for name.
    instances = ProjectInstances.model_construct(**record.annotations.arrays())
    cand = record.candidates
    candidates = ProjectCandidates.model_construct(**cand) if cand is not None else None
    return ProjectImage.model_construct(
        id=record.id,
        file_name=record.file_name,
        width=record.width,
        height=record.height,
        reviewed=record.reviewed,
        instances=instances,
        candidates=candidates,
    )


def image_from_project(image: ProjectImage) -> ImageRecord:
    """One (validated) project image as a document image."""
    ann = Annotations.build(**dict(image.instances))
    cand = image.candidates
    candidates = candidate_arrays(dict(cand)) if cand is not None else None
    return ImageRecord(image.id, image.file_name, image.width, image.height, ann, image.reviewed, candidates)


def candidate_arrays(record: dict[str, Any]) -> dict[str, np.ndarray]:
    """A candidate record (lists or arrays: joint, xy, score, tag) as the document's read-only arrays."""
    m = len(record["joint"])
    tag = np.array(record["tag"], np.float64)
    arrays = {
        "joint": np.array(record["joint"], np.int64).reshape(m),
        "xy": np.array(record["xy"], np.float64).reshape(m, 2),
        "score": np.array(record["score"], np.float64).reshape(m),
        "tag": tag.reshape(m, tag.shape[-1] if tag.ndim == 2 else 0),
    }
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


def candidate_record(image: ImageRecord) -> dict[str, Any]:
    """The results-file candidate record (lists) of an image with candidates."""
    cand = image.candidates or {}
    return {"image_id": image.id, **{name: array.tolist() for name, array in cand.items()}}


def document_from_project(project: Project, project_path: Path) -> Document:
    """A document from a loaded project file."""
    schema, tag_dim = project.pose_schema, project.tag_dim
    image_dir = Path(project.image_dir)
    if not image_dir.is_absolute():
        image_dir = project_path.parent / image_dir
    images = [image_from_project(im) for im in project.images]
    return Document(schema, images, tag_dim, image_dir=image_dir, source=project.source)


def project_from_document(doc: Document, project_path: Path) -> Project:
    """The project file contents of a document (image_dir relative to the project when possible)."""
    image_dir = str(doc.image_dir or "")
    if doc.image_dir is not None:
        try:
            image_dir = os.path.relpath(doc.image_dir, project_path.parent)
        except ValueError:  # another drive on Windows
            image_dir = str(doc.image_dir)
    return Project.model_construct(
        format="aegroup-project",
        version=PROJECT_VERSION,
        pose_schema=doc.schema,
        image_dir=image_dir,
        source=doc.source,
        tag_dim=doc.tag_dim,
        images=[image_to_project(im) for im in doc.images],
    )


def annotations_from_results(
    anns: list[dict[str, Any]], schema: PoseSchema, tag_dim: int, candidates: dict[str, Any] | None, size: int
) -> Annotations:
    """One image's results-file annotations (keypoints x, y, score; tags) as document annotations.

    A keypoint is marked refined-in when the file says so (optional per-joint `refined` flags) or when
    no stored candidate of its joint lies within a few pixels, i.e. grouping filled it in.
    """
    k = schema.num_joints
    n = len(anns)
    kps = np.array([a["keypoints"] for a in anns], np.float64).reshape(n, k, 3)
    scores = kps[:, :, 2].copy()
    present = scores > 0
    keypoints = np.concatenate([kps[:, :, :2], np.where(present, 2.0, 0.0)[:, :, None]], axis=2)
    keypoints[~present] = 0.0
    tags = np.full((n, k, tag_dim), np.nan)
    for r, a in enumerate(anns):
        if a.get("tags") is not None and tag_dim:
            tags[r] = np.array(a["tags"], np.float64).reshape(k, tag_dim)
    origin = np.full((n, k), JointOrigin.PREDICTED, np.int8)
    for r, a in enumerate(anns):
        if a.get("origin") is not None:
            origin[r] = np.asarray(a["origin"], np.int8)
    if candidates is not None:
        near = _near_candidate(keypoints, candidates, tolerance=max(2.0, 0.01 * size))
        origin[present & ~near] = JointOrigin.REFINED
    scores[~present] = np.nan
    tags[~present] = np.nan
    return Annotations.build(
        ids=np.arange(1, n + 1),
        keypoints=keypoints,
        scores=scores,
        tags=tags,
        origin=origin,
        instance_score=[a.get("score", np.nan) for a in anns],
        status=np.zeros(n, np.int8),
    )


def _near_candidate(keypoints: np.ndarray, candidates: dict[str, Any], tolerance: float) -> np.ndarray:
    """(N, K) whether a stored candidate of the same joint lies within `tolerance` pixels."""
    n, k, _ = keypoints.shape
    joint = np.asarray(candidates.get("joint", []), np.int64)
    xy = np.asarray(candidates.get("xy", []), np.float64).reshape(-1, 2)
    near = np.zeros((n, k), bool)
    for j in range(k):
        pts = xy[joint == j]
        if pts.size:
            d = np.linalg.norm(keypoints[:, j, None, :2] - pts[None], axis=-1)
            near[:, j] = d.min(axis=1) <= tolerance
    return near


def annotations_from_coco(anns: list[dict[str, Any]], num_joints: int) -> Annotations:
    """One image's COCO keypoint annotations (x, y, v; no tags) as document annotations."""
    n = len(anns)
    kps = np.array([a["keypoints"] for a in anns], np.float64).reshape(n, num_joints, 3)
    kps[kps[:, :, 2] <= 0] = 0.0
    return Annotations.build(
        ids=[a.get("id", r + 1) for r, a in enumerate(anns)] if _unique_ids(anns) else np.arange(1, n + 1),
        keypoints=kps,
        scores=[[a.get("score", np.nan)] * num_joints for a in anns] if n else np.zeros((0, num_joints)),
        tags=np.full((n, num_joints, 0), np.nan),
        origin=np.zeros((n, num_joints), np.int8),
        instance_score=[a.get("score", np.nan) for a in anns],
        status=np.zeros(n, np.int8),
    )


def _unique_ids(anns: list[dict[str, Any]]) -> bool:
    ids = [a.get("id") for a in anns]
    return all(isinstance(i, int) and i >= 0 for i in ids) and len(set(ids)) == len(ids)


def group_by_image(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Annotations (or candidate records) grouped by their `image_id`."""
    out: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(int(item["image_id"]), []).append(item)
    return out
