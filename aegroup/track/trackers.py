"""Tracker registry: the `Tracker` protocol, the built-in trackers by name, and `aegroup.trackers` plugins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import Field, ValidationError

from aegroup.errors import AegroupError, validation_message
from aegroup.plugins import entry_point_table, load_plugin
from aegroup.track.costs import body_size, iou_cost, motion_cost
from aegroup.track.linker import CostFactory, PairCost, link_frames, replay_frames
from aegroup.track.memory import TrackMemory
from aegroup.track.types import TrackFrame, TrackParams, TrackResult

ENTRY_POINT_GROUP = "aegroup.trackers"


@runtime_checkable
class Tracker(Protocol):
    """Links the instances of one video's frames into tracks.

    Called as `tracker(frames, params)`: `frames` in frame order with distinct frame numbers, at most
    `params.max_tracks` instances each; `params` an instance of the tracker's `Params` model (a subclass
    of `TrackParams`). Returns one (N,) track id array and one (N,) doubt array per frame; ids are
    0..num_tracks-1, fewer than `max_tracks` when that is set, distinct within a frame.
    """

    Params: type[TrackParams]

    def __call__(self, frames: Sequence[TrackFrame], params: Any) -> TrackResult:
        """Track ids and doubts, one array of each per frame."""
        ...


class MotionParams(TrackParams):
    """Parameters of the `motion` tracker (cost: mean joint distance to the predicted pose in body sizes)."""

    damping: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Share of the velocity kept per predicted frame (0: no motion model).",
    )
    tag_weight: float = Field(
        0.0, ge=0.0, description="Weight of the distance between mean tags (0: tags ignored; see docs)."
    )


class IouParams(TrackParams):
    """Parameters of the `iou` baseline (cost: 1 - IoU of the boxes around the joints)."""

    max_cost: float = Field(
        0.9, gt=0.0, description="Gate: links with a box IoU under 1 - max_cost are refused."
    )


def motion_costs(frames: Sequence[TrackFrame], params: TrackParams) -> PairCost:
    """The `motion` pair cost for one video; body sizes are floored at half the video's median body size."""
    assert isinstance(params, MotionParams)
    keypoints = np.concatenate([f.keypoints for f in frames])
    sizes = body_size(np.where(keypoints[..., 2:] > 0, keypoints[..., :2], np.nan))
    sizes = sizes[sizes > 0]  # one joint has no size; NaN (no joint) fails the test too
    min_size = 0.5 * float(np.median(sizes)) if sizes.size else 1.0

    def cost(memory: TrackMemory, xy: np.ndarray, tags: np.ndarray | None, time: int) -> np.ndarray:
        return motion_cost(
            memory, xy, tags, time, damping=params.damping, tag_weight=params.tag_weight, min_size=min_size
        )

    return cost


def iou_costs(frames: Sequence[TrackFrame], params: TrackParams) -> PairCost:
    """The `iou` pair cost: no motion model, no tags, boxes of the last observation."""
    del frames, params

    def cost(memory: TrackMemory, xy: np.ndarray, tags: np.ndarray | None, time: int) -> np.ndarray:
        del tags, time
        return iou_cost(memory, xy)

    return cost


@dataclass(frozen=True)
class FrameLinker:
    """A tracker that links frame to frame by the Hungarian method under the pair cost `make_cost` builds."""

    Params: type[TrackParams]
    make_cost: CostFactory

    def __call__(self, frames: Sequence[TrackFrame], params: Any) -> TrackResult:
        """Track ids and doubts, one array of each per frame."""
        return link_frames(frames, params, self.make_cost)

    def doubt(
        self, frames: Sequence[TrackFrame], tracks: Sequence[np.ndarray], params: Any
    ) -> list[np.ndarray]:
        """Per frame (N,) doubt of the given track ids (see `replay_frames`)."""
        return replay_frames(frames, tracks, params, self.make_cost)


TRACKERS: dict[str, Tracker] = {
    "motion": FrameLinker(MotionParams, motion_costs),
    "iou": FrameLinker(IouParams, iou_costs),
}
"""Built-in trackers by name; plugins are looked up after these."""


@cache
def plugin_trackers() -> dict[str, EntryPoint]:
    """Entry points of the `aegroup.trackers` group by name (not loaded until used)."""
    return entry_point_table(ENTRY_POINT_GROUP)


def available_trackers() -> list[str]:
    """Names accepted by `get_tracker`: built-ins first, then installed plugins."""
    return list(TRACKERS) + sorted(set(plugin_trackers()) - set(TRACKERS))


def get_tracker(method: str | Tracker) -> Tracker:
    """A tracker by built-in or plugin name, or `method` itself when it already is one."""
    if not isinstance(method, str):
        return method
    if method in TRACKERS:
        return TRACKERS[method]
    ep = plugin_trackers().get(method)
    expected = "a tracker (a callable with a 'Params' model)"
    return load_plugin("tracker", method, ep, available_trackers(), is_tracker, expected)  # type: ignore[return-value]


def is_tracker(value: object) -> bool:
    """Whether `value` follows the `Tracker` protocol: callable, with a `Params` model class."""
    return isinstance(value, Tracker) and isinstance(getattr(value, "Params", None), type)


def make_params(tracker: Tracker, source: str = "tracker", **values: Any) -> TrackParams:
    """The tracker's `Params` from keyword values (None = default); a bad value is a one-line error."""
    try:
        return tracker.Params.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None
