"""The frame-to-frame linker behind the built-in trackers: each frame's instances are assigned to tracks (or
new tracks) by the Hungarian method under a pair cost, a gate and an optional fixed number of tracks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from aegroup.track.assign import assign_with_doubt
from aegroup.track.costs import centroid
from aegroup.track.memory import TrackMemory, mean_tags
from aegroup.track.types import TrackFrame, TrackParams, TrackResult


class PairCost(Protocol):
    """(N, T) cost of linking each instance of a frame (positions (N, K, 2), NaN = absent; mean tags
    (N, D) or None) at frame number `time` to each remembered track; finite, lower is more alike."""

    def __call__(self, memory: TrackMemory, xy: np.ndarray, tags: np.ndarray | None, time: int) -> np.ndarray:
        """(N, T) costs."""
        ...


CostFactory = Callable[[Sequence[TrackFrame], TrackParams], PairCost]
"""Builds the pair cost for one video from all its frames (for sizes typical of the video) and the params."""


def options(
    cost: np.ndarray, memory: TrackMemory, time: int, params: TrackParams
) -> tuple[np.ndarray, np.ndarray]:
    """The assignment matrix (N, T + new) and its option labels (track id, or T for "new track").

    Without `max_tracks`, an instance may join a track seen within the last `window` frames at a cost up
    to `max_cost`, or start a new track at `max_cost`. With `max_tracks`, tracks never end and new ones
    start only while fewer than `max_tracks` exist; an instance beyond the gate of every free track then
    joins one anyway at its cost plus a penalty above the gated links and new tracks of the whole frame
    together: one more forced link must save more than that in forced costs to be chosen.
    """
    n, t = cost.shape
    gate = params.max_cost
    if params.max_tracks is None:
        live = (time - memory.seen) <= params.window
        linked = np.where(live[None] & (cost <= gate), cost, np.inf)
        new = n
    else:
        penalty = n * gate + 1.0
        linked = np.where(cost <= gate, cost, penalty + cost)
        new = min(n, params.max_tracks - t)
    matrix = np.concatenate([linked, np.full((n, new), gate)], axis=1)
    return matrix, np.concatenate([np.arange(t), np.full(new, t)])


def link_frames(frames: Sequence[TrackFrame], params: TrackParams, make_cost: CostFactory) -> TrackResult:
    """Track one video's frames (in frame order, at most `max_tracks` instances each) under a pair cost."""
    if not frames:
        return TrackResult([], [])
    num_joints = frames[0].keypoints.shape[1]
    tag_dim = next((f.tags.shape[2] for f in frames if f.tags is not None), 0)
    memory = TrackMemory.empty(num_joints, tag_dim)
    pair_cost = make_cost(frames, params)
    tracks, doubts = [], []
    for frame in frames:
        if params.max_tracks is not None and frame.num_instances > params.max_tracks:
            raise ValueError(f"frame {frame.time}: {frame.num_instances} instances > max_tracks; cull first")
        present = frame.keypoints[..., 2] > 0
        xy = np.where(present[..., None], frame.keypoints[..., :2], np.nan)
        # Instances with a joint, left to right: ties in the assignment then never depend on the order
        # the file lists instances in, and new tracks are numbered left to right.
        rows = np.flatnonzero(present.any(axis=1))
        middle = centroid(xy[rows])
        rows = rows[np.lexsort((middle[:, 1], middle[:, 0]))]
        tags = None if frame.tags is None else mean_tags(frame.tags, present)[rows]
        cost = pair_cost(memory, xy[rows], tags, frame.time)
        matrix, option = options(cost, memory, frame.time, params)
        assignment = assign_with_doubt(matrix, option, params.max_cost)
        track = np.full(frame.num_instances, -1, np.int64)
        doubt = np.full(frame.num_instances, np.nan)
        doubt[rows] = assignment.doubt
        existing = memory.num_tracks  # new tracks get the next ids
        for r, (i, column) in enumerate(zip(rows, assignment.column, strict=True)):
            tag = None if tags is None else tags[r]
            if column < existing:
                memory.observe(int(column), xy[i], frame.time, tag)
                track[i] = column
            else:
                track[i] = memory.start(xy[i], frame.time, tag)
        tracks.append(track)
        doubts.append(doubt)
    return TrackResult(tracks, doubts)
