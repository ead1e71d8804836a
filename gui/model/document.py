"""The labelling document in plain Python (no Qt): images, per-image instance arrays, selection, review."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aegroup.io.poses import NO_TRACK, VideoRef
from aegroup.schema import PoseSchema

if TYPE_CHECKING:
    from aegroup_gui.model.placing import Placing

Key = tuple[int, int]
"""A keypoint address inside one image: (instance id, joint index)."""


@dataclass(frozen=True, eq=False)
class Annotations:
    """All instances of one image as arrays; never mutated in place (edits build a new one)."""

    ids: np.ndarray  # (N,) int64 stable instance ids, unique within the image
    keypoints: np.ndarray  # (N, K, 3) float64 x, y, v in image pixels; v: aegroup.io.poses VISIBLE ...
    scores: np.ndarray  # (N, K) float64 keypoint score, nan when unknown (hand-added)
    tags: np.ndarray  # (N, K, D) float64 associative-embedding tags, nan when unknown
    origin: np.ndarray  # (N, K) int8 aegroup.io.provenance.JointOrigin codes
    instance_score: np.ndarray  # (N,) float64, nan when unknown
    status: np.ndarray  # (N,) int8 aegroup.io.provenance.InstanceStatus codes
    track: np.ndarray  # (N,) int64 index into Document.tracks, -1 untracked

    def __post_init__(self) -> None:
        for name in _FIELDS:
            getattr(self, name).setflags(write=False)

    @classmethod
    def empty(cls, num_joints: int, tag_dim: int) -> Annotations:
        """No instances."""
        return cls.build(
            ids=np.zeros(0, np.int64),
            keypoints=np.zeros((0, num_joints, 3)),
            scores=np.zeros((0, num_joints)),
            tags=np.zeros((0, num_joints, tag_dim)),
            origin=np.zeros((0, num_joints), np.int8),
            instance_score=np.zeros(0),
            status=np.zeros(0, np.int8),
            track=np.zeros(0, np.int64),
        )

    @classmethod
    def build(cls, **arrays: Any) -> Annotations:
        """Build from array-likes, converting each to its documented dtype (copies); `track` defaults to
        untracked."""
        n = np.asarray(arrays["ids"]).size
        track = arrays.get("track")
        return cls(
            ids=np.array(arrays["ids"], np.int64).reshape(-1),
            keypoints=np.array(arrays["keypoints"], np.float64),
            scores=np.array(arrays["scores"], np.float64),
            tags=np.array(arrays["tags"], np.float64),
            origin=np.array(arrays["origin"], np.int8),
            instance_score=np.array(arrays["instance_score"], np.float64).reshape(-1),
            status=np.array(arrays["status"], np.int8).reshape(-1),
            track=np.full(n, NO_TRACK, np.int64) if track is None else np.array(track, np.int64).reshape(-1),
        )

    def evolve(self, **arrays: Any) -> Annotations:
        """A copy with some arrays replaced (converted to their dtypes)."""
        return Annotations.build(**{**self.arrays(), **arrays})

    def writable(self) -> dict[str, np.ndarray]:
        """Writable copies of every array, for an edit to modify before `Annotations.build`."""
        return {name: getattr(self, name).copy() for name in _FIELDS}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name (read-only, not copied)."""
        return {name: getattr(self, name) for name in _FIELDS}

    @property
    def num_instances(self) -> int:
        """Number of instances N."""
        return int(self.ids.shape[0])

    @property
    def tag_dim(self) -> int:
        """Tag dimensions D."""
        return int(self.tags.shape[2])

    def row(self, instance_id: int) -> int:
        """Row of an instance id; KeyError when absent."""
        hits = np.flatnonzero(self.ids == instance_id)
        if hits.size == 0:
            raise KeyError(instance_id)
        return int(hits[0])

    def present(self) -> np.ndarray:
        """(N, K) bool: joints that exist (visibility > 0)."""
        return self.keypoints[:, :, 2] > 0

    def present_keys(self) -> list[Key]:
        """Every present keypoint as (instance id, joint)."""
        rows, joints = np.nonzero(self.present())
        return [(int(self.ids[r]), int(k)) for r, k in zip(rows, joints, strict=True)]

    def new_id(self) -> int:
        """An instance id not used in this image."""
        return int(self.ids.max()) + 1 if self.ids.size else 1

    def same_as(self, other: Annotations) -> bool:
        """Exact equality of every array (nan equal to nan)."""
        return all(
            getattr(self, n).shape == getattr(other, n).shape
            and np.array_equal(getattr(self, n), getattr(other, n), equal_nan=n in _FLOAT_FIELDS)
            for n in _FIELDS
        )


_FIELDS = ("ids", "keypoints", "scores", "tags", "origin", "instance_score", "status", "track")
_FLOAT_FIELDS = {"keypoints", "scores", "tags", "instance_score"}


@dataclass
class ImageRecord:
    """One image file or video frame of the document: size, current annotations, review flag, candidates.

    An image file has `file_name` (relative to the document's `image_dir`); a video frame has `video`
    (index into `Document.videos`) and `frame_index` instead.
    """

    id: int
    file_name: str | None
    width: int
    height: int
    annotations: Annotations
    reviewed: bool = False
    candidates: dict[str, np.ndarray] | None = None  # read-only joint (M,), xy (M, 2), score (M,), tag (M, D)
    video: int | None = None
    frame_index: int | None = None

    @property
    def frame_key(self) -> tuple[int, int] | None:
        """(video, frame index) of a video frame, None for an image file."""
        return None if self.video is None else (self.video, int(self.frame_index or 0))


@dataclass(frozen=True)
class Change:
    """What changed in the document. `kind` is one of:

    annotations | positions | review: an image's labels (commands); frames: the labels of many images
    (`image` is then the current one); current: another image is shown;
    selection | hover; added: an image became part of the document (a frame labelled from scratch);
    tracks: the track names; mode: the new-instance placing state; style: the colouring.
    `positions` means only keypoint coordinates changed (a drag step): views that do not draw
    coordinates (tag view, panels) can skip it.
    """

    kind: str
    image: int


Listener = Callable[[Change], None]


@dataclass
class Document:
    """Images or video frames, their instances, review status, tracks, the current image, selection and
    hover, with listeners.

    A video-backed document holds the labelled frames as records; any other frame of its videos is shown
    through a *scratch* record (`show_frame`), appended last and dropped again when left unedited, so that
    looking at a frame changes nothing. Its first edit makes it a record like the others.
    """

    schema: PoseSchema
    images: list[ImageRecord]
    tag_dim: int
    image_dir: Path | None = None
    source: str = ""
    videos: list[VideoRef] = field(default_factory=list)  # paths absolute (or as given)
    tracks: list[str] = field(default_factory=list)
    current: int = 0
    selection: frozenset[Key] = frozenset()
    hover: Key | None = None
    changed: set[int] = field(default_factory=set)  # images edited since the last save
    revision: int = 0  # bumped on every annotation, review or track change (autosave compares it)
    scratch: int | None = None  # index of the unedited record showing an unlabelled video frame
    placing: Placing | None = None  # a new instance being placed joint by joint
    color_by_track: bool = False
    _listeners: list[Listener] = field(default_factory=list, repr=False)
    _frames: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._frames = {im.frame_key: i for i, im in enumerate(self.images) if im.frame_key is not None}
        if not self.images:
            if not self.videos:
                raise ValueError("a document needs an image or a video")
            self.images.append(self._blank(0, 0))
            self.scratch = 0
            self._frames[(0, 0)] = 0

    def __repr__(self) -> str:
        return f"Document({self.schema.name!r}, {len(self.images)} images, current={self.current})"

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, kind: str, image: int) -> None:
        for listener in list(self._listeners):
            listener(Change(kind, image))

    @property
    def image(self) -> ImageRecord:
        """The current image."""
        return self.images[self.current]

    def kept(self) -> list[int]:
        """Indices of the images that are part of the document (all but an unedited scratch frame)."""
        return [i for i in range(len(self.images)) if i != self.scratch]

    def image_name(self, index: int) -> str:
        """A short name of image `index`: its file name, or the video's file name and the frame number."""
        record = self.images[index]
        if record.video is None:
            return str(record.file_name)
        return f"{Path(self.videos[record.video].path).name} #{record.frame_index}"

    def set_annotations(self, index: int, annotations: Annotations, positions_only: bool = False) -> None:
        """Replace the annotations of image `index` (commands call this); see `Change` for the flag."""
        self.images[index].annotations = annotations
        self._touch(index)
        if index == self.current:
            self._prune_selection()
        self._emit("positions" if positions_only else "annotations", index)

    def set_many(self, annotations: dict[int, Annotations]) -> None:
        """Replace the annotations of many images at once (an identity edit over a video): one `frames`
        change instead of one per image."""
        for index, ann in annotations.items():
            self.images[index].annotations = ann
            self._touch(index)
        self._prune_selection()
        self._emit("frames", self.current)

    def set_reviewed(self, index: int, reviewed: bool) -> None:
        """Set the review flag of image `index` (commands call this)."""
        self.images[index].reviewed = reviewed
        self._touch(index)
        self._emit("review", index)

    def set_tracks(self, tracks: list[str]) -> None:
        """Replace the track names (commands call this; instances refer to tracks by index)."""
        self.tracks = list(tracks)
        self.revision += 1
        self._emit("tracks", self.current)

    def _touch(self, index: int) -> None:
        if index == self.scratch:  # an edit makes a looked-at frame part of the document
            self.scratch = None
            self._emit("added", index)
        self.changed.add(index)
        self.revision += 1

    def set_current(self, index: int) -> None:
        """Show another image; clears selection and hover (an unedited scratch frame left is dropped)."""
        if not 0 <= index < len(self.images):
            raise IndexError(index)
        if index == self.current:
            return
        self.current = index
        if self.scratch is not None and self.scratch != index:
            self._drop_scratch()
        self._shown()

    def _shown(self) -> None:
        self.selection = frozenset()
        self.hover = None
        self._emit("current", self.current)

    def _drop_scratch(self) -> None:
        """Remove the unedited scratch record (always the last one, so no other index moves)."""
        assert self.scratch == len(self.images) - 1
        record = self.images.pop()
        self._frames.pop(record.frame_key, None)  # type: ignore[arg-type]
        self.scratch = None

    def frame_image(self, video: int, frame_index: int) -> int | None:
        """The index of the record of a video frame, or None when the frame is not in the document."""
        return self._frames.get((video, frame_index))

    def show_frame(self, video: int, frame_index: int) -> int:
        """Show a frame of a video, labelled or not (an unlabelled one through a scratch record); returns
        the index of its record."""
        ref = self.videos[video]
        if not 0 <= frame_index < (ref.frames or frame_index + 1):
            raise IndexError(frame_index)
        index = self.frame_image(video, frame_index)
        if index is not None:
            self.set_current(index)
            return index
        record = self._blank(video, frame_index)
        if self.scratch is not None and self.scratch == self.current:
            self._frames.pop(self.images[self.scratch].frame_key, None)  # type: ignore[arg-type]
            record.id = self.images[self.scratch].id
            self.images[self.scratch] = record
        else:
            if self.scratch is not None:
                self._drop_scratch()
            self.images.append(record)
            self.scratch = len(self.images) - 1
        self._frames[(video, frame_index)] = self.current = self.scratch
        self._shown()
        return self.scratch

    def _blank(self, video: int, frame_index: int) -> ImageRecord:
        """An unlabelled frame of a video, with a fresh image id."""
        ref = self.videos[video]
        new_id = max((im.id for im in self.images), default=0) + 1
        empty = Annotations.empty(self.schema.num_joints, self.tag_dim)
        size = int(ref.width or 1), int(ref.height or 1)
        return ImageRecord(new_id, None, *size, empty, video=video, frame_index=frame_index)

    def add_image(self, record: ImageRecord) -> int:
        """Make a record part of the document (a frame restored from an autosave); returns its index."""
        if self.scratch is not None and self.scratch != self.current:
            self._drop_scratch()
        index = len(self.images)
        if self.scratch is not None:  # keep the shown scratch record last
            index = self.scratch
            self.images.insert(index, record)
            self.scratch += 1
            self.current += 1
            self._frames = {k: (i + 1 if i >= index else i) for k, i in self._frames.items()}
        else:
            self.images.append(record)
        if record.frame_key is not None:
            self._frames[record.frame_key] = index
        self._emit("added", index)
        return index

    def set_selection(self, keys: Iterable[Key]) -> None:
        """Select keypoints of the current image (absent ones are dropped)."""
        valid = set(self.image.annotations.present_keys())
        selection = frozenset(k for k in keys if k in valid)
        if selection != self.selection:
            self.selection = selection
            self._emit("selection", self.current)

    def set_hover(self, key: Key | None) -> None:
        """Mark the keypoint under the pointer (in any view), or none."""
        if key != self.hover:
            self.hover = key
            self._emit("hover", self.current)

    def set_placing(self, placing: Placing | None) -> None:
        """Set or clear the new-instance placing state."""
        self.placing = placing
        self._emit("mode", self.current)

    def set_color_by_track(self, on: bool) -> None:
        """Colour instances by their track (True) or by instance (False)."""
        if on != self.color_by_track:
            self.color_by_track = on
            self._emit("style", self.current)

    def _prune_selection(self) -> None:
        valid = set(self.image.annotations.present_keys())
        self.selection = frozenset(k for k in self.selection if k in valid)
        if self.hover is not None and self.hover not in valid:
            self.hover = None

    def selected_instances(self) -> list[int]:
        """Ids of instances owning a selected keypoint, in row order."""
        owners = {inst for inst, _ in self.selection}
        return [int(i) for i in self.image.annotations.ids if int(i) in owners]

    def snapshot(self) -> list[tuple[Annotations, bool]]:
        """The editable state of every image (annotation objects are immutable, so this is cheap)."""
        return [(im.annotations, im.reviewed) for im in self.images]

    def same_state(self, snapshot: list[tuple[Annotations, bool]]) -> bool:
        """Whether every image's annotations and review flag equal a snapshot."""
        return len(snapshot) == len(self.images) and all(
            im.reviewed == rev and im.annotations.same_as(ann)
            for im, (ann, rev) in zip(self.images, snapshot, strict=True)
        )

    def mark_saved(self) -> None:
        """Forget which images changed (after a save)."""
        self.changed.clear()
