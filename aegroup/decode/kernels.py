"""Compiled inner loops of decoding (numba): NMS peaks, the grouping walk, the refinement's pixel search.

Imported on first use (numba takes ~0.4 s to load); compiled code is cached beside this file, or in
numba's user cache where that is read-only. Each kernel computes exactly what the plain numpy or loop
version would, ties and float32 rounding included: the tests hold them to such references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np


def _jit(function: Callable[..., Any]) -> Any:
    """`numba.njit` with the machine code cached on disk, or kept in memory where no folder is writable."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba found no writable cache folder (read-only install, no home folder)
        return numba.njit(nogil=True)(function)


_CHUNK = 256
"""Pixels the refinement scores per pass: the pass stays in the L1 cache, and a pass whose scores cannot
beat the best so far (one vectorised comparison) costs no scan."""


@_jit
def nms_peaks(heat: np.ndarray, radius: int, threshold: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices into (K, H, W), ascending, and values of the max-pool NMS peaks above `threshold`.

    A peak is a pixel that no pixel of its (2 radius + 1)^2 window (clipped at the border) exceeds, as in
    `heat == max_pool(heat)`: every pixel of a plateau counts.
    """
    k, h, w = heat.shape
    flat = np.empty(k * h * w, np.int64)
    found = 0
    # A -inf border: the 4-neighbour pre-test below then needs no clamping, and its constant offsets let
    # numba drop negative-index checks and vectorise it.
    padded = np.full((h + 2, w + 2), -np.inf, np.float32)
    local = np.zeros(w + 2, np.bool_)
    for j in range(k):
        plane = heat[j]
        for y in range(h):
            source, target = plane[y], padded[y + 1]
            for x in range(w):  # a plain loop: numba's slice assignment costs ~70 ns a call
                target[x + 1] = source[x]
        for y in range(1, h + 1):
            row, up, down = padded[y], padded[y - 1], padded[y + 1]
            # Pre-test, kept per pixel: above the threshold and no higher 4-neighbour (all inside any window
            # of radius >= 1; with radius 0 every pixel above the threshold is a peak). Almost every row
            # fails it in one vectorised pass; the rest get the full window test.
            hits = 0
            for x in range(1, w + 1):
                v = row[x]
                local[x] = (v > threshold) & (
                    (radius == 0) | ((up[x] <= v) & (down[x] <= v) & (row[x - 1] <= v) & (row[x + 1] <= v))
                )
                hits += local[x]
            if hits == 0:
                continue
            for x in range(1, w + 1):
                if local[x] and _is_window_max(plane, y - 1, x - 1, radius):
                    flat[found] = (j * h + y - 1) * w + x - 1
                    found += 1
    flat = flat[:found].copy()
    return flat, heat.ravel()[flat]


@_jit
def _is_window_max(plane: np.ndarray, y: int, x: int, radius: int) -> bool:
    """True when no pixel within `radius` (Chebyshev) of (y, x) is greater than it."""
    h, w = plane.shape
    value = plane[y, x]
    for yy in range(max(y - radius, 0), min(y + radius + 1, h)):
        for xx in range(max(x - radius, 0), min(x + radius + 1, w)):
            if plane[yy, xx] > value:
                return False
    return True


@_jit
def refine_pixels(heat: np.ndarray, tags: np.ndarray, joint: np.ndarray, means: np.ndarray) -> np.ndarray:
    """(M,) flat pixel of `argmax(heat[joint_i] - rint(|tag - means_i|))` per pair i, first on ties.

    `heat` (K, P), `tags` (K, P, D) float32, `joint` (M,) sorted, `means` (M, D) float32. The distance is
    float32 `sqrt(((t0 - m0)^2 + (t1 - m1)^2) + ...)` in that order, `|t0 - m0|` when D = 1.
    """
    p, dim = tags.shape[1], tags.shape[2]
    columns = np.empty((dim, p), np.float32)
    scores = np.empty(_CHUNK, np.float32)
    out = np.empty(joint.size, np.int64)
    for i in range(joint.size):
        j = joint[i]
        if i == 0 or j != joint[i - 1]:
            _split_dimensions(tags[j], columns)
        out[i] = _best_pixel(heat[j], columns, means[i], scores)
    return out


@_jit
def _split_dimensions(pixels: np.ndarray, columns: np.ndarray) -> None:
    """Copy (P, D) pixel tags into (D, P) rows, so the scoring loops read contiguous memory (SIMD)."""
    p, dim = pixels.shape
    # D = 2 (D = 1 with flip test) and D = 3 unrolled: a stride known when compiling copies 2.5x faster.
    if dim == 2:
        first, second = columns[0], columns[1]
        for q in range(p):
            first[q], second[q] = pixels[q, 0], pixels[q, 1]
    elif dim == 3:
        first, second, third = columns[0], columns[1], columns[2]
        for q in range(p):
            first[q], second[q], third[q] = pixels[q, 0], pixels[q, 1], pixels[q, 2]
    else:
        for d in range(dim):
            row = columns[d]
            for q in range(p):
                row[q] = pixels[q, d]


@_jit
def _best_pixel(plane: np.ndarray, columns: np.ndarray, mean: np.ndarray, scores: np.ndarray) -> int:
    """Flat index of the first maximum of `plane - rint(distance(columns, mean))`, a chunk at a time."""
    best_value = np.float32(-np.inf)
    best = 0
    for lo in range(0, plane.size, _CHUNK):
        hi = min(lo + _CHUNK, plane.size)
        if _score_chunk(plane, columns, mean, lo, hi, scores, best_value):
            for q in range(hi - lo):
                if scores[q] > best_value:
                    best_value = scores[q]
                    best = lo + q
    return best


@_jit
def _score_chunk(
    plane: np.ndarray,
    columns: np.ndarray,
    mean: np.ndarray,
    lo: int,
    hi: int,
    scores: np.ndarray,
    best: np.float32,
) -> bool:
    """Write the scores of pixels lo..hi into `scores`; True when one of them exceeds `best`."""
    n = hi - lo
    heat = plane[lo:hi]
    first = columns[0, lo:hi]
    m = mean[0]
    if columns.shape[0] == 1:
        beaten = False
        for q in range(n):
            s = heat[q] - np.rint(np.abs(first[q] - m))
            scores[q] = s
            beaten |= s > best
        return beaten
    for q in range(n):
        t = first[q] - m
        scores[q] = t * t
    for d in range(1, columns.shape[0]):
        column = columns[d, lo:hi]
        m = mean[d]
        for q in range(n):
            t = column[q] - m
            scores[q] += t * t
    beaten = False
    for q in range(n):
        s = heat[q] - np.rint(np.sqrt(scores[q]))
        scores[q] = s
        beaten |= s > best
    return beaten


@_jit
def walk(
    order: np.ndarray,
    bounds: np.ndarray,
    valid: np.ndarray,
    tags: np.ndarray,
    scores: np.ndarray,
    slots: np.ndarray,
    totals: np.ndarray,
    state: np.ndarray,
    distance: np.ndarray,
    matched: np.ndarray,
    max_instances: int,
    ignore_too_much: bool,
    tag_threshold: float,
    greedy: bool,
    settle_unique: bool,
) -> bool:
    """Advance the grouping walk from joint `order[state[1]]`; False once every joint is done.

    True when that joint needs the caller's matcher (always, unless `greedy`, or `settle_unique` and each
    candidate has at most one instance within the threshold and vice versa): its (C, N) tag distances are
    then in `distance`.
    Joint k's candidates are rows bounds[k]..bounds[k + 1] of `valid` (slot), `tags` (tag, then 1) and
    `scores`; `slots` (capacity, K) and `totals` (capacity, D + 1: tag sum, joint count) hold the first
    `state[0]` instances.
    """
    dim = tags.shape[1] - 1
    means = np.empty((distance.shape[1], dim), np.float64)
    while state[1] < order.size:
        k = order[state[1]]
        lo, hi = bounds[k], bounds[k + 1]
        count = hi - lo
        n = state[0]
        grouped = min(n, max_instances)
        if count > 0 and not (n > 0 and ignore_too_much and grouped == max_instances):
            for c in range(count):
                matched[c] = -1
            if n > 0:
                for i in range(grouped):
                    for d in range(dim):
                        means[i, d] = totals[i, d] / totals[i, dim]
                for c in range(count):
                    for i in range(grouped):
                        distance[c, i] = _tag_distance(tags[lo + c], means[i], dim)
                if greedy:
                    _greedy_pairs(distance, count, grouped, scores[lo:hi], tag_threshold, matched)
                elif not (settle_unique and unique_pairs(distance, count, grouped, tag_threshold, matched)):
                    return True
            join(k, lo, hi, matched, valid, tags, slots, totals, state)
        state[1] += 1
    return False


@_jit
def join(
    k: int,
    lo: int,
    hi: int,
    matched: np.ndarray,
    valid: np.ndarray,
    tags: np.ndarray,
    slots: np.ndarray,
    totals: np.ndarray,
    state: np.ndarray,
) -> None:
    """Add joint k's candidates lo..hi: row c joins instance `matched[c - lo]`, or starts one when -1."""
    n = state[0]
    for c in range(hi - lo):
        target = matched[c]
        if target < 0:
            target = n
            n += 1
        slots[target, k] = valid[lo + c]
        total, tag = totals[target], tags[lo + c]
        for d in range(tag.size):  # a new instance's total is still zero
            total[d] += tag[d]
    state[0] = n


@_jit
def _tag_distance(tag: np.ndarray, mean: np.ndarray, dim: int) -> float:
    """Euclidean distance (float64) between the first `dim` entries of `tag` and `mean`."""
    if dim == 1:
        return abs(tag[0] - mean[0])
    square = 0.0
    for d in range(dim):
        diff = tag[d] - mean[d]
        square += diff * diff
    return np.sqrt(square)


@_jit
def _greedy_pairs(
    distance: np.ndarray, count: int, grouped: int, scores: np.ndarray, threshold: float, matched: np.ndarray
) -> None:
    """Strongest candidate first (stable), each takes its nearest free instance if closer than `threshold`."""
    taken = np.zeros(grouped, np.bool_)
    for c in np.argsort(-scores, kind="mergesort"):
        best = -1
        for i in range(grouped):
            if not taken[i] and (best < 0 or distance[c, i] < distance[c, best]):
                best = i
        if best >= 0 and distance[c, best] < threshold:
            taken[best] = True
            matched[c] = best


@_jit
def unique_pairs(
    distance: np.ndarray, count: int, grouped: int, threshold: float, matched: np.ndarray
) -> bool:
    """Match every acceptable pair when each candidate and each instance has at most one; else False.

    With gating every optimal assignment then takes exactly those pairs (each saves a padding cost).
    """
    owner = np.full(grouped, -1, np.int64)
    for c in range(count):
        for i in range(grouped):
            if distance[c, i] < threshold:
                if matched[c] >= 0 or owner[i] >= 0:
                    return False
                matched[c] = i
                owner[i] = c
    return True
