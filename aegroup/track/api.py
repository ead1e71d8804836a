"""Track a whole `PoseSet`: split it per video, put frames in order, keep at most `max_tracks` instances per
frame, run a tracker on each video and write its track ids back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.poses import Frame, PoseSet
from aegroup.track.trackers import FrameLinker, Tracker, get_tracker, make_params
from aegroup.track.types import TrackFrame, TrackParams, TrackResult


@dataclass(frozen=True)
class VideoFrames:
    """The frames of one video (or of the set's images) in frame order: indices into `PoseSet.frames`
    and their frame numbers; `reordered` when the set listed them in another order."""

    name: str
    frames: list[int]
    times: list[int]
    reordered: bool

    @property
    def step(self) -> float:
        """Median distance in frame numbers between consecutive frames (0 for one frame)."""
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 0.0


@dataclass
class Tracked:
    """A tracked `PoseSet` and what tracking did to it.

    `poses` has frames in frame order per video, at most `max_tracks` instances each, and new tracks
    `track_0`, `track_1`, ... (distinct across videos); `doubt` per output frame (N,) float64 in [0, 1]
    (NaN for an untracked instance); `dropped` instances removed beyond `max_tracks`; `sequences` the
    videos (or image series) tracked separately; `reordered` names those whose frames were out of order;
    `sparse` those whose frames are typically further apart than the window (median step), so that tracks
    end between them unless `max_tracks` is set.
    """

    poses: PoseSet
    doubt: list[np.ndarray]
    dropped: int
    sequences: list[str]
    reordered: list[str]
    sparse: dict[str, float]

    @property
    def num_tracks(self) -> int:
        """Number of tracks over all videos."""
        return len(self.poses.tracks)


def split_sequences(poses: PoseSet, source: str = "poses") -> list[VideoFrames]:
    """The set's frames grouped per video (image frames form one series ordered by id), in frame order.

    Video frames are ordered by `frame_index`; two frames of one video with the same index are an error.
    """
    groups: dict[int, list[int]] = {}
    for i, f in enumerate(poses.frames):
        if f.video is not None and f.frame_index is None:
            raise AegroupError(f"{source}: frame {f.id}: field 'frame_index' is missing for a video frame")
        groups.setdefault(-1 if f.video is None else f.video, []).append(i)
    out = []
    for key in sorted(groups):
        members = groups[key]
        if key < 0:
            name = "images"
            numbers = [poses.frames[i].id for i in members]
        else:
            name = f"video {key} ({poses.videos[key].path})"
            numbers = [int(poses.frames[i].frame_index) for i in members]  # type: ignore[arg-type]
        order = np.argsort(numbers, kind="stable")
        ranked = [numbers[j] for j in order]
        repeated = [a for a, b in pairwise(ranked) if a == b]
        if repeated:
            raise AegroupError(
                f"{source}: {name}: field 'frame_index': frame {repeated[0]} appears more than once"
            )
        # Image ids are labels, not times: a series of images is one frame per image.
        times = ranked if key >= 0 else list(range(len(ranked)))
        out.append(VideoFrames(name, [members[j] for j in order], times, bool((np.diff(order) < 0).any())))
    return out


def keep_best(frame: Frame, limit: int | None) -> tuple[Frame, int]:
    """The frame with at most `limit` instances (user instances first, then by instance score, then by
    labelled joints; instance order kept) and how many were dropped."""
    n = frame.num_instances
    if limit is None or n <= limit:
        return frame, 0
    score = np.nan_to_num(frame.instance_score, nan=-np.inf)
    rank = np.lexsort((np.arange(n), -frame.present().sum(axis=1), -score, ~frame.user))
    return frame.select(np.sort(rank[:limit])), n - limit


def check_result(result: TrackResult, frames: Sequence[TrackFrame], params: TrackParams, name: str) -> None:
    """Raise a one-line `AegroupError` naming the tracker when its answer breaks the `Tracker` contract."""
    if len(result.track) != len(frames) or len(result.doubt) != len(frames):
        raise AegroupError(f"method '{name}': returned {len(result.track)} frames for {len(frames)}")
    for frame, track, doubt in zip(frames, result.track, result.doubt, strict=True):
        where = f"method '{name}': frame {frame.time}"
        if track.shape != (frame.num_instances,) or doubt.shape != (frame.num_instances,):
            raise AegroupError(f"{where}: track or doubt shaped {track.shape}, not ({frame.num_instances},)")
        ids = track[track >= 0]
        if len(np.unique(ids)) != len(ids):
            raise AegroupError(f"{where}: a track id is given to two instances")
        if (track < -1).any() or (params.max_tracks is not None and (ids >= params.max_tracks).any()):
            raise AegroupError(f"{where}: track id outside 0..max_tracks-1")


def resolve(
    method: str | Tracker, params: TrackParams | Mapping[str, Any] | None
) -> tuple[Tracker, str, TrackParams]:
    """The tracker, its name for messages, and its `Params` from a mapping or another tracker's params
    (what was set carries over, checked by this tracker's model)."""
    tracker = get_tracker(method)
    name = method if isinstance(method, str) else type(method).__name__
    if not isinstance(params, tracker.Params):
        values = (
            params.model_dump(exclude_unset=True) if isinstance(params, TrackParams) else dict(params or {})
        )
        params = make_params(tracker, f"method '{name}'", **values)
    return tracker, name, params


def track_poses(
    poses: PoseSet,
    method: str | Tracker = "motion",
    params: TrackParams | Mapping[str, Any] | None = None,
    source: str = "poses",
) -> Tracked:
    """Track every video of a `PoseSet` separately and return the tracked set (existing tracks replaced).

    `params` is the tracker's `Params`, or a mapping (or other params) of the values to set.
    """
    tracker, name, params = resolve(method, params)
    frames: list[Frame] = []
    doubts: list[np.ndarray] = []
    track_names: list[str] = []
    dropped = 0
    sequences = split_sequences(poses, source)
    for seq in sequences:
        kept = []
        for i in seq.frames:
            frame, lost = keep_best(poses.frames[i], params.max_tracks)
            kept.append(frame)
            dropped += lost
        inputs = [TrackFrame(t, f.keypoints, f.tags) for t, f in zip(seq.times, kept, strict=True)]
        result = tracker(inputs, params)
        check_result(result, inputs, params, name)
        first = len(track_names)
        track_names += [f"track_{first + k}" for k in range(result.num_tracks)]
        for frame, track, doubt in zip(kept, result.track, result.doubt, strict=True):
            frames.append(replace(frame, track=np.where(track >= 0, track + first, -1).astype(np.int64)))
            doubts.append(np.asarray(doubt, np.float64))
    tracked = replace(poses, frames=frames, tracks=track_names)
    return Tracked(
        tracked,
        doubts,
        dropped,
        [s.name for s in sequences],
        [s.name for s in sequences if s.reordered],
        {s.name: s.step for s in sequences if params.max_tracks is None and s.step > params.window},
    )


def track_doubt(
    poses: PoseSet,
    method: str | Tracker = "motion",
    params: TrackParams | Mapping[str, Any] | None = None,
    source: str = "poses",
) -> list[np.ndarray]:
    """Doubt of the tracks a `PoseSet` already has (from another tool, or edited by hand), one (N,) array
    per frame of `poses.frames`, in its order: each video is replayed following its tracks, and an
    instance's doubt is how close another track (or a new one) comes to the one it has (docs/tracking.md).
    A link the tracker would refuse, or a worse one than an alternative, has doubt 1; NaN: untracked."""
    tracker, name, params = resolve(method, params)
    if not isinstance(tracker, FrameLinker):
        raise AegroupError(f"method '{name}': can track but not score given tracks (use a built-in)")
    out: list[np.ndarray] = [np.zeros(0)] * len(poses.frames)
    for seq in split_sequences(poses, source):
        frames = [poses.frames[i] for i in seq.frames]
        for f in frames:
            ids = f.track[f.track >= 0]
            if len(np.unique(ids)) != len(ids):
                raise AegroupError(f"{source}: frame {f.id}: field 'track': one track given to two instances")
            if params.max_tracks is not None and f.num_instances > params.max_tracks:
                raise AegroupError(
                    f"{source}: frame {f.id}: {f.num_instances} instances, more than max_tracks"
                )
        inputs = [TrackFrame(t, f.keypoints, f.tags) for t, f in zip(seq.times, frames, strict=True)]
        for i, doubt in zip(
            seq.frames, tracker.doubt(inputs, [f.track for f in frames], params), strict=True
        ):
            out[i] = doubt
    return out
