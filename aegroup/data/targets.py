"""Training targets at the output resolution: Gaussian heatmaps and the AE grouping index array."""

from __future__ import annotations

import math

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
    inst, joint = np.nonzero(labelled_inside(keypoints, height, width))
    if inst.size == 0:
        return out
    # One (P, P) patch per drawn joint around its rounded pixel, all joints at once.
    radius = TRUNCATE * sigma
    offsets = np.arange(-(math.ceil(radius) + 1), math.ceil(radius) + 2)
    centre = keypoints[inst, joint, :2]  # (J, 2)
    col, row = round_pixels(keypoints[inst, joint])
    cols = col[:, None] + offsets  # (J, P)
    rows = row[:, None] + offsets
    dx = cols - centre[:, 0:1]
    dy = rows - centre[:, 1:2]
    gx = np.where((np.abs(dx) <= radius) & (cols >= 0) & (cols < width), np.exp(-(dx**2) / (2 * sigma**2)), 0)
    gy = np.where(
        (np.abs(dy) <= radius) & (rows >= 0) & (rows < height), np.exp(-(dy**2) / (2 * sigma**2)), 0
    )
    values = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    # Out-of-map patch cells are clipped onto the border with value 0, which the max ignores.
    flat = (joint[:, None, None] * height + rows.clip(0, height - 1)[:, :, None]) * width
    flat = flat + cols.clip(0, width - 1)[:, None, :]
    np.maximum.at(out.reshape(-1), flat.reshape(-1), values.reshape(-1))
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
