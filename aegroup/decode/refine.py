"""Refinement: fill each instance's missing joints from the heatmaps, guided by the instance's mean tag."""

from __future__ import annotations

import numpy as np

from aegroup.decode.candidates import quarter_shift

_MAX_LEVEL = 3
"""Largest rounded tag distance the windowed search covers; beyond it the dense search runs."""
_WINDOW_MIN = 16
"""From this many instances missing one joint, the windowed search beats one dense pass over all."""


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
    for k in np.flatnonzero(missing.any(axis=0)):
        who = np.flatnonzero(missing[:, k])
        plane = heat[k].reshape(-1)
        # (D, H*W) rows: every per-dimension pass below reads contiguous memory.
        columns = np.ascontiguousarray(tags[k].reshape(plane.size, -1).T)
        best = best_pixels(plane, columns, mean[who])
        value = plane[best]
        fill = value > 0
        who, best, value = who[fill], best[fill], value[fill]
        y, x = np.divmod(best, w)
        kk = np.full(who.size, k)
        xy = quarter_shift(heat, kk, y, x) if adjust else np.stack([x, y], axis=1).astype(np.float32)
        keypoints[who, k, :2] = xy
        keypoints[who, k, 2] = value
        joint_tags[who, k] = columns[:, best].T


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
    """(n,) flat `argmax(plane - rint(dist(tag, mean_i)))` per mean (first in raster order on ties).

    `plane` (P,) heatmap, `columns` (D, P) pixel tags, `means` (n, D). Few means: one dense pass over all
    of them. Many: a windowed search (`_windowed`) that touches only pixels whose tag can still win.
    """
    if len(means) < _WINDOW_MIN:
        dist = tag_distance(columns, means)
        np.rint(dist, out=dist)
        return np.subtract(plane[None, :], dist, out=dist).argmax(axis=1)
    return _windowed(plane, columns, means)


def _windowed(plane: np.ndarray, columns: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Exact windowed argmax: a pixel whose rounded distance is r scores at most `max(plane) - r`.

    So only pixels with r <= level can win, where level = floor(max(plane)) (0 for heatmaps in [0, 1]).
    Those have one tag coordinate within level + 0.5 of the mean's, found by sorting pixels into half-unit
    bins of that coordinate once per joint. When a window's best does not beat the bound, a dense search
    over that instance decides.
    """
    top = float(plane.max())
    level = int(min(max(np.floor(top), 0), _MAX_LEVEL))
    axis = int(np.argmax(columns.max(axis=1) - columns.min(axis=1)))  # most spread-out coordinate
    bins = np.clip(np.floor(columns[axis] * 2), -32000, 32000).astype(np.int16)
    order = np.argsort(bins, kind="stable")  # radix sort for int16
    sorted_bins = bins[order]
    reach = level + 0.5
    low = np.clip(np.floor((means[:, axis] - reach) * 2) - 1, -32000, 32000)
    high = np.clip(np.floor((means[:, axis] + reach) * 2) + 1, -32000, 32000)
    lo = np.searchsorted(sorted_bins, low)
    length = np.searchsorted(sorted_bins, high, side="right") - lo
    result = np.empty(len(means), np.int64)
    ok = length > 0
    if ok.any():
        idx, size = np.flatnonzero(ok), length[ok]
        start = np.cumsum(size) - size
        segment = np.repeat(np.arange(idx.size), size)
        pixel = order[np.arange(segment.size) - start[segment] + lo[idx][segment]]
        dist = _pair_distance(columns[:, pixel], means[idx][segment])
        score = plane[pixel] - np.rint(dist)
        seg_max = np.maximum.reduceat(score, start)
        last = np.iinfo(np.int64).max
        result[idx] = np.minimum.reduceat(np.where(score == seg_max[segment], pixel, last), start)
        # Exact only when the window's best beats every pixel outside it (those score <= top - level - 1).
        ok[idx[seg_max <= top - level - 1]] = False
    for i in np.flatnonzero(~ok):
        dist = np.rint(tag_distance(columns, means[i : i + 1]))[0]
        result[i] = int(np.argmax(plane - dist))
    return result


def _pair_distance(columns: np.ndarray, means: np.ndarray) -> np.ndarray:
    """float32 (T,) distances between tag columns (D, T) and means (T, D), in `tag_distance`'s order."""
    diff = columns[0] - means[:, 0]
    if columns.shape[0] == 1:
        return np.abs(diff, out=diff)
    dist = np.square(diff, out=diff)
    for d in range(1, columns.shape[0]):
        diff = columns[d] - means[:, d]
        dist += np.square(diff, out=diff)
    return np.sqrt(dist, out=dist)
