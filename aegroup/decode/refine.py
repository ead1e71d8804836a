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
    (a close tag outweighs any heatmap value in [0, 1]); it is kept when its heatmap value is positive.
    `heat` (K, H, W), `tags` (K, H, W, D), `keypoints` (N, K, 3) heatmap pixels, `joint_tags` (N, K, D).
    """
    if keypoints.shape[0] == 0:
        return
    w = heat.shape[2]
    dim = tags.shape[-1]
    mean = mean_tags(keypoints, joint_tags)
    missing = keypoints[:, :, 2] <= 0
    for k in np.flatnonzero(missing.any(axis=0)):
        who = np.flatnonzero(missing[:, k])
        plane = heat[k].reshape(-1)
        tag_k = tags[k].reshape(-1, dim)
        if dim == 1:
            dist = np.abs(tag_k[:, 0][None, :] - mean[who, 0][:, None])
        else:
            # Accumulate per dimension: never materialises an (n, H*W, D) array.
            dist = np.zeros((who.size, plane.size), np.float32)
            for d in range(dim):
                dist += (tag_k[:, d][None, :] - mean[who, d][:, None]) ** 2
            np.sqrt(dist, out=dist)
        np.rint(dist, out=dist)
        np.subtract(plane[None, :], dist, out=dist)
        best = dist.argmax(axis=1)
        value = plane[best]
        fill = value > 0
        who, best, value = who[fill], best[fill], value[fill]
        y, x = np.divmod(best, w)
        kk = np.full(who.size, k)
        xy = quarter_shift(heat, kk, y, x) if adjust else np.stack([x, y], axis=1).astype(np.float32)
        keypoints[who, k, :2] = xy
        keypoints[who, k, 2] = value
        joint_tags[who, k] = tag_k[best]
