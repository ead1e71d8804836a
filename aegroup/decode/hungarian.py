"""Hungarian grouping: an optimal candidate-to-instance assignment per joint (reference cost)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.decode.walk import walk_joints

_PAD = 1e10
"""Cost of a padding column (the references' value); also of a gated, rejected pair."""


def hungarian_match(
    distance: np.ndarray, score: np.ndarray, config: DecodeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost pairs under the reference cost, kept when their tag distance is below the threshold.

    Cost: `round(distance) * 100 - score` with `use_detection_val` (tag distance decides, the stronger
    joint breaks ties), else the raw distance; with `gate_by_threshold` pairs at or beyond the tag
    threshold cost as much as padding (without the gate, the solver may trade an acceptable match for a
    cheaper rejected one and split instances in crowded images). As in the references, the matrix is
    padded with 1e10 columns when there are more candidates than instances, so the extra candidates start
    new instances; the padding also breaks ties between equal-cost assignments as the references do.
    The compiled walk settles a gated joint without this solve when each of its candidates has at most
    one acceptable instance and vice versa (`aegroup.decode.kernels.unique_pairs`).
    """
    from scipy.optimize import linear_sum_assignment  # scipy.optimize costs ~0.1 s to import

    cost = np.round(distance) * 100.0 - score[:, None] if config.use_detection_val else distance
    if config.gate_by_threshold:
        # Rejected pairs all cost the same, so the optimum first maximises the number of accepted pairs.
        cost = np.where(distance < config.tag_threshold, cost, _PAD)
    rows, cols = cost.shape
    if rows > cols:
        cost = np.concatenate([cost, np.full((rows, rows - cols), _PAD)], axis=1)
    r, c = linear_sum_assignment(cost)
    keep = c < cols
    r, c = r[keep], c[keep]
    keep = distance[r, c] < config.tag_threshold
    return r[keep], c[keep]


def hungarian_grouper(candidates: Candidates, order: Sequence[int], config: DecodeConfig) -> np.ndarray:
    """(N, K) candidate slots (-1 absent): joints visited in `order`, each assigned optimally."""
    return walk_joints(candidates, order, config, hungarian_match, config.gate_by_threshold)
