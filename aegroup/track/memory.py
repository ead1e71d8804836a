"""What a frame-to-frame tracker remembers of the tracks of one video: the last two sightings of every joint,
when each track was last seen, its last mean tag and its last box."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def mean_tags(tags: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N, D) mean tag over the present joints of each instance (tags (N, K, D), present (N, K));
    NaN for an instance without present joints."""
    count = present.sum(axis=1, keepdims=True)
    total = np.where(present[..., None], tags, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def boxes(xy: np.ndarray) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 around the present joints of (N, K, 2) positions (NaN = absent)."""
    present = ~np.isnan(xy)
    lo = np.where(present, xy, np.inf).min(axis=1)
    hi = np.where(present, xy, -np.inf).max(axis=1)
    return np.where(present[..., :1].any(axis=1), np.concatenate([lo, hi], axis=1), np.nan)


@dataclass
class TrackMemory:
    """Arrays over the T tracks of one video (K joints, D tag dims), NaN where nothing is known.

    `last_xy` (T, K, 2) each joint's last sighting (image pixels) and `last_t` (T, K) its frame number;
    `prev_xy`, `prev_t` the sighting before that; `seen` (T,) frame number of the last observation;
    `tag` (T, D) mean tag of the last observation; `box` (T, 4) x0, y0, x1, y1 of the last observation.
    """

    last_xy: np.ndarray
    last_t: np.ndarray
    prev_xy: np.ndarray
    prev_t: np.ndarray
    seen: np.ndarray
    tag: np.ndarray
    box: np.ndarray

    @classmethod
    def empty(cls, num_joints: int, tag_dim: int) -> TrackMemory:
        """No tracks yet."""
        return cls(
            last_xy=np.zeros((0, num_joints, 2)),
            last_t=np.zeros((0, num_joints)),
            prev_xy=np.zeros((0, num_joints, 2)),
            prev_t=np.zeros((0, num_joints)),
            seen=np.zeros(0),
            tag=np.zeros((0, tag_dim)),
            box=np.zeros((0, 4)),
        )

    @property
    def num_tracks(self) -> int:
        """Number of tracks T."""
        return int(self.seen.shape[0])

    def start(self, xy: np.ndarray, time: int, tag: np.ndarray | None) -> int:
        """A new track from one observation ((K, 2) positions, NaN = absent); returns its id."""
        k, d = self.last_xy.shape[1], self.tag.shape[1]
        seen_at = np.where(np.isnan(xy[:, 0]), np.nan, float(time))
        self.last_xy = np.concatenate([self.last_xy, xy[None]])
        self.last_t = np.concatenate([self.last_t, seen_at[None]])
        self.prev_xy = np.concatenate([self.prev_xy, np.full((1, k, 2), np.nan)])
        self.prev_t = np.concatenate([self.prev_t, np.full((1, k), np.nan)])
        self.seen = np.append(self.seen, float(time))
        self.tag = np.concatenate([self.tag, np.full((1, d), np.nan) if tag is None else tag.reshape(1, d)])
        self.box = np.concatenate([self.box, boxes(xy[None])])
        return self.num_tracks - 1

    def observe(self, track: int, xy: np.ndarray, time: int, tag: np.ndarray | None) -> None:
        """Record that `track` was seen at `time` with (K, 2) positions (NaN = absent joint)."""
        present = ~np.isnan(xy[:, 0])
        self.prev_xy[track, present] = self.last_xy[track, present]
        self.prev_t[track, present] = self.last_t[track, present]
        self.last_xy[track, present] = xy[present]
        self.last_t[track, present] = time
        self.seen[track] = time
        self.tag[track] = np.nan if tag is None else tag
        self.box[track] = boxes(xy[None])[0]
