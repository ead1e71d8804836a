"""Pose labels of many images or video frames as arrays: the hub every file format converts through.

A `PoseSet` is what SLEAP calls `Labels`: a skeleton, the frames that carry instances, the tracks
(identities) and videos they refer to. Readers of every supported format return one; writers take one.
Coordinates are image pixels (pixel centres at integers, as COCO and SLEAP use them). An absent joint has
visibility 0 and NaN coordinates, whatever the source format wrote for it, so that no writer can turn it
into a visible point at (0, 0). Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from aegroup.errors import AegroupError
from aegroup.schema import PoseSchema

ABSENT, OCCLUDED, VISIBLE = 0, 1, 2
"""COCO visibility flags, used by every format here."""

NO_TRACK = -1
"""`Frame.track` value of an instance without identity."""


@dataclass(frozen=True)
class VideoRef:
    """A video that frames refer to: its path as the source file stores it, and its size when known.

    `dataset` names the HDF5 dataset of a file that holds the frames as encoded images (SLEAP .pkg.slp);
    `path` is then that file, and frame indices are the source video's.
    """

    path: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    dataset: str | None = None


@dataclass
class Frame:
    """One labelled image or video frame and its N instances (arrays, one row per instance).

    `keypoints` (N, K, 3) float64 x, y, v in image pixels (v: 0 absent with x = y = NaN, 1 occluded,
    2 visible); `scores` (N, K) float64 keypoint scores, NaN where unknown (placed by a person);
    `instance_score` (N,) float64, NaN for user instances; `track` (N,) int64 index into `PoseSet.tracks`
    or -1; `user` (N,) bool, True for instances labelled (or corrected) by a person, False for
    predictions; `tags` (N, K, D) float64 associative-embedding tags or None.
    `file_name` names the image relative to the set's `image_dir`; a video frame has `video` (index into
    `PoseSet.videos`) and `frame_index`, and a `file_name` only once it has been written out as an image.
    """

    id: int
    width: int
    height: int
    keypoints: np.ndarray
    scores: np.ndarray
    instance_score: np.ndarray
    track: np.ndarray
    user: np.ndarray
    file_name: str | None = None
    video: int | None = None
    frame_index: int | None = None
    tags: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        id: int,
        width: int,
        height: int,
        keypoints: np.ndarray | Sequence,
        *,
        scores: np.ndarray | Sequence | None = None,
        instance_score: np.ndarray | Sequence | None = None,
        track: np.ndarray | Sequence | None = None,
        user: np.ndarray | Sequence | bool = True,
        file_name: str | None = None,
        video: int | None = None,
        frame_index: int | None = None,
        tags: np.ndarray | Sequence | None = None,
    ) -> Frame:
        """A frame from array-likes with defaults filled in; absent joints get NaN coordinates."""
        kp = np.array(keypoints, dtype=np.float64)
        if kp.ndim != 3 or kp.shape[2] != 3:
            raise ValueError(f"keypoints: expected shape (N, K, 3), got {kp.shape}")
        n, k = kp.shape[:2]
        kp[kp[..., 2] <= 0] = (np.nan, np.nan, ABSENT)
        nan_n = np.full(n, np.nan)
        return cls(
            id=int(id),
            width=int(width),
            height=int(height),
            keypoints=kp,
            scores=np.full((n, k), np.nan) if scores is None else np.array(scores, np.float64).reshape(n, k),
            instance_score=nan_n
            if instance_score is None
            else np.array(instance_score, np.float64).reshape(n),
            track=np.full(n, NO_TRACK, np.int64) if track is None else np.array(track, np.int64).reshape(n),
            user=np.broadcast_to(np.array(user, bool), (n,)).copy(),
            file_name=file_name,
            video=video,
            frame_index=None if frame_index is None else int(frame_index),
            tags=None if tags is None else np.array(tags, np.float64).reshape(n, k, -1),
        )

    @property
    def num_instances(self) -> int:
        """Number of instances N."""
        return int(self.keypoints.shape[0])

    def present(self) -> np.ndarray:
        """(N, K) bool: joints that are labelled (visibility > 0)."""
        return self.keypoints[..., 2] > 0

    def select(self, rows: np.ndarray | Sequence[int]) -> Frame:
        """A copy holding only some instances (rows or a boolean mask), in that order."""
        idx = np.asarray(rows)
        return replace(
            self,
            keypoints=self.keypoints[idx],
            scores=self.scores[idx],
            instance_score=self.instance_score[idx],
            track=self.track[idx],
            user=self.user[idx],
            tags=None if self.tags is None else self.tags[idx],
        )


@dataclass
class PoseSet:
    """A skeleton, its labelled frames, and the tracks and videos the frames refer to."""

    schema: PoseSchema
    frames: list[Frame]
    tracks: list[str] = field(default_factory=list)
    videos: list[VideoRef] = field(default_factory=list)
    image_dir: Path | None = None

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def num_instances(self) -> int:
        """Instances over all frames."""
        return sum(f.num_instances for f in self.frames)

    def check(self, source: str | Path = "poses") -> PoseSet:
        """Raise a one-line `AegroupError` naming `source` and the field if any frame is inconsistent."""
        k = self.schema.num_joints
        ids: set[int] = set()
        for f in self.frames:
            where = f"{source}: frame {f.id}"
            if f.id in ids:
                raise AegroupError(f"{where}: field 'id' is duplicated")
            ids.add(f.id)
            n = f.num_instances
            if f.keypoints.shape != (n, k, 3):
                raise AegroupError(
                    f"{where}: field 'keypoints' has shape {f.keypoints.shape}, expected ({n}, {k}, 3)"
                )
            for name, shape in (
                ("scores", (n, k)),
                ("instance_score", (n,)),
                ("track", (n,)),
                ("user", (n,)),
            ):
                if getattr(f, name).shape != shape:
                    raise AegroupError(
                        f"{where}: field '{name}' has shape {getattr(f, name).shape}, expected {shape}"
                    )
            if f.tags is not None and f.tags.shape[:2] != (n, k):
                raise AegroupError(f"{where}: field 'tags' has shape {f.tags.shape}, expected ({n}, {k}, D)")
            if f.video is not None and not 0 <= f.video < len(self.videos):
                raise AegroupError(
                    f"{where}: field 'video' {f.video} is not one of {len(self.videos)} videos"
                )
            if f.file_name is None and f.video is None:
                raise AegroupError(f"{where}: has neither 'file_name' nor 'video'")
            bad = f.track[(f.track != NO_TRACK) & ((f.track < 0) | (f.track >= len(self.tracks)))]
            if bad.size:
                raise AegroupError(
                    f"{where}: field 'track' {int(bad[0])} is not one of {len(self.tracks)} tracks"
                )
            vis = f.keypoints[..., 2]
            if not np.isin(vis, (ABSENT, OCCLUDED, VISIBLE)).all():
                raise AegroupError(f"{where}: field 'keypoints' has a visibility flag outside 0, 1, 2")
            if not np.isfinite(f.keypoints[vis > 0, :2]).all():
                raise AegroupError(f"{where}: field 'keypoints' has a labelled joint without finite x, y")
        return self


def prefer_user_instances(poses: PoseSet) -> PoseSet:
    """A copy in which each frame keeps its user instances when it has any, else its predictions.

    This is what formats without a user/predicted distinction (DeepLabCut, YOLO) are given: SLEAP keeps a
    prediction beside the user instance corrected from it, and writing both would label one animal twice.
    """
    frames = [f if not f.user.any() or f.user.all() else f.select(f.user) for f in poses.frames]
    return replace(poses, frames=frames)


BOX_PAD = 0.1
"""Padding of a box drawn around an instance's labelled joints, as a fraction of its longer side."""
BOX_MIN_PAD = 4.0
"""Least padding of such a box, in pixels (one joint alone still gets a box)."""


def instance_box(keypoints: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """x, y, width, height around one (K, 3) instance's labelled joints, padded and clipped to the image
    (zeros when none is labelled).

    The pad is `BOX_PAD` of the joints' longer extent, at least `BOX_MIN_PAD` pixels, on every side: joints
    lie inside an animal, and a box drawn by a person covers the whole body.
    """
    xy = keypoints[keypoints[:, 2] > 0, :2]
    if xy.size == 0:
        return 0.0, 0.0, 0.0, 0.0
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = max(BOX_PAD * float((hi - lo).max()), BOX_MIN_PAD)
    lo, hi = lo - pad, hi + pad
    clipped_lo, clipped_hi = np.maximum(lo, 0.0), np.minimum(hi, (float(width), float(height)))
    if (clipped_hi > clipped_lo).all():  # joints all outside the image keep their unclipped box
        lo, hi = clipped_lo, clipped_hi
    return float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])


def repoint_videos(videos: list[VideoRef], video: Path | None, source: str | Path) -> list[VideoRef]:
    """The videos with `--video` put in place of the stored path: of the only video, or of the only one
    whose stored path does not exist; anything else is a one-line error naming `source`."""
    if video is None:
        return videos
    if not videos:
        raise AegroupError(f"{source}: --video given, but the file refers to no video")
    missing = [i for i, ref in enumerate(videos) if not Path(ref.path).is_file()]
    if len(videos) == 1:
        index = 0
    elif len(missing) == 1:
        index = missing[0]
    else:
        raise AegroupError(
            f"{source}: --video is ambiguous: the file refers to {len(videos)} videos, "
            f"{len(missing)} of them missing ({', '.join(videos[i].path for i in missing) or 'none'})"
        )
    if not video.is_file():
        raise AegroupError(f"{video}: --video: file not found")
    out = list(videos)
    out[index] = replace(out[index], path=str(video), dataset=None)
    return out


def stored_path(path: str, folder: Path) -> str:
    """A path as a file stores it, resolved against the file's folder when relative."""
    return path if Path(path).is_absolute() else str(folder / path)
