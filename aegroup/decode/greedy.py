"""Greedy grouping: candidates in descending score take the nearest free instance within the threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.decode.walk import walk_joints


def greedy_match(
    distance: np.ndarray, score: np.ndarray, config: DecodeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Strongest candidate first, each takes its nearest still-free instance if closer than the threshold."""
    nearest_col = distance.argmin(axis=1)
    rows = np.flatnonzero(distance[np.arange(len(distance)), nearest_col] < config.tag_threshold)
    cols = nearest_col[rows]
    if len(set(cols.tolist())) == cols.size:  # a few dozen entries: a Python set beats np.unique
        # No two accepted candidates want the same instance, so the order of service cannot matter
        # (a candidate whose nearest instance is beyond the threshold finds nothing nearer later).
        return rows, cols
    # Python lists: at most max_instances x max_instances entries, where numpy call overhead would dominate.
    nearest = np.argsort(distance, axis=1, kind="stable").tolist()
    dist = distance.tolist()
    taken: set[int] = set()
    rows, cols = [], []
    for row in np.argsort(-score, kind="stable").tolist():
        col = next((c for c in nearest[row] if c not in taken), None)
        if col is not None and dist[row][col] < config.tag_threshold:
            taken.add(col)
            rows.append(row)
            cols.append(col)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)


def greedy_grouper(candidates: Candidates, order: Sequence[int], config: DecodeConfig) -> np.ndarray:
    """(N, K) candidate slots (-1 absent): joints visited in `order`, each matched greedily."""
    return walk_joints(candidates, order, config, greedy_match)
