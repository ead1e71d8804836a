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
    k, h, w = heat.shape
    present = keypoints[:, :, 2] > 0
    joint, who = np.nonzero(~present.T)  # the (joint, instance) pairs to fill, grouped by joint
    if joint.size == 0:
        return
    from aegroup.decode.kernels import refine_pixels  # numba: loaded on first decode

    means = mean_tags(keypoints, joint_tags)[who]
    plane = np.ascontiguousarray(heat).reshape(k, h * w)
    best = refine_pixels(plane, np.ascontiguousarray(tags).reshape(k, h * w, -1), joint, means)
    value = plane[joint, best]
    fill = value > 0
    joint, who, best = joint[fill], who[fill], best[fill]
    keypoints[who, joint, 2] = value[fill]
    y, x = np.divmod(best, w)
    joint_tags[who, joint] = tags[joint, y, x]
    keypoints[who, joint, :2] = (
        quarter_shift(heat, joint, y, x) if adjust else np.stack([x, y], axis=1).astype(np.float32)
    )
