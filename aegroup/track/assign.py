"""Minimum-cost assignment of rows to columns (scipy's Hungarian solver) and each row's doubt about it."""

from __future__ import annotations

import math
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


def best_total(cost: np.ndarray, row: int, allowed: np.ndarray) -> float:
    """The least total of an assignment in which `row` takes only the `allowed` (m,) columns; inf if none."""
    restricted = cost.copy()
    restricted[row, ~allowed] = np.inf
    found = solve(restricted)
    return math.inf if found is None else found[1]


def doubt_of(margin: float, unit: float) -> float:
    """1 - margin / unit clipped to [0, 1] (inf margin: 0; -inf: 1)."""
    return float(np.clip(1.0 - margin / unit, 0.0, 1.0))


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
    doubt = [doubt_of(best_total(cost, i, option != option[c]) - total, unit) for i, c in enumerate(column)]
    return Assignment(column, total, np.array(doubt))


def doubt_of_choice(cost: np.ndarray, option: np.ndarray, chosen: np.ndarray, unit: float) -> np.ndarray:
    """Each row's doubt about a given choice (row i takes option `chosen[i]`), the others free.

    Row i's margin is the least total with row i off its chosen option minus the least total with it on;
    for the best assignment's choices this is `assign_with_doubt`'s margin. A choice worse than another
    (negative margin) or impossible gets doubt 1.
    """
    doubt = np.empty(cost.shape[0])
    for i, label in enumerate(chosen):
        on = best_total(cost, i, option == label)
        off = best_total(cost, i, option != label)
        doubt[i] = 1.0 if math.isinf(on) else doubt_of(off - on, unit)
    return doubt
