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
    candidates: Candidates,
    order: Sequence[int],
    config: DecodeConfig,
    match: Matcher | None = None,
    settle_unique: bool = False,
) -> np.ndarray:
    """(N, K) candidate slot of every instance and joint (-1 = absent), visiting joints in `order`.

    The pool starts from the first joint that has candidates; each later joint's candidates are matched
    to the first `max_instances` instances by the distance between their tag and the instance's mean tag:
    greedily (compiled) when `match` is None, else by `match`. With `settle_unique` the compiled walk
    settles a joint without `match` when each candidate has at most one instance within the tag threshold
    and vice versa, taking exactly those pairs (right for the gated Hungarian; not for any matcher).
    """
    from aegroup.decode.kernels import join, walk  # numba: loaded on first decode

    num_joints, slots_per_joint, dim = candidates.tag.shape
    flat = np.flatnonzero(candidates.score > config.detection_threshold)
    bounds = np.searchsorted(flat, np.arange(num_joints + 1) * slots_per_joint)
    valid = flat % slots_per_joint
    # Each tag with a trailing 1: adding it to an instance's total updates its tag sum and joint count.
    tags = np.ones((flat.size, dim + 1), np.float64)
    tags[:, :dim] = candidates.tag.reshape(-1, dim)[flat]
    scores = candidates.score.reshape(-1)[flat].astype(np.float64)
    slots = np.full((flat.size, num_joints), -1, np.int64)
    totals = np.zeros((flat.size, dim + 1), np.float64)
    state = np.zeros(2, np.int64)  # instances so far, position in `order`
    distance = np.empty((slots_per_joint, max(config.max_instances, 1)), np.float64)
    matched = np.empty(slots_per_joint, np.int64)
    steps = np.asarray(order, np.int64)
    args = (
        config.max_instances,
        config.ignore_too_much,
        config.tag_threshold,
        match is None,
        settle_unique,
    )
    while walk(steps, bounds, valid, tags, scores, slots, totals, state, distance, matched, *args):
        k = int(steps[state[1]])
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        grouped = min(int(state[0]), config.max_instances)
        assert match is not None  # the compiled walk settles every joint itself when matching greedily
        rows, cols = match(distance[: hi - lo, :grouped], scores[lo:hi], config)
        matched[:] = -1
        matched[rows] = cols
        join(k, lo, hi, matched, valid, tags, slots, totals, state)
        state[1] += 1
    return slots[: state[0]]
