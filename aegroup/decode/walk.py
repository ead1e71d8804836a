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
    num_joints, _, dim = candidates.tag.shape
    valid_mask = candidates.score > config.detection_threshold
    capacity = int(valid_mask.sum())
    slots = np.full((capacity, num_joints), -1, np.int64)
    tag_sum = np.zeros((capacity, dim), np.float64)
    count = np.zeros(capacity, np.int64)
    n = 0
    for k in order:
        valid = np.flatnonzero(valid_mask[k])
        if valid.size == 0:
            continue
        tags = candidates.tag[k, valid].astype(np.float64)
        if n == 0:
            new = np.arange(valid.size)
        else:
            grouped = min(n, config.max_instances)
            if config.ignore_too_much and grouped == config.max_instances:
                continue
            means = tag_sum[:grouped] / count[:grouped, None]
            if dim == 1:
                distance = np.abs(tags - means.T)
            else:
                diff = tags[:, None, :] - means[None, :, :]
                distance = np.sqrt(np.einsum("cnd,cnd->cn", diff, diff))
            rows, cols = match(distance, candidates.score[k, valid].astype(np.float64), config)
            slots[cols, k] = valid[rows]
            tag_sum[cols] += tags[rows]
            count[cols] += 1
            unmatched = np.ones(valid.size, bool)
            unmatched[rows] = False
            new = np.flatnonzero(unmatched)
        slots[n : n + new.size, k] = valid[new]
        tag_sum[n : n + new.size] = tags[new]
        count[n : n + new.size] = 1
        n += new.size
    return slots[:n]
