"""Turn a results file (from `aegroup predict`) or a GUI project into a COCO keypoints training file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.coco import build_coco, save_coco
from aegroup.io.jsonfile import read_json
from aegroup.io.project import PROJECT_FORMAT, load_project
from aegroup.io.provenance import InstanceStatus
from aegroup.io.results import RESULTS_FORMAT, ResultsFile, load_results
from aegroup.schema import PoseSchema


def results_to_coco(
    results: ResultsFile, min_score: float = 0.0, min_keypoint_score: float = 0.0
) -> dict[str, Any]:
    """COCO keypoints dict from predictions: instances scoring below `min_score` are dropped, and joints
    scoring below `min_keypoint_score` (or exactly 0, i.e. not found) become unlabelled (v=0)."""
    schema = results.pose_schema
    kept: dict[int, list[np.ndarray]] = {im.id: [] for im in results.images}
    for ann in results.annotations:
        if ann.score < min_score:
            continue
        kpts = np.asarray(ann.keypoints, dtype=np.float64).reshape(schema.num_joints, 3)
        found = (kpts[:, 2] > 0) & (kpts[:, 2] >= min_keypoint_score)
        if found.any():
            out = np.zeros_like(kpts)
            out[found, :2] = kpts[found, :2]
            # A prediction says nothing about occlusion, so every kept joint is written as visible (v=2).
            out[found, 2] = 2
            kept[ann.image_id].append(out)
    return _coco(schema, [im.model_dump() for im in results.images], kept)


def project_to_coco(path: str | Path, min_score: float = 0.0) -> dict[str, Any]:
    """COCO keypoints dict from a GUI project: corrected and added instances are always kept, predicted
    ones only when their score reaches `min_score`; joint visibility is taken as the user left it."""
    project = load_project(path)
    if any(image.video is not None for image in project.images):
        raise AegroupError(
            f"{path}: field 'images': the project labels video frames; write COCO with "
            f"`aegroup convert {path} OUT.json`, which extracts the frames as PNG"
        )
    k = project.pose_schema.num_joints
    kept: dict[int, list[np.ndarray]] = {}
    for image in project.images:
        inst = image.instances
        keypoints = np.asarray(inst.keypoints, dtype=np.float64).reshape(-1, k, 3)
        # A nan score (unknown) counts as 0: such a predicted instance only passes min_score 0.
        score = np.nan_to_num(np.asarray(inst.instance_score, dtype=np.float64).reshape(-1), nan=0.0)
        keep = (np.asarray(inst.status).reshape(-1) != InstanceStatus.PREDICTED) | (score >= min_score)
        keep &= (keypoints[:, :, 2] > 0).any(axis=1)
        kept[image.id] = list(keypoints[keep])
    images = [
        {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
        for im in project.images
    ]
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
    source: str | Path, out: str | Path, min_score: float = 0.0, min_keypoint_score: float = 0.0
) -> dict[str, int]:
    """Convert a results or project file into a COCO training file (atomic); return image/instance counts."""
    if file_format(source) == RESULTS_FORMAT:
        coco = results_to_coco(load_results(source), min_score, min_keypoint_score)
    else:
        coco = project_to_coco(source, min_score)
    save_coco(out, coco)
    return {"images": len(coco["images"]), "instances": len(coco["annotations"])}
