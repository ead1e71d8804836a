"""Training targets at the output resolution: Gaussian heatmaps and the AE grouping index array."""

from __future__ import annotations

import numpy as np

TRUNCATE = 3.0
"""Gaussians are cut to zero beyond this many sigmas from the joint (as in the reference implementations)."""


def labelled_inside(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, K) bool: joint is labelled (v > 0) and its rounded pixel lies inside a `height` x `width` map."""
    col, row = round_pixels(keypoints)
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    return (keypoints[..., 2] > 0) & inside


def round_pixels(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest pixel (column, row) of each (x, y), rounding halves up; shapes (N, K) int64."""
    col = np.floor(keypoints[..., 0] + 0.5).astype(np.int64)
    row = np.floor(keypoints[..., 1] + 0.5).astype(np.int64)
    return col, row


def render_heatmaps(keypoints: np.ndarray, height: int, width: int, sigma: float = 2.0) -> np.ndarray:
    """(K, H, W) float32 heatmaps: a unit Gaussian at each labelled joint, max over instances.

    `keypoints` is (N, K, 3) x, y, v in output pixels (pixel centres at integers). The Gaussian is centred on
    the sub-pixel position, so its sampled peak is the rounded pixel that `joint_indices` points at. Joints
    whose rounded pixel lies outside the map are not drawn.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, keypoints.shape[-2], 3)
    num_joints = keypoints.shape[1]
    out = np.zeros((num_joints, height, width), dtype=np.float32)
    if keypoints.shape[0] == 0:
        return out
    drawn = labelled_inside(keypoints, height, width)
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)
    radius = TRUNCATE * sigma
    for inst, draw in zip(keypoints, drawn, strict=True):
        if not draw.any():
            continue
        # Separable Gaussian: (K, W) and (K, H) factors, outer product per joint type.
        dx = xs[None, :] - inst[:, 0:1]
        dy = ys[None, :] - inst[:, 1:2]
        gx = np.where(np.abs(dx) <= radius, np.exp(-(dx**2) / (2 * sigma**2)), 0.0)
        gy = np.where(np.abs(dy) <= radius, np.exp(-(dy**2) / (2 * sigma**2)), 0.0)
        gx[~draw] = 0.0
        np.maximum(out, (gy[:, :, None] * gx[:, None, :]).astype(np.float32), out=out)
    return out


def joint_indices(keypoints: np.ndarray, height: int, width: int, max_instances: int) -> np.ndarray:
    """(M, K, 2) int64 grouping array: per labelled joint its flat tag index k*H*W + y*W + x and 1.

    Rows follow the instance order, skipping instances with no joint inside the map; unlabelled and
    outside joints, and unused rows, are (0, 0). Instances beyond `max_instances` are dropped.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, keypoints.shape[-2], 3)
    num_joints = keypoints.shape[1]
    out = np.zeros((max_instances, num_joints, 2), dtype=np.int64)
    valid = labelled_inside(keypoints, height, width)
    keep = np.flatnonzero(valid.any(axis=1))[:max_instances]
    if keep.size == 0:
        return out
    col, row = round_pixels(keypoints[keep])
    flat = np.arange(num_joints)[None, :] * height * width + row * width + col
    vis = valid[keep]
    out[: keep.size, :, 0] = np.where(vis, flat, 0)
    out[: keep.size, :, 1] = vis
    return out
