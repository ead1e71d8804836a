"""How doubtful a prediction is, from plain arrays: weak peaks, tags near another instance's mean,
joints refinement filled in or that are missing.

The labelling companion sorts images by `image_doubt` so that a person looks at the doubtful ones first;
the loop benchmark (`benchmarks/bench_loop.py`) measures how well it picks the images worth correcting.
"""

from __future__ import annotations

import numpy as np


def instance_mean_tags(present: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """(N, D) mean tag of each instance over its present joints with a known tag; nan when none.

    `present` (N, K) bool, `tags` (N, K, D) with nan where unknown.
    """
    valid = present[:, :, None] & np.isfinite(tags)
    count = valid.sum(axis=1)
    total = np.where(valid, tags, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def keypoint_doubt(present: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """(N, K) doubt in [0, 1] of every keypoint: d_own / (d_own + d_nearest_other); nan when undefined.

    `present` (N, K) bool, `tags` (N, K, D) (nan where unknown). d_own is the distance from a keypoint's
    tag to its own instance's mean tag, d_nearest_other to the nearest other instance's. 0 means the tag
    equals its own instance's mean; above 0.5 it is closer to another instance's mean, i.e. probably
    grouped wrongly. Undefined (nan) for absent joints, unknown tags, or fewer than two instances with tags.
    """
    tags = np.asarray(tags, np.float64)
    n, k = present.shape
    out = np.full((n, k), np.nan)
    means = instance_mean_tags(present, tags)
    usable = np.isfinite(means).all(axis=1)
    if n < 2 or usable.sum() < 2 or tags.shape[2] == 0:
        return out
    # dist[i, k, j]: distance from instance i's joint k tag to instance j's mean tag.
    dist = np.linalg.norm(tags[:, :, None, :] - means[None, None, :, :], axis=-1)
    dist[:, :, ~usable] = np.inf
    rows = np.arange(n)
    own = dist[rows, :, rows]
    others = dist.copy()
    others[rows, :, rows] = np.inf
    nearest = others.min(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        doubt = np.where(own + nearest > 0, own / (own + nearest), 0.0)
    keep = present & np.isfinite(tags).all(axis=2) & usable[:, None] & np.isfinite(nearest)
    out[keep] = doubt[keep]
    return out


def tag_doubt(present: np.ndarray, tags: np.ndarray) -> float:
    """An image's grouping doubt: its largest keypoint doubt (nan when no keypoint doubt is defined)."""
    doubt = keypoint_doubt(present, tags)
    return float(np.nanmax(doubt)) if np.isfinite(doubt).any() else float("nan")


def joint_doubt(
    keypoints: np.ndarray,
    tags: np.ndarray,
    refined: np.ndarray,
    instance_score: np.ndarray,
    min_instance_score: float = 0.2,
) -> np.ndarray:
    """(N, K) how likely each joint of an instance is wrong or missing, in [0, 1]; nan for weak instances.

    `keypoints` (N, K, 3) x, y, score (score 0 = absent), `tags` (N, K, D), `refined` (N, K) bool (filled
    in by refinement), `instance_score` (N,). For an instance scoring at least `min_instance_score`: a
    detected joint's doubt is 1 - score x (1 - tag doubt) (a weak heatmap peak, or a tag nearer another
    instance's, both make it doubtful); a refined-in or missing joint's is 1. Weaker instances (fragments
    and false detections) are left out (nan).
    """
    present = keypoints[:, :, 2] > 0
    main = np.asarray(instance_score) >= min_instance_score
    tag = np.nan_to_num(keypoint_doubt(present & main[:, None], tags), nan=0.0)
    detected = present & ~np.asarray(refined, bool)
    confidence = np.where(detected, np.clip(keypoints[:, :, 2], 0, 1) * (1 - tag), 0.0)
    return np.where(main[:, None], 1 - confidence, np.nan)


def image_doubt(
    keypoints: np.ndarray,
    tags: np.ndarray,
    refined: np.ndarray,
    instance_score: np.ndarray,
    min_instance_score: float = 0.2,
    checked: np.ndarray | None = None,
) -> float:
    """How much of an image is probably wrong: the sum of its `joint_doubt` over the instances no person
    has `checked` ((N,) bool; None: none checked), 0 without instances."""
    doubt = joint_doubt(keypoints, tags, refined, instance_score, min_instance_score)
    if checked is not None:
        doubt = doubt[~np.asarray(checked, bool)]
    return float(np.nansum(doubt))
