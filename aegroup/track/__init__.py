"""Tracking: link the instances of video frames into identities (numpy + scipy; no torch, no Qt)."""

from aegroup.track.api import Tracked, track_doubt, track_poses
from aegroup.track.trackers import (
    TRACKERS,
    IouParams,
    MotionParams,
    Tracker,
    available_trackers,
    get_tracker,
    make_params,
)
from aegroup.track.types import TrackFrame, TrackParams, TrackResult

__all__ = [
    "TRACKERS",
    "IouParams",
    "MotionParams",
    "TrackFrame",
    "TrackParams",
    "TrackResult",
    "Tracked",
    "Tracker",
    "available_trackers",
    "get_tracker",
    "make_params",
    "track_doubt",
    "track_poses",
]
