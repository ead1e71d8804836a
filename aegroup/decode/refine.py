"""Refinement: fill each instance's missing joints from the heatmaps, guided by the instance's mean tag."""

from __future__ import annotations

import numpy as np

from aegroup.decode.candidates import quarter_shift


def mean_tags(keypoints: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """(N, D) float32 mean tag of each instance's present joints (`keypoints` (N, K, 3), `tags` (N, K, D))."""
    present = keypoints[:, :, 2] > 0
    total = (tags.astype(np.float64) * present[:, :, None]).sum(axis=1)
    return (total / np.maximum(present.sum(axis=1), 1)[:, None]).astype(np.float32)


def refine(
    heat: np.ndarray, tags: np.ndarray, keypoints: np.ndarray, joint_tags: np.ndarray, adjust: bool
) -> None:
    """Fill missing joints in place, as in the references, for all instances of one image at once.

    For instance n missing joint k, the new location is `argmax(heat[k] - round(|tags[k] - mean_tag[n]|))`
    (first pixel in raster order on ties); it is kept when its heatmap value is positive.
    `heat` (K, H, W), `tags` (K, H, W, D), `keypoints` (N, K, 3) heatmap pixels, `joint_tags` (N, K, D).
    """
    if keypoints.shape[0] == 0:
        return
    w = heat.shape[2]
    mean = mean_tags(keypoints, joint_tags)
    missing = keypoints[:, :, 2] <= 0
    filled: list[tuple[np.ndarray, int, np.ndarray]] = []
    for k in np.flatnonzero(missing.any(axis=0)):
        who = np.flatnonzero(missing[:, k])
        plane = heat[k].reshape(-1)
        # (D, H*W) rows: every per-dimension pass below reads contiguous memory.
        columns = np.ascontiguousarray(tags[k].reshape(plane.size, -1).T)
        best = best_pixels(plane, columns, mean[who])
        fill = plane[best] > 0
        who, best = who[fill], best[fill]
        keypoints[who, k, 2] = plane[best]
        joint_tags[who, k] = columns[:, best].T
        filled.append((who, int(k), best))
    if not filled:
        return
    who = np.concatenate([f[0] for f in filled])
    joint = np.concatenate([np.full(f[0].size, f[1]) for f in filled])
    y, x = np.divmod(np.concatenate([f[2] for f in filled]), w)
    xy = quarter_shift(heat, joint, y, x) if adjust else np.stack([x, y], axis=1).astype(np.float32)
    keypoints[who, joint, :2] = xy


def tag_distance(columns: np.ndarray, means: np.ndarray) -> np.ndarray:
    """float32 (n, P) Euclidean distances of pixel tags `columns` (D, P) to `means` (n, D).

    One fixed operation order (sum of squares over d = 0..D-1, then sqrt), so every path agrees bit for bit.
    """
    diff = columns[0][None, :] - means[:, 0][:, None]
    if columns.shape[0] == 1:
        return np.abs(diff, out=diff)
    dist = np.square(diff, out=diff)
    for d in range(1, columns.shape[0]):
        diff = columns[d][None, :] - means[:, d][:, None]
        dist += np.square(diff, out=diff)
    return np.sqrt(dist, out=dist)


def best_pixels(plane: np.ndarray, columns: np.ndarray, means: np.ndarray) -> np.ndarray:
    """(n,) flat `argmax(plane - rint(dist(tag, mean_i)))` per mean, first in raster order on ties.

    `plane` (P,) heatmap, `columns` (D, P) pixel tags, `means` (n, D); one dense pass for all means
    (measured faster than windowed or block-bounded searches at 128 x 128 for up to 60 instances).
    """
    dist = tag_distance(columns, means)
    np.rint(dist, out=dist)
    return np.subtract(plane[None, :], dist, out=dist).argmax(axis=1)
