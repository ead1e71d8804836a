"""Colours, marker rules and cached Qt pens/brushes shared by the views."""

from __future__ import annotations

from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

from aegroup.io.provenance import JointOrigin

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#9edae5",
    "#dbdb8d",
    "#393b79",
)
"""Instance colours, chosen by instance id so a colour stays with its instance through edits."""

LOW_SCORE = 0.3
"""Keypoints scored below this are drawn as triangles."""

SELECTED_COLOR = "#ffffff"
HOVER_COLOR = "#ffd400"

LEGEND = (
    "● detected   ◆ refined-in (filled in by grouping)   ■ placed by hand   ▲ low score (< 0.3)   "
    "hollow = occluded; marker size follows the score"
)


UNTRACKED_COLOR = "#b0b4b9"
"""Instances without a track, when colouring by track."""


def instance_color(instance_id: int) -> str:
    """The colour of an instance."""
    return PALETTE[(int(instance_id) - 1) % len(PALETTE)]


def track_color(track: int) -> str:
    """The colour of a track (grey for untracked, -1)."""
    return PALETTE[int(track) % len(PALETTE)] if track >= 0 else UNTRACKED_COLOR


def row_colors(ids: np.ndarray, tracks: np.ndarray, by_track: bool) -> list[str]:
    """The colour of each instance row: by its track, or by its instance id."""
    if by_track:
        return [track_color(t) for t in tracks.tolist()]
    return [instance_color(i) for i in ids.tolist()]


@cache
def brush(color: str, alpha: int = 255) -> QtGui.QBrush:
    """A cached brush."""
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    return pg.mkBrush(c)


@cache
def pen(color: str, width: float = 1.5, alpha: int = 255) -> QtGui.QPen:
    """A cached cosmetic pen."""
    c = QtGui.QColor(color)
    c.setAlpha(alpha)
    p = pg.mkPen(c, width=width)
    p.setCosmetic(True)
    return p


def marker_symbols(origin: np.ndarray, score: np.ndarray) -> list[str]:
    """Per-keypoint symbol: 'd' refined-in, 's' hand-placed, 't' low score, else 'o' (circle)."""
    symbols = np.full(origin.shape, "o", dtype=object)
    symbols[np.isfinite(score) & (score < LOW_SCORE)] = "t"
    symbols[origin == JointOrigin.ADDED] = "s"
    symbols[origin == JointOrigin.REFINED] = "d"
    return symbols.tolist()


def marker_sizes(score: np.ndarray, base: float = 9.0) -> np.ndarray:
    """Marker size in pixels grows with the score (full size when unknown)."""
    s = np.where(np.isfinite(score), np.clip(score, 0.0, 1.0), 1.0)
    return base + 8.0 * s


@cache
def marker_look(color: str, occluded: bool) -> tuple[int, int, float]:
    """A joint's (fill ARGB, outline ARGB, outline width): filled, dark outline; hollow if occluded."""
    if occluded:
        return brush(color, 0).color().rgba(), pen(color, 2.0).color().rgba(), 2.0
    return brush(color, 235).color().rgba(), pen("#000000", 1.0, 170).color().rgba(), 1.0
