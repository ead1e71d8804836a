"""A labelling project started from a results file: the predictions a person is to review, as arrays.

What `aegroup label --results` opens, built without the labeller, so that a script (the loop benchmark, a
review done by other means) can write a person's corrections into a project and `aegroup export` it.
"""

from __future__ import annotations

import numpy as np

from aegroup.io.project import Project, ProjectCandidates, ProjectImage, ProjectInstances
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.io.results import CandidateRecord, ResultAnnotation, ResultsFile


def project_from_results(results: ResultsFile, image_dir: str, source: str = "") -> Project:
    """A project of every image of `results`, unreviewed: predictions as predicted instances (joint origins
    from the file's `origin`, detected when absent), instances flagged `user` as corrected ones, and the
    stored candidates. `image_dir` is stored as given (relative to where the project will be saved)."""
    dims = {len(a.tags[0]) for a in results.annotations if a.tags}
    tag_dim = dims.pop() if len(dims) == 1 else 0
    by_image: dict[int, list[ResultAnnotation]] = {im.id: [] for im in results.images}
    for ann in results.annotations:
        by_image[ann.image_id].append(ann)
    candidates = {rec.image_id: rec for rec in results.candidates or []}
    k = results.pose_schema.num_joints
    images = [
        ProjectImage(
            id=im.id,
            file_name=im.file_name,
            width=im.width,
            height=im.height,
            instances=_instances(by_image[im.id], k, tag_dim),
            candidates=_candidates(candidates.get(im.id), tag_dim),
        )
        for im in results.images
    ]
    return Project(
        schema=results.pose_schema, image_dir=image_dir, source=source, tag_dim=tag_dim, images=images
    )


def _instances(anns: list[ResultAnnotation], k: int, tag_dim: int) -> ProjectInstances:
    """One image's result annotations as project instance arrays."""
    n = len(anns)
    values = np.array([a.keypoints for a in anns], np.float64).reshape(n, k, 3)
    user = np.array([bool(a.user) for a in anns], bool)
    present = values[:, :, 2] > 0
    # A prediction's third value is its score (visible when > 0); a person's is its visibility.
    visibility = np.where(user[:, None], values[:, :, 2], 2.0) * present
    keypoints = np.where(present[:, :, None], np.dstack([values[:, :, :2], visibility]), 0.0)
    scores = np.where(present & ~user[:, None], values[:, :, 2], np.nan)
    tags = np.full((n, k, tag_dim), np.nan)
    # Without the file's `origin`: a prediction's joints were detected, a person's placed by them.
    origin = np.repeat(np.where(user, JointOrigin.CORRECTED, JointOrigin.PREDICTED)[:, None], k, axis=1)
    for row, ann in enumerate(anns):
        if ann.tags is not None and tag_dim:
            tags[row] = np.where(
                present[row, :, None], np.array(ann.tags, np.float64).reshape(k, tag_dim), np.nan
            )
        if ann.origin is not None:
            origin[row] = ann.origin
    return ProjectInstances(
        ids=np.arange(1, n + 1, dtype=np.int64),
        status=np.where(user, InstanceStatus.CORRECTED, InstanceStatus.PREDICTED).astype(np.int8),
        score=np.array([np.nan if a.user else a.score for a in anns], np.float64),
        keypoints=keypoints,
        scores=scores,
        tags=tags,
        origin=origin.astype(np.int8),
    )


def _candidates(record: CandidateRecord | None, tag_dim: int) -> ProjectCandidates | None:
    """A results file's candidate record as project candidate arrays (None when the image has none)."""
    if record is None:
        return None
    m = len(record.joint)
    dim = len(record.tag[0]) if record.tag else tag_dim
    return ProjectCandidates(
        joint=np.array(record.joint, np.int64).reshape(m),
        xy=np.array(record.xy, np.float64).reshape(m, 2),
        score=np.array(record.score, np.float64).reshape(m),
        tag=np.array(record.tag, np.float64).reshape(m, dim),
    )
