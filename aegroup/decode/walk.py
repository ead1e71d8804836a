"""The joint-by-joint grouping walk shared by the built-in groupers; only the per-joint matching differs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates

Matcher = Callable[[np.ndarray, np.ndarray, DecodeConfig], tuple[np.ndarray, np.ndarray]]
"""`match(distance (C, N), score (C,), config) -> (rows, cols)`: accepted candidate -> instance pairs.

`distance` holds the Euclidean tag distance of each of this joint's C candidates to each of the first N
instances' mean tags. Unpaired candidates start new instances.
"""


def walk_joints(
    candidates: Candidates, order: Sequence[int], config: DecodeConfig, match: Matcher
) -> np.ndarray:
    """(N, K) candidate slot of every instance and joint (-1 = absent), visiting joints in `order`.

    The pool starts from the first joint that has candidates; each later joint's candidates are matched
    to the first `max_instances` instances by the distance between their tag and the instance's mean tag.
    """
    num_joints, slots_per_joint, dim = candidates.tag.shape
    # Every joint's valid candidates gathered once: the loop below runs numpy calls on arrays of a few
    # dozen entries, where each call's fixed cost, not its size, is what counts.
    flat = np.flatnonzero(candidates.score > config.detection_threshold)
    bounds = np.searchsorted(flat, np.arange(num_joints + 1) * slots_per_joint).tolist()
    all_valid = flat % slots_per_joint
    # Each tag with a trailing 1: one fancy-indexed add then updates an instance's tag sum and its count.
    all_tags = np.ones((flat.size, dim + 1), np.float64)
    all_tags[:, :dim] = candidates.tag.reshape(-1, dim)[flat]
    all_scores = candidates.score.reshape(-1)[flat].astype(np.float64)
    slots = np.full((flat.size, num_joints), -1, np.int64)
    totals = np.zeros((flat.size, dim + 1), np.float64)  # per instance: tag sum, joint count
    n = 0
    for k in order:
        lo, hi = bounds[k], bounds[k + 1]
        if lo == hi:
            continue
        valid, tags = all_valid[lo:hi], all_tags[lo:hi]
        if n > 0:
            grouped = min(n, config.max_instances)
            if config.ignore_too_much and grouped == config.max_instances:
                continue
            means = totals[:grouped, :dim] / totals[:grouped, dim:]
            if dim == 1:
                distance = np.abs(tags[:, :1] - means.T)
            else:
                diff = tags[:, None, :dim] - means
                distance = np.sqrt(np.einsum("cnd,cnd->cn", diff, diff))
            rows, cols = match(distance, all_scores[lo:hi], config)
            slots[cols, k] = valid[rows]
            totals[cols] += tags[rows]
            if len(rows) == valid.size:
                continue  # every candidate joined an instance
            unmatched = np.ones(valid.size, bool)
            unmatched[rows] = False
            valid, tags = valid[unmatched], tags[unmatched]
        end = n + valid.size
        slots[n:end, k] = valid
        totals[n:end] = tags
        n = end
    return slots[:n]
