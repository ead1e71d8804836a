"""COCO keypoint AP/AR of predictions against ground truth, with per-joint OKS sigmas from the schema."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.jsonfile import read_json
from aegroup.schema import PoseSchema, builtin_schemas, load_schema

METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
"""Names of COCOeval's ten keypoint statistics, in `COCOeval.stats` order."""


def evaluate(
    gt_json: str | Path | dict[str, Any],
    results: str | Path | Sequence[dict[str, Any]] | Any,
    schema: PoseSchema | str | Path | None = None,
    categories: Sequence[int | str] | None = None,
) -> dict[str, float]:
    """COCO keypoint metrics (AP, AP50, AP75, APm, APl, AR, ...) of `results` against `gt_json`.

    `gt_json`: a COCO keypoints file, or such a dict in memory (e.g. `PoseDataset.ground_truth()` of frames
    from any pose file); OKS sigmas are the schema's.
    `results`: an aegroup results file, a plain COCO results JSON list, a list of result dicts or a
    `ResultsFile`. Evaluation is category-agnostic (every keypoint category of the ground truth that
    matches the schema counts as one class), so predictions need no category id matching. Without a
    `schema`, the results file's schema is used, else the ground truth's first keypoint category.
    """
    from pycocotools.cocoeval import COCOeval  # heavy import, only when evaluating

    from aegroup.io.coco import index_coco, load_coco, parse_coco

    schema = load_schema(schema) if schema is not None else _infer_schema(gt_json, results)
    if isinstance(gt_json, dict):
        gt = parse_coco(gt_json, Path("ground truth"), schema, categories)
    else:
        gt = load_coco(gt_json, schema, categories)
    wanted = set(gt.category_ids)
    data = dict(gt.coco.dataset)
    # One class: every chosen category becomes category 1 (COCOeval's useCats=0 does not work for keypoints).
    data["annotations"] = [
        dict(_complete_gt(a), category_id=1) for a in data["annotations"] if a.get("category_id") in wanted
    ]
    data["categories"] = [schema.to_coco_category(1)]
    gt_index = index_coco(data)
    dets = _result_annotations(results, schema, set(gt.image_ids))
    if not dets or not data["annotations"]:
        return dict.fromkeys(METRICS, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        dt_index = gt_index.loadRes([dict(d, category_id=1) for d in dets])
        ev = COCOeval(gt_index, dt_index, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(schema.oks_sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # COCOeval reports -1 where a statistic has no ground truth (e.g. no medium instances): report 0 then.
    return {name: max(float(v), 0.0) for name, v in zip(METRICS, ev.stats, strict=True)}


def _infer_schema(gt_json: str | Path | dict[str, Any], results: Any) -> PoseSchema:
    """The results file's schema, else the ground truth's first keypoint category (a built-in if one fits)."""
    from aegroup.io.coco import read_coco_json
    from aegroup.io.results import RESULTS_FORMAT, ResultsFile, load_results

    if isinstance(results, ResultsFile):
        return results.pose_schema
    if isinstance(results, (str, Path)):
        with contextlib.suppress(OSError, UnicodeDecodeError, json.JSONDecodeError):
            raw = json.loads(Path(results).read_text(encoding="utf-8"))
            if isinstance(raw, dict) and raw.get("format") == RESULTS_FORMAT:
                return load_results(results).pose_schema
    data = gt_json if isinstance(gt_json, dict) else read_coco_json(gt_json)
    cats = [c for c in data.get("categories") or [] if isinstance(c, dict) and c.get("keypoints")]
    if not cats:
        raise AegroupError(f"{gt_json}: field 'categories': no category lists 'keypoints'")
    joints = [str(j) for j in cats[0]["keypoints"]]
    # A built-in skeleton with the same joints carries real OKS sigmas (e.g. COCO's) instead of the default.
    for name in builtin_schemas():
        builtin = load_schema(name)
        if builtin.joints == joints:
            return builtin
    return PoseSchema.from_coco_category(cats[0])


def _complete_gt(ann: dict[str, Any]) -> dict[str, Any]:
    """A ground-truth annotation with the fields COCOeval needs (`area`, `num_keypoints`, `iscrowd`)."""
    ann = dict(ann)
    kps = np.asarray(ann.get("keypoints") or [], dtype=np.float64).reshape(-1, 3)
    ann.setdefault("iscrowd", 0)
    ann.setdefault("num_keypoints", int((kps[:, 2] > 0).sum()))
    if "area" not in ann:
        if "bbox" in ann:
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        else:
            xy = kps[kps[:, 2] > 0, :2]
            ann["area"] = float(np.prod(xy.max(0) - xy.min(0))) if len(xy) else 0.0
    return ann


def _result_annotations(results: Any, schema: PoseSchema, image_ids: set[int]) -> list[dict[str, Any]]:
    """Plain COCO result dicts from any accepted `results` form, checked against the schema and images."""
    from aegroup.io.results import ResultsFile, load_results

    source = "results"
    if isinstance(results, (str, Path)):
        source = str(results)
        path = Path(results)
        raw = read_json(path, "results file")
        results = load_results(path) if isinstance(raw, dict) else raw
    if isinstance(results, ResultsFile):
        if results.pose_schema.joints != schema.joints:
            raise AegroupError(
                f"{source}: field 'schema': '{results.pose_schema.name}' joints differ from '{schema.name}'"
            )
        results = [a.model_dump(exclude_none=True) for a in results.annotations]
    if not isinstance(results, list):
        raise AegroupError(f"{source}: expected a list of COCO keypoint results or an aegroup results file")
    out = []
    for i, det in enumerate(results):
        where = f"{source}: field '[{i}]"
        if not isinstance(det, dict) or not {"image_id", "keypoints", "score"} <= det.keys():
            raise AegroupError(f"{where}': needs 'image_id', 'keypoints' and 'score'")
        if len(det["keypoints"]) != 3 * schema.num_joints:
            raise AegroupError(
                f"{where}.keypoints': {len(det['keypoints'])} values, expected 3 x {schema.num_joints} joints"
            )
        if det["image_id"] not in image_ids:
            raise AegroupError(f"{where}.image_id': image {det['image_id']} is not in the ground truth")
        out.append({k: det[k] for k in ("image_id", "keypoints", "score")})
    return out


def format_table(metrics: dict[str, float]) -> str:
    """The metrics as a two-line fixed-width table (names, then values to three decimals)."""
    names = [m for m in METRICS if m in metrics]
    return " ".join(f"{n:>6}" for n in names) + "\n" + " ".join(f"{metrics[n]:6.3f}" for n in names)
