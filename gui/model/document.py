"""The labelling document in plain Python (no Qt): images, per-image instance arrays, selection, review."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.schema import PoseSchema

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

    def __post_init__(self) -> None:
        for name in ("ids", "keypoints", "scores", "tags", "origin", "instance_score", "status"):
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
        )

    @classmethod
    def build(cls, **arrays: Any) -> Annotations:
        """Build from array-likes, converting each to its documented dtype (copies)."""
        return cls(
            ids=np.array(arrays["ids"], np.int64).reshape(-1),
            keypoints=np.array(arrays["keypoints"], np.float64),
            scores=np.array(arrays["scores"], np.float64),
            tags=np.array(arrays["tags"], np.float64),
            origin=np.array(arrays["origin"], np.int8),
            instance_score=np.array(arrays["instance_score"], np.float64).reshape(-1),
            status=np.array(arrays["status"], np.int8).reshape(-1),
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


_FIELDS = ("ids", "keypoints", "scores", "tags", "origin", "instance_score", "status")
_FLOAT_FIELDS = {"keypoints", "scores", "tags", "instance_score"}


@dataclass
class ImageRecord:
    """One image of the document: file, size, current annotations, review flag, stored candidates."""

    id: int
    file_name: str
    width: int
    height: int
    annotations: Annotations
    reviewed: bool = False
    candidates: dict[str, np.ndarray] | None = None  # read-only joint (M,), xy (M, 2), score (M,), tag (M, D)


@dataclass(frozen=True)
class Change:
    """What changed in the document: kind is annotations | positions | review | current | selection | hover.

    `positions` means only keypoint coordinates changed (a drag step): views that do not draw
    coordinates (tag view, panels) can skip it.
    """

    kind: str
    image: int


Listener = Callable[[Change], None]


@dataclass
class Document:
    """Images, their instances, review status, the current image, selection and hover, with listeners."""

    schema: PoseSchema
    images: list[ImageRecord]
    tag_dim: int
    image_dir: Path | None = None
    source: str = ""
    current: int = 0
    selection: frozenset[Key] = frozenset()
    hover: Key | None = None
    changed: set[int] = field(default_factory=set)  # images edited since the last save
    revision: int = 0  # bumped on every annotation or review change (autosave compares it)
    _listeners: list[Listener] = field(default_factory=list, repr=False)

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

    def set_annotations(self, index: int, annotations: Annotations, positions_only: bool = False) -> None:
        """Replace the annotations of image `index` (commands call this); see `Change` for the flag."""
        self.images[index].annotations = annotations
        self._touch(index)
        if index == self.current:
            self._prune_selection()
        self._emit("positions" if positions_only else "annotations", index)

    def set_reviewed(self, index: int, reviewed: bool) -> None:
        """Set the review flag of image `index` (commands call this)."""
        self.images[index].reviewed = reviewed
        self._touch(index)
        self._emit("review", index)

    def _touch(self, index: int) -> None:
        self.changed.add(index)
        self.revision += 1

    def set_current(self, index: int) -> None:
        """Show another image; clears selection and hover."""
        if not 0 <= index < len(self.images):
            raise IndexError(index)
        if index == self.current:
            return
        self.current = index
        self.selection = frozenset()
        self.hover = None
        self._emit("current", index)

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
