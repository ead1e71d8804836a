"""The frame-to-frame linker behind the built-in trackers: each frame's instances are assigned to tracks (or
new tracks) by the Hungarian method under a pair cost, a gate and an optional fixed number of tracks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from aegroup.track.assign import assign_with_doubt, doubt_of_choice
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


@dataclass(frozen=True)
class FrameProblem:
    """One frame's assignment problem: the instances with a joint (`rows`, left to right), their positions
    `xy` (N, K, 2) and mean tags, the option matrix and its labels (track id, or T for "new track")."""

    rows: np.ndarray
    xy: np.ndarray
    tags: np.ndarray | None
    matrix: np.ndarray
    option: np.ndarray


def frame_problem(
    frame: TrackFrame, memory: TrackMemory, pair_cost: PairCost, params: TrackParams
) -> FrameProblem:
    """The assignment problem of one frame against the tracks in `memory`."""
    present = frame.keypoints[..., 2] > 0
    xy = np.where(present[..., None], frame.keypoints[..., :2], np.nan)
    # Instances with a joint, left to right: ties in the assignment then never depend on the order the
    # file lists instances in, and new tracks are numbered left to right.
    rows = np.flatnonzero(present.any(axis=1))
    middle = centroid(xy[rows])
    rows = rows[np.lexsort((middle[:, 1], middle[:, 0]))]
    tags = None if frame.tags is None else mean_tags(frame.tags, present)[rows]
    matrix, option = options(pair_cost(memory, xy[rows], tags, frame.time), memory, frame.time, params)
    return FrameProblem(rows, xy, tags, matrix, option)


def start_memory(frames: Sequence[TrackFrame]) -> TrackMemory:
    """An empty memory sized for these frames' joints and tags."""
    tag_dim = next((f.tags.shape[2] for f in frames if f.tags is not None), 0)
    return TrackMemory.empty(frames[0].keypoints.shape[1], tag_dim)


def remember(memory: TrackMemory, problem: FrameProblem, row: int, track: int | None, time: int) -> int:
    """Record instance `problem.rows[row]` as seen on `track`, or on a new track when None; returns the
    track id."""
    i = problem.rows[row]
    tag = None if problem.tags is None else problem.tags[row]
    if track is None:
        return memory.start(problem.xy[i], time, tag)
    memory.observe(track, problem.xy[i], time, tag)
    return track


def link_frames(frames: Sequence[TrackFrame], params: TrackParams, make_cost: CostFactory) -> TrackResult:
    """Track one video's frames (in frame order, at most `max_tracks` instances each) under a pair cost."""
    if not frames:
        return TrackResult([], [])
    memory = start_memory(frames)
    pair_cost = make_cost(frames, params)
    tracks, doubts = [], []
    for frame in frames:
        if params.max_tracks is not None and frame.num_instances > params.max_tracks:
            raise ValueError(f"frame {frame.time}: {frame.num_instances} instances > max_tracks; cull first")
        problem = frame_problem(frame, memory, pair_cost, params)
        assignment = assign_with_doubt(problem.matrix, problem.option, params.max_cost)
        track = np.full(frame.num_instances, -1, np.int64)
        doubt = np.full(frame.num_instances, np.nan)
        doubt[problem.rows] = assignment.doubt
        existing = memory.num_tracks  # columns from here on are new tracks, numbered left to right
        for r, column in enumerate(assignment.column):
            linked = int(column) if column < existing else None
            track[problem.rows[r]] = remember(memory, problem, r, linked, frame.time)
        tracks.append(track)
        doubts.append(doubt)
    return TrackResult(tracks, doubts)


def replay_frames(
    frames: Sequence[TrackFrame], tracks: Sequence[np.ndarray], params: TrackParams, make_cost: CostFactory
) -> list[np.ndarray]:
    """Per frame (N,) doubt of given track ids (any integers, -1 = none): the video is replayed with the
    memory following the given tracks, and each instance's doubt is `doubt_of_choice` for its track (a
    track id not seen before in the video is the "new track" option). NaN for untracked instances."""
    if not frames:
        return []
    memory = start_memory(frames)
    pair_cost = make_cost(frames, params)
    remembered: dict[int, int] = {}  # given track id -> track in memory
    doubts = []
    for frame, given in zip(frames, tracks, strict=True):
        problem = frame_problem(frame, memory, pair_cost, params)
        new = memory.num_tracks
        rows = [r for r, i in enumerate(problem.rows) if given[i] >= 0]
        chosen = np.array([remembered.get(int(given[problem.rows[r]]), new) for r in rows], np.int64)
        doubt = np.full(frame.num_instances, np.nan)
        if rows:
            # Untracked instances take no part: they are not in the given assignment.
            keep = np.array(rows)
            tags = None if problem.tags is None else problem.tags[keep]
            sub = replace(problem, rows=problem.rows[keep], tags=tags, matrix=problem.matrix[keep])
            doubt[sub.rows] = doubt_of_choice(sub.matrix, sub.option, chosen, params.max_cost)
            for r, label in enumerate(chosen):
                key = int(given[sub.rows[r]])
                remembered[key] = remember(memory, sub, r, None if label == new else int(label), frame.time)
        doubts.append(doubt)
    return doubts
