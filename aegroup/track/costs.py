"""Costs of linking instances to tracks: the damped constant-velocity prediction of a track's pose, the mean
joint distance to it in body sizes, the distance between mean tags, and the box IoU of the baseline."""

from __future__ import annotations

import numpy as np

from aegroup.track.memory import TrackMemory, boxes


def reach(steps: np.ndarray, damping: float) -> np.ndarray:
    """How far, in frames of the last velocity, a track moves in `steps` frames when its velocity is
    multiplied by `damping` every frame: sum of damping**j for j = 1..steps (`steps` itself at 1)."""
    if damping == 1.0:
        return steps
    return damping * (1.0 - damping**steps) / (1.0 - damping)


def predict(memory: TrackMemory, time: int, damping: float) -> np.ndarray:
    """(T, K, 2) each track's pose at `time`: each joint's last sighting moved on at a damped constant
    velocity (NaN for joints never seen).

    A joint's velocity comes from its last two sightings; a joint seen once moves with the mean velocity
    of the track's other joints (0 when none has two sightings).
    """
    gap = (memory.last_t - memory.prev_t)[..., None]
    with np.errstate(invalid="ignore"):
        velocity = (memory.last_xy - memory.prev_xy) / gap
    known = ~np.isnan(velocity[..., 0])
    count = known.sum(axis=1)[:, None]
    total = np.where(known[..., None], velocity, 0.0).sum(axis=1)
    body = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    velocity = np.where(known[..., None], velocity, body[:, None, :])
    steps = time - memory.last_t  # NaN for joints never seen, whose prediction stays NaN
    return memory.last_xy + velocity * reach(steps, damping)[..., None]


def centroid(xy: np.ndarray) -> np.ndarray:
    """(N, 2) mean of the present joints of (N, K, 2) poses (NaN = absent); NaN for a pose without any."""
    present = ~np.isnan(xy[..., :1])
    count = present.sum(axis=1)
    total = np.where(present, xy, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def body_size(xy: np.ndarray) -> np.ndarray:
    """(N,) twice the root-mean-square distance of the present joints of (N, K, 2) poses from their
    centroid (rotation-invariant; 0 for one joint, NaN for none)."""
    square = ((xy - centroid(xy)[:, None]) ** 2).sum(axis=2)
    present = ~np.isnan(square)
    count = present.sum(axis=1)
    mean = np.where(present, square, 0.0).sum(axis=1) / np.maximum(count, 1)
    return np.where(count > 0, 2.0 * np.sqrt(mean), np.nan)


def pose_distance(xy: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(N, T) mean distance in pixels between instances (N, K, 2) and predicted track poses (T, K, 2) over
    the joints both have; the distance between their centroids where they share none."""
    per_joint = np.linalg.norm(xy[:, None] - predicted[None], axis=3)
    shared = ~np.isnan(per_joint)
    count = shared.sum(axis=2)
    mean = np.where(shared, per_joint, 0.0).sum(axis=2) / np.maximum(count, 1)
    if (count == 0).any():
        apart = np.linalg.norm(centroid(xy)[:, None] - centroid(predicted)[None], axis=2)
        mean = np.where(count > 0, mean, apart)
    return mean


def tag_distance(tags: np.ndarray, track_tags: np.ndarray) -> np.ndarray:
    """(N, T) Euclidean distance between instance mean tags (N, D) and track mean tags (T, D); 0 where either
    is unknown (NaN), so a missing tag neither helps nor hurts a match."""
    distance = np.linalg.norm(tags[:, None] - track_tags[None], axis=2)
    return np.nan_to_num(distance, nan=0.0)


def motion_cost(
    memory: TrackMemory,
    xy: np.ndarray,
    tags: np.ndarray | None,
    time: int,
    *,
    damping: float,
    tag_weight: float,
    min_size: float,
) -> np.ndarray:
    """(N, T) cost of linking each instance (N, K, 2) to each track: the mean joint distance to the track's
    predicted pose in units of the track's body size (at least `min_size` pixels), plus `tag_weight` times
    the distance between mean tags."""
    predicted = predict(memory, time, damping)
    size = np.fmax(body_size(predicted), min_size)  # fmax: a NaN size gives min_size
    cost = pose_distance(xy, predicted) / size[None]
    if tags is not None and tag_weight > 0:
        cost = cost + tag_weight * tag_distance(tags, memory.tag)
    return cost


def iou_cost(memory: TrackMemory, xy: np.ndarray) -> np.ndarray:
    """(N, T) 1 - IoU between each instance's box and the box of each track's last observation."""
    a, b = boxes(xy)[:, None], memory.box[None]
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area_a = np.prod(a[..., 2:] - a[..., :2], axis=2)
    area_b = np.prod(b[..., 2:] - b[..., :2], axis=2)
    union = area_a + area_b - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return 1.0 - iou
