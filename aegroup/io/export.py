"""Turn a results file (from `aegroup predict`) or a GUI project into a COCO keypoints training file.

Which joints become labels (written with their visibility; every other joint is written unlabelled, 0):

- a joint a person placed or moved (origin corrected / added), and every joint of an instance a person
  checked (status corrected / added: accepted, edited or drawn) or of an image a person marked reviewed:
  whatever a person saw and left is theirs;
- in an unchecked prediction, only the joints the network detected (origin predicted) scoring at least
  `min_keypoint_score`: a joint refinement filled in (origin refined) is a guess, not a label.

An unchecked prediction scoring below `min_score`, and an instance left without a label, is not written.
`only` picks the images: `all`, `reviewed` (marked reviewed) or `edited` (holding an instance a person
checked or a joint a person placed or moved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.coco import build_coco, save_coco
from aegroup.io.jsonfile import read_json
from aegroup.io.project import PROJECT_FORMAT, Project, load_project
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.io.results import RESULTS_FORMAT, ResultAnnotation, ResultsFile, load_results
from aegroup.schema import PoseSchema

ONLY = ("all", "reviewed", "edited")
"""Which images an export writes (`export_file`'s `only`)."""

PERSON = (JointOrigin.CORRECTED, JointOrigin.ADDED)
"""Joint origins that mean a person placed or moved the joint."""


def label_visibility(
    visibility: np.ndarray,
    origin: np.ndarray,
    checked: np.ndarray,
    scores: np.ndarray,
    min_keypoint_score: float = 0.0,
) -> np.ndarray:
    """(N, K) COCO visibility to export: `visibility` where the joint is a label, else 0 (module docstring).

    `visibility` (N, K) 0/1/2, `origin` (N, K) JointOrigin codes, `checked` (N,) bool (a person checked the
    instance or its image), `scores` (N, K) keypoint scores (nan: unknown, passes `min_keypoint_score`).
    """
    person = np.isin(origin, PERSON) | np.asarray(checked, bool)[:, None]
    detected = (origin == JointOrigin.PREDICTED) & ~(scores < min_keypoint_score)
    return np.where(person | detected, visibility, 0).astype(np.int64)


def edited_instances(status: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(N,) bool: instances a person checked (status corrected / added) or with a joint a person placed."""
    return (status != InstanceStatus.PREDICTED) | np.isin(origin, PERSON).any(axis=1)


def check_only(only: str) -> str:
    """`only` when it is one of ONLY, else a one-line error."""
    if only not in ONLY:
        raise AegroupError(f"--only: '{only}' is not one of {', '.join(ONLY)}")
    return only


def results_to_coco(
    results: ResultsFile, min_score: float = 0.0, min_keypoint_score: float = 0.0, only: str = "all"
) -> dict[str, Any]:
    """COCO keypoints dict from a results file: predictions as pseudo-labels (detected joints only, instances
    scoring at least `min_score`), instances flagged `user` as a person left them; `only` 'edited' keeps the
    images holding a person's instance or joint ('reviewed' is refused: results files record no review)."""
    if check_only(only) == "reviewed":
        raise AegroupError("--only reviewed: a results file records no review; export the labelling project")
    k = results.pose_schema.num_joints
    kept: dict[int, list[np.ndarray]] = {im.id: [] for im in results.images}
    edited: set[int] = set()
    for ann in results.annotations:
        keypoints, scores, origin, user = _result_rows(ann, k)
        if user or np.isin(origin, PERSON).any():
            edited.add(ann.image_id)
        if not user and ann.score < min_score:
            continue
        keypoints[:, 2] = label_visibility(
            keypoints[None, :, 2], origin[None], np.array([user]), scores[None], min_keypoint_score
        )[0]
        if (keypoints[:, 2] > 0).any():
            kept[ann.image_id].append(keypoints)
    images = [im.model_dump() for im in results.images if only == "all" or im.id in edited]
    return _coco(results.pose_schema, images, kept)


def _result_rows(ann: ResultAnnotation, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(K, 3) x, y, v, (K,) joint scores (nan for a person's), (K,) origin codes and whether a person
    labelled the instance, of one results annotation."""
    values = np.asarray(ann.keypoints, np.float64).reshape(k, 3)
    user = bool(ann.user)
    keypoints = values.copy()
    scores = np.full(k, np.nan) if user else values[:, 2]
    if not user:
        # A prediction says nothing about occlusion: every found joint (score > 0) is visible (v=2).
        keypoints[:, 2] = np.where(values[:, 2] > 0, 2, 0)
    default = JointOrigin.CORRECTED if user else JointOrigin.PREDICTED
    origin = np.asarray(ann.origin if ann.origin is not None else [default] * k, np.int8)
    return keypoints, scores, origin, user


def project_to_coco(
    path: str | Path | Project, min_score: float = 0.0, min_keypoint_score: float = 0.0, only: str = "all"
) -> dict[str, Any]:
    """COCO keypoints dict from a GUI project (a file or a loaded `Project`): the images `only` picks, each
    joint written as the module docstring says, with the visibility the person left."""
    check_only(only)
    project = path if isinstance(path, Project) else load_project(path)
    if any(image.video is not None for image in project.images):
        where = "the project" if isinstance(path, Project) else path
        raise AegroupError(
            f"{where}: field 'images': the project labels video frames; write COCO with "
            f"`aegroup convert {where} OUT.json`, which extracts the frames as PNG"
        )
    k = project.pose_schema.num_joints
    kept: dict[int, list[np.ndarray]] = {}
    images = []
    for image in project.images:
        inst = image.instances
        status = np.asarray(inst.status).reshape(-1)
        origin = np.asarray(inst.origin).reshape(-1, k)
        if (only == "reviewed" and not image.reviewed) or (
            only == "edited" and not edited_instances(status, origin).any()
        ):
            continue
        keypoints = np.asarray(inst.keypoints, dtype=np.float64).reshape(-1, k, 3).copy()
        checked = (status != InstanceStatus.PREDICTED) | image.reviewed
        # A nan score (unknown) counts as 0: such an unchecked instance only passes min_score 0.
        score = np.nan_to_num(np.asarray(inst.instance_score, dtype=np.float64).reshape(-1), nan=0.0)
        scores = np.asarray(inst.scores, np.float64).reshape(-1, k)
        keypoints[:, :, 2] = label_visibility(keypoints[:, :, 2], origin, checked, scores, min_keypoint_score)
        keep = (checked | (score >= min_score)) & (keypoints[:, :, 2] > 0).any(axis=1)
        kept[image.id] = list(keypoints[keep])
        images.append(
            {"id": image.id, "file_name": image.file_name, "width": image.width, "height": image.height}
        )
    return _coco(project.pose_schema, images, kept)


def _coco(
    schema: PoseSchema, images: list[dict[str, Any]], kept: dict[int, list[np.ndarray]]
) -> dict[str, Any]:
    empty = np.zeros((0, schema.num_joints, 3))
    keypoints = {i: np.stack(v) if v else empty for i, v in kept.items()}
    return build_coco(schema, images, keypoints)


def file_format(path: str | Path) -> str:
    """The `format` field of an aegroup JSON file ('aegroup-results' or 'aegroup-project')."""
    path = Path(path)
    data = read_json(path)
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt not in (RESULTS_FORMAT, PROJECT_FORMAT):
        raise AegroupError(
            f"{path}: field 'format': expected '{RESULTS_FORMAT}' (aegroup predict) or '{PROJECT_FORMAT}' "
            "(aegroup label)"
        )
    return str(fmt)


def export_file(
    source: str | Path,
    out: str | Path,
    min_score: float = 0.0,
    min_keypoint_score: float = 0.0,
    only: str = "all",
) -> dict[str, int]:
    """Convert a results or project file into a COCO training file (atomic); return image/instance counts."""
    check_only(only)
    if file_format(source) == RESULTS_FORMAT:
        coco = results_to_coco(load_results(source), min_score, min_keypoint_score, only)
    else:
        coco = project_to_coco(source, min_score, min_keypoint_score, only)
    save_coco(out, coco)
    return {"images": len(coco["images"]), "instances": len(coco["annotations"])}
