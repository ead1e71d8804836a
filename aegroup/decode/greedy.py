"""Greedy grouping: candidates in descending score take the nearest free instance within the threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.decode.walk import walk_joints


def greedy_grouper(candidates: Candidates, order: Sequence[int], config: DecodeConfig) -> np.ndarray:
    """(N, K) candidate slots (-1 absent): joints visited in `order`, each matched greedily."""
    return walk_joints(candidates, order, config)
