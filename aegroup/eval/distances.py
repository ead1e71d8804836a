"""Joint errors in image pixels: every labelled instance matched to a prediction by OKS, as COCO and SLEAP
match, and the distance of each labelled joint to the matched prediction's joint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.eval.coco_eval import _complete_gt, _infer_schema, _result_annotations
from aegroup.schema import PoseSchema, load_schema


@dataclass(frozen=True)
class JointDistances:
    """Distances of the labelled joints of every labelled instance to its matched prediction's joints."""

    distances: np.ndarray
    """(N, K) float64 image pixels per labelled instance and joint: NaN where the joint is not labelled,
    inf where the matched prediction lacks it (score 0) or no prediction matched the instance."""
    matched: np.ndarray
    """(N,) bool: a prediction was matched to the instance."""

    def labelled(self) -> np.ndarray:
        """(J,) distances of every labelled joint (inf where missed), flattened."""
        return self.distances[~np.isnan(self.distances)]

    def median(self) -> float:
        """Median distance over the labelled joints (missed joints count as infinitely far)."""
        values = self.labelled()
        return float(np.median(values)) if values.size else float("nan")

    def within(self, pixels: float) -> float:
        """Share of the labelled joints at most `pixels` from the matched prediction's joint."""
        values = self.labelled()
        return float(np.mean(values <= pixels)) if values.size else float("nan")


def oks(truth: np.ndarray, guess: np.ndarray, area: float, sigmas: np.ndarray) -> float:
    """COCO's object keypoint similarity of a (K, 3) prediction to a (K, 3) labelled instance of `area`."""
    labelled = truth[:, 2] > 0
    if not labelled.any():
        return 0.0
    d2 = ((truth[:, :2] - guess[:, :2]) ** 2).sum(axis=1)
    similarity = np.exp(-d2 / ((2 * sigmas) ** 2 * (area + np.spacing(1)) * 2))
    return float(similarity[labelled].mean())


def match(
    truth: np.ndarray, areas: np.ndarray, guesses: np.ndarray, scores: np.ndarray, sigmas: np.ndarray
) -> list[tuple[int, int]]:
    """(instance, prediction) pairs of one image: predictions, highest score first, each take the
    unmatched instance of highest OKS (at any OKS, as SLEAP's evaluation matches).

    `truth` (N, K, 3) and `areas` (N,) are the labelled instances, `guesses` (P, K, 3) and `scores` (P,)
    the predictions (x, y, score per joint), `sigmas` (K,) the OKS sigmas.
    """
    free = list(range(len(truth)))
    pairs = []
    for p in np.argsort(-np.asarray(scores), kind="stable"):
        if not free:
            break
        best = max(free, key=lambda g: oks(truth[g], guesses[p], float(areas[g]), sigmas))
        free.remove(best)
        pairs.append((best, int(p)))
    return pairs


def joint_distances(
    gt_json: str | Path | dict[str, Any],
    results: str | Path | Sequence[dict[str, Any]] | Any,
    schema: PoseSchema | str | Path | None = None,
) -> JointDistances:
    """Pixel distances of the labelled joints of `gt_json`'s instances to their matched predictions.

    Takes what `aegroup.evaluate` takes (a COCO file or dict; a results file, list or `ResultsFile`);
    crowd annotations and annotations without labelled joints are left out; instances are matched with the
    schema's OKS sigmas.
    """
    from aegroup.io.coco import load_coco, parse_coco

    schema = load_schema(schema) if schema is not None else _infer_schema(gt_json, results)
    if isinstance(gt_json, dict):
        gt = parse_coco(gt_json, Path("ground truth"), schema)
    else:
        gt = load_coco(gt_json, schema)
    by_image: dict[int, list[dict[str, Any]]] = {}
    for det in _result_annotations(results, schema, set(gt.image_ids)):
        by_image.setdefault(int(det["image_id"]), []).append(det)
    sigmas = np.asarray(schema.oks_sigmas, dtype=np.float64)
    rows: list[np.ndarray] = []
    matched: list[bool] = []
    for image_id in gt.image_ids:
        anns = [_complete_gt(a) for a in gt.labelled(image_id)]
        truth = np.array([np.reshape(a["keypoints"], (-1, 3)) for a in anns], dtype=np.float64)
        dets = by_image.get(image_id, [])
        guesses = np.array([np.reshape(d["keypoints"], (-1, 3)) for d in dets], dtype=np.float64)
        distances = np.full((len(anns), schema.num_joints), np.inf)
        found = np.zeros(len(anns), dtype=bool)
        areas = np.array([a["area"] for a in anns], dtype=np.float64)
        for g, p in match(truth, areas, guesses, np.array([d["score"] for d in dets]), sigmas):
            distances[g] = np.linalg.norm(truth[g, :, :2] - guesses[p, :, :2], axis=1)
            distances[g, guesses[p, :, 2] <= 0] = np.inf
            found[g] = True
        if len(anns):
            distances[truth[..., 2] <= 0] = np.nan
        rows.append(distances)
        matched.extend(found)
    return JointDistances(
        np.concatenate(rows) if rows else np.zeros((0, schema.num_joints)), np.array(matched, dtype=bool)
    )
