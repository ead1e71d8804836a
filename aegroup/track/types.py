"""What a tracker takes and gives: one video's frames as arrays, the track ids and doubts it returns, and
the parameters every tracker shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class TrackFrame:
    """One frame's instances as a tracker sees them.

    `time` is the frame number in its video (a gap in the numbers is a gap in time); `keypoints` (N, K, 3)
    x, y, v in image pixels with NaN x, y where v = 0 (absent); `tags` (N, K, D) associative-embedding
    tags or None.
    """

    time: int
    keypoints: np.ndarray
    tags: np.ndarray | None = None

    @property
    def num_instances(self) -> int:
        """Number of instances N."""
        return int(self.keypoints.shape[0])


@dataclass(frozen=True)
class TrackResult:
    """A tracker's answer for one video, one entry per frame given.

    `track` (N,) int64: track id 0..num_tracks-1 of every instance, -1 for an instance left untracked
    (one without any labelled joint); `doubt` (N,) float64 in [0, 1]: 1 - margin / max_cost, where margin
    is how much the frame's total assignment cost rises when this instance may not take the track (or new
    track) it took (docs/tracking.md); NaN where the tracker gives none.
    """

    track: list[np.ndarray]
    doubt: list[np.ndarray]

    @property
    def num_tracks(self) -> int:
        """Number of distinct track ids used."""
        return int(max((int(t.max()) for t in self.track if t.size), default=-1)) + 1


class TrackParams(BaseModel):
    """Parameters every tracker takes; a tracker's own `Params` model extends this one."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(
        5, ge=1, description="A track last seen in frame s can be matched up to frame s + window."
    )
    max_tracks: int | None = Field(
        None, ge=1, description="Fixed number of animals: never more track ids than this (None: no limit)."
    )
    max_cost: float = Field(
        1.0, gt=0, description="Gate: an instance costlier than this to every track starts a new track."
    )
