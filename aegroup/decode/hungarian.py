"""Hungarian grouping: an optimal candidate-to-instance assignment per joint (reference cost)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.decode.walk import walk_joints


def hungarian_match(
    distance: np.ndarray, score: np.ndarray, config: DecodeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost pairs under the reference cost, kept when their tag distance is below the threshold.

    Cost: `round(distance) * 100 - score` with `use_detection_val` (tag distance decides, the stronger
    joint breaks ties), else the raw distance. The references pad the matrix with 1e10 columns when there
    are more candidates than instances; a rectangular assignment is the same optimum (every padding column
    costs the same), so scipy's rectangular solver is used directly.
    """
    from scipy.optimize import linear_sum_assignment  # scipy.optimize costs ~0.1 s to import

    cost = np.round(distance) * 100.0 - score[:, None] if config.use_detection_val else distance
    rows, cols = linear_sum_assignment(cost)
    keep = distance[rows, cols] < config.tag_threshold
    return rows[keep], cols[keep]


def hungarian_grouper(candidates: Candidates, order: Sequence[int], config: DecodeConfig) -> np.ndarray:
    """(N, K) candidate slots (-1 absent): joints visited in `order`, each assigned optimally."""
    return walk_joints(candidates, order, config, hungarian_match)
