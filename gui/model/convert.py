"""Convert between the document and files: project files, results files, any pose file (`PoseSet`)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.io.native import reviewed_frame
from aegroup.io.poses import Frame, PoseSet, VideoRef
from aegroup.io.project import (
    PROJECT_VERSION,
    Project,
    ProjectCandidates,
    ProjectImage,
    ProjectInstances,
    ProjectVideo,
)
from aegroup.io.provenance import InstanceStatus, JointOrigin
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
        video=record.video,
        frame_index=record.frame_index,
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
    return ImageRecord(
        image.id,
        image.file_name,
        image.width,
        image.height,
        ann,
        image.reviewed,
        candidates,
        video=image.video,
        frame_index=image.frame_index,
    )


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


def _relative(path: Path, folder: Path) -> str:
    """`path` relative to `folder` when a relative path joins them, else as it is."""
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive on Windows
        return str(path)


def document_from_project(project: Project, project_path: Path) -> Document:
    """A document from a loaded project file (image folder and video paths resolved against its folder)."""
    schema, tag_dim = project.pose_schema, project.tag_dim
    folder = project_path.parent
    image_dir = Path(project.image_dir)
    if not image_dir.is_absolute():
        image_dir = folder / image_dir
    videos = [
        VideoRef(str((folder / v.path).resolve()), v.width, v.height, v.frames, v.dataset)
        for v in project.videos
    ]
    images = [image_from_project(im) for im in project.images]
    return Document(
        schema,
        images,
        tag_dim,
        image_dir=image_dir,
        source=project.source,
        videos=videos,
        tracks=project.tracks,
    )


def project_from_document(doc: Document, project_path: Path) -> Project:
    """The project file contents of a document (paths relative to the project's folder when possible)."""
    folder = project_path.parent
    image_dir = str(doc.image_dir or "") if doc.image_dir is None else _relative(doc.image_dir, folder)
    videos = [
        ProjectVideo.model_construct(
            path=_relative(Path(v.path), folder),
            width=v.width,
            height=v.height,
            frames=v.frames,
            dataset=v.dataset,
        )
        for v in doc.videos
    ]
    return Project.model_construct(
        format="aegroup-project",
        version=PROJECT_VERSION,
        pose_schema=doc.schema,
        image_dir=image_dir,
        source=doc.source,
        tag_dim=doc.tag_dim,
        videos=videos,
        tracks=list(doc.tracks),
        images=[image_to_project(doc.images[i]) for i in doc.kept()],
    )


def annotations_from_frame(frame: Frame, tag_dim: int) -> Annotations:
    """One `PoseSet` frame as document annotations: user instances corrected (their joints placed by a
    person), predictions predicted; absent joints (0, 0, 0) as the document stores them."""
    n, k = frame.keypoints.shape[:2]
    present = frame.present()
    keypoints = np.where(present[..., None], frame.keypoints, 0.0)
    user = frame.user
    tags = np.full((n, k, tag_dim), np.nan)
    if frame.tags is not None and tag_dim and frame.tags.shape[2] == tag_dim:
        tags = np.where(present[..., None], frame.tags, np.nan)
    return Annotations.build(
        ids=np.arange(1, n + 1),
        keypoints=keypoints,
        scores=np.where(present & ~user[:, None], frame.scores, np.nan),
        tags=tags,
        origin=np.where(user[:, None], JointOrigin.CORRECTED, JointOrigin.PREDICTED)
        * np.ones((n, k), np.int8),
        instance_score=np.where(user, np.nan, frame.instance_score),
        status=np.where(user, InstanceStatus.CORRECTED, InstanceStatus.PREDICTED),
        track=frame.track,
    )


def document_from_poses(poses: PoseSet, source: Path) -> Document:
    """A document from any pose file's `PoseSet`: image frames below its image folder, video frames by
    video and index, tracks and tags kept (tags only when every tagged frame has the same D)."""
    dims = {f.tags.shape[2] for f in poses.frames if f.tags is not None and f.num_instances}
    tag_dim = dims.pop() if len(dims) == 1 else 0
    images = [
        ImageRecord(
            f.id,
            f.file_name if f.video is None else None,
            f.width,
            f.height,
            annotations_from_frame(f, tag_dim),
            video=f.video,
            frame_index=f.frame_index if f.video is not None else None,
        )
        for f in poses.frames
    ]
    videos = [replace(v, path=str(Path(v.path).resolve())) for v in poses.videos]
    image_dir = None if poses.image_dir is None else Path(poses.image_dir).resolve()
    return Document(
        poses.schema,
        images,
        tag_dim,
        image_dir=image_dir,
        source=str(source),
        videos=videos,
        tracks=poses.tracks,
    )


def poses_from_document(doc: Document) -> PoseSet:
    """The document as a `PoseSet`: corrected and added instances are user instances (no scores),
    predicted ones predictions with their scores; tracks, tags and video frames kept."""
    frames = [reviewed_frame(doc.images[i], doc.images[i].annotations, doc.tag_dim > 0) for i in doc.kept()]
    return PoseSet(doc.schema, frames, list(doc.tracks), list(doc.videos), doc.image_dir)


def annotations_from_results(
    anns: list[dict[str, Any]], schema: PoseSchema, tag_dim: int, candidates: dict[str, Any] | None, size: int
) -> Annotations:
    """One image's results-file annotations (keypoints x, y, score; tags; track) as document annotations.

    A keypoint is marked refined-in when the file says so (optional per-joint `refined` flags) or when
    no stored candidate of its joint lies within a few pixels, i.e. grouping filled it in. An annotation
    flagged `user` holds x, y, v of a person's label: a corrected instance without scores.
    """
    k = schema.num_joints
    n = len(anns)
    kps = np.array([a["keypoints"] for a in anns], np.float64).reshape(n, k, 3)
    user = np.array([bool(a.get("user")) for a in anns], bool)
    scores = np.where(user[:, None], np.nan, kps[:, :, 2])
    present = kps[:, :, 2] > 0
    visibility = np.where(user[:, None], kps[:, :, 2], 2.0)
    keypoints = np.concatenate([kps[:, :, :2], np.where(present, visibility, 0.0)[:, :, None]], axis=2)
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
    origin[user] = JointOrigin.CORRECTED
    scores[~present] = np.nan
    tags[~present] = np.nan
    return Annotations.build(
        ids=np.arange(1, n + 1),
        keypoints=keypoints,
        scores=scores,
        tags=tags,
        origin=origin,
        instance_score=[np.nan if a.get("user") else a.get("score", np.nan) for a in anns],
        status=np.where(user, InstanceStatus.CORRECTED, InstanceStatus.PREDICTED),
        track=[-1 if a.get("track_id") is None else a["track_id"] for a in anns],
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


def group_by_image(items: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Annotations (or candidate records) grouped by their `image_id`."""
    out: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        out.setdefault(int(item["image_id"]), []).append(item)
    return out
