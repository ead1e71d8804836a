"""Minimum-cost assignment of rows to columns (scipy's Hungarian solver) and each row's doubt about it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Assignment:
    """The column of every row, the total cost, and per row the doubt 1 - margin / unit, in [0, 1]."""

    column: np.ndarray
    total: float
    doubt: np.ndarray


def solve(cost: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(column per row, total) minimising the total of an (n, m) cost, n <= m, with inf = forbidden;
    None when every assignment of all rows uses a forbidden entry."""
    n = cost.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), 0.0
    allowed = np.isfinite(cost)
    # Any feasible assignment costs less than one forbidden entry standing in at this value.
    stand_in = 2.0 * n * (float(np.abs(cost[allowed]).max(initial=0.0)) + 1.0) + 1.0
    rows, cols = linear_sum_assignment(np.where(allowed, cost, stand_in))
    if not allowed[rows, cols].all():
        return None
    column = np.empty(n, np.int64)
    column[rows] = cols
    return column, float(cost[rows, cols].sum())


def assign_with_doubt(cost: np.ndarray, option: np.ndarray, unit: float) -> Assignment:
    """The best assignment of an (n, m) cost and each row's doubt.

    `option` (m,) labels the columns: columns with the same label are one choice for a row (all the
    "start a new track" columns are one choice). Row i's margin is the rise of the optimal total when row
    i may take no column of the option it took (inf when nothing else is possible); its doubt is
    1 - margin / unit clipped to [0, 1]: 1 for a tie, 0 when the alternative costs `unit` more or there is
    none.
    """
    best = solve(cost)
    if best is None:
        raise ValueError("assignment: every assignment uses a forbidden entry")
    column, total = best
    doubt = np.zeros(cost.shape[0])
    for i, col in enumerate(column):
        other = cost.copy()
        other[i, option == option[col]] = np.inf
        alternative = solve(other)
        if alternative is not None:
            doubt[i] = np.clip(1.0 - (alternative[1] - total) / unit, 0.0, 1.0)
    return Assignment(column, total, doubt)
