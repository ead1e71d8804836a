"""How doubtful a grouping is, from the tags: keypoints whose tag sits near another instance's mean."""

from __future__ import annotations

import numpy as np

from aegroup_gui.model.document import Annotations


def instance_mean_tags(ann: Annotations) -> np.ndarray:
    """(N, D) mean tag of each instance over its present joints with a known tag; nan when none."""
    valid = ann.present()[:, :, None] & np.isfinite(ann.tags)
    count = valid.sum(axis=1)
    total = np.where(valid, ann.tags, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def keypoint_doubt(ann: Annotations) -> np.ndarray:
    """(N, K) doubt in [0, 1] of every keypoint: d_own / (d_own + d_nearest_other); nan when undefined.

    0 means the tag equals its own instance's mean; above 0.5 it is closer to another instance's mean,
    i.e. probably grouped wrongly.
    """
    n, k = ann.scores.shape
    out = np.full((n, k), np.nan)
    means = instance_mean_tags(ann)
    usable = np.isfinite(means).all(axis=1)
    if n < 2 or usable.sum() < 2 or ann.tag_dim == 0:
        return out
    # dist[i, k, j]: distance from instance i's joint k tag to instance j's mean tag.
    dist = np.linalg.norm(ann.tags[:, :, None, :] - means[None, None, :, :], axis=-1)
    dist[:, :, ~usable] = np.inf
    rows = np.arange(n)
    own = dist[rows, :, rows]
    others = dist.copy()
    others[rows, :, rows] = np.inf
    nearest = others.min(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        doubt = np.where(own + nearest > 0, own / (own + nearest), 0.0)
    keep = ann.present() & np.isfinite(ann.tags).all(axis=2) & usable[:, None] & np.isfinite(nearest)
    out[keep] = doubt[keep]
    return out


def image_uncertainty(ann: Annotations) -> float:
    """The largest keypoint doubt of an image (nan when no tags or fewer than two instances)."""
    doubt = keypoint_doubt(ann)
    return float(np.nanmax(doubt)) if np.isfinite(doubt).any() else float("nan")
