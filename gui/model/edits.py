"""Edit operations as pure functions: each takes an image's `Annotations` and returns a new one."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from aegroup.io.poses import ABSENT, NO_TRACK, OCCLUDED, VISIBLE
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.schema import PoseSchema
from aegroup_gui.model.document import Annotations, Key

Arrays = dict[str, np.ndarray]


def _clear(w: Arrays, row: int, k: int) -> None:
    """Make joint k of a row absent."""
    w["keypoints"][row, k] = 0.0
    w["scores"][row, k] = np.nan
    w["tags"][row, k] = np.nan
    w["origin"][row, k] = JointOrigin.PREDICTED


def _corrected(w: Arrays, row: int, k: int | None = None) -> None:
    """Mark a row (and optionally one joint) as touched by a person; hand-added stays hand-added."""
    if w["status"][row] == InstanceStatus.PREDICTED:
        w["status"][row] = InstanceStatus.CORRECTED
    if k is not None and w["origin"][row, k] != JointOrigin.ADDED:
        w["origin"][row, k] = JointOrigin.CORRECTED


def _swap_joint(w: Arrays, a: int, b: int, k: int) -> None:
    for name in ("keypoints", "scores", "tags", "origin"):
        w[name][[a, b], k] = w[name][[b, a], k]


def _drop_empty(w: Arrays, rows: Iterable[int]) -> Arrays:
    """Remove the given rows if they have no present joint left."""
    empty = [r for r in rows if not (w["keypoints"][r, :, 2] > 0).any()]
    if not empty:
        return w
    keep = np.setdiff1d(np.arange(len(w["ids"])), empty)
    return {name: arr[keep] for name, arr in w.items()}


def move_keypoint(ann: Annotations, key: Key, xy: tuple[float, float]) -> Annotations:
    """Move one keypoint to image position `xy`."""
    w = ann.writable()
    row = ann.row(key[0])
    w["keypoints"][row, key[1], :2] = xy
    _corrected(w, row, key[1])
    return Annotations.build(**w)


def set_visibility(ann: Annotations, keys: Iterable[Key], visibility: int) -> Annotations:
    """Set the COCO visibility (0 absent, 1 occluded, 2 visible) of keypoints."""
    w = ann.writable()
    for inst, k in keys:
        row = ann.row(inst)
        if visibility == ABSENT:
            _clear(w, row, k)
            _corrected(w, row)
        else:
            w["keypoints"][row, k, 2] = visibility
            _corrected(w, row, k)
    return Annotations.build(**w)


def next_visibility(visibility: int) -> int:
    """The cycle visible -> occluded -> absent -> visible."""
    return {VISIBLE: OCCLUDED, OCCLUDED: ABSENT}.get(int(visibility), VISIBLE)


def cycle_visibility(ann: Annotations, keys: list[Key]) -> Annotations:
    """Advance the visibility of keypoints; all follow the first one so a mixed selection ends equal."""
    first = ann.keypoints[ann.row(keys[0][0]), keys[0][1], 2]
    return set_visibility(ann, keys, next_visibility(int(first)))


def add_keypoint(ann: Annotations, instance_id: int, k: int, xy: tuple[float, float]) -> Annotations:
    """Place joint k of an instance by hand (visible, no score, no tag)."""
    w = ann.writable()
    row = ann.row(instance_id)
    w["keypoints"][row, k] = (xy[0], xy[1], VISIBLE)
    w["scores"][row, k] = np.nan
    w["tags"][row, k] = np.nan
    w["origin"][row, k] = JointOrigin.ADDED
    _corrected(w, row)
    return Annotations.build(**w)


def new_instance(ann: Annotations, instance_id: int | None = None) -> tuple[Annotations, int]:
    """Append an empty, hand-added instance (with a given unused id, or a new one); returns it and its id."""
    new_id = ann.new_id() if instance_id is None else instance_id
    k, d = ann.keypoints.shape[1], ann.tag_dim
    w = ann.writable()
    w["ids"] = np.append(w["ids"], new_id)
    w["keypoints"] = np.concatenate([w["keypoints"], np.zeros((1, k, 3))])
    w["scores"] = np.concatenate([w["scores"], np.full((1, k), np.nan)])
    w["tags"] = np.concatenate([w["tags"], np.full((1, k, d), np.nan)])
    w["origin"] = np.concatenate([w["origin"], np.zeros((1, k), np.int8)])
    w["instance_score"] = np.append(w["instance_score"], np.nan)
    w["status"] = np.append(w["status"], InstanceStatus.ADDED)
    w["track"] = np.append(w["track"], NO_TRACK)
    return Annotations.build(**w), new_id


def place_keypoint(ann: Annotations, instance_id: int, k: int, xy: tuple[float, float]) -> Annotations:
    """Place joint k of an instance by hand, creating the (hand-added) instance when it does not exist."""
    if instance_id not in ann.ids:
        ann, _ = new_instance(ann, instance_id)
    return add_keypoint(ann, instance_id, k, xy)


def reassign(ann: Annotations, keys: Iterable[Key], target: int | None) -> Annotations:
    """Give keypoints to instance `target` (None: a new instance).

    A joint the target already has goes back to the source instance (a swap), so no detection is lost;
    when several selected keypoints share a joint type, the first (by instance id) wins. Source
    instances left without joints are removed.
    """
    if target is None:
        ann, target = new_instance(ann)
    w = ann.writable()
    t = ann.row(target)
    done: set[int] = set()
    sources: set[int] = set()
    for inst, k in sorted(keys):
        s = ann.row(inst)
        if s == t or k in done:
            continue
        done.add(k)
        sources.add(s)
        if w["keypoints"][t, k, 2] > 0:
            _swap_joint(w, s, t, k)
            _corrected(w, s, k)
        else:
            for name in ("keypoints", "scores", "tags", "origin"):
                w[name][t, k] = w[name][s, k]
            _clear(w, s, k)
            _corrected(w, s)
        _corrected(w, t, k)
    return Annotations.build(**_drop_empty(w, sources))


def swap_joints(ann: Annotations, a: int, b: int, joints: Iterable[int]) -> Annotations:
    """Exchange the given joint types between instances a and b."""
    w = ann.writable()
    ra, rb = ann.row(a), ann.row(b)
    for k in joints:
        _swap_joint(w, ra, rb, k)
        for row in (ra, rb):
            _corrected(w, row, k if w["keypoints"][row, k, 2] > 0 else None)
    return Annotations.build(**w)


def merge(ann: Annotations, keep: int, other: int) -> Annotations:
    """Fold instance `other` into `keep`: per joint, the present one (the higher score when both are)."""
    w = ann.writable()
    rk, ro = ann.row(keep), ann.row(other)
    for k in range(ann.keypoints.shape[1]):
        if w["keypoints"][ro, k, 2] <= 0:
            continue
        mine, theirs = w["scores"][rk, k], w["scores"][ro, k]
        if w["keypoints"][rk, k, 2] <= 0 or (theirs > mine):  # nan compares False: keep's joint wins
            for name in ("keypoints", "scores", "tags", "origin"):
                w[name][rk, k] = w[name][ro, k]
            _corrected(w, rk, k)
    _corrected(w, rk)
    keep_rows = np.arange(len(w["ids"])) != ro
    return Annotations.build(**{name: arr[keep_rows] for name, arr in w.items()})


def delete_instances(ann: Annotations, ids: Iterable[int]) -> Annotations:
    """Remove instances."""
    drop = set(ids)
    keep_rows = np.array([int(i) not in drop for i in ann.ids], bool)
    return Annotations.build(**{name: arr[keep_rows] for name, arr in ann.writable().items()})


def accept_instances(ann: Annotations, ids: Iterable[int]) -> Annotations:
    """Mark predicted instances as checked by a person (predicted -> corrected)."""
    w = ann.writable()
    for inst in ids:
        _corrected(w, ann.row(inst))
    return Annotations.build(**w)


def side_joints(schema: PoseSchema, side: str) -> list[int]:
    """Joint indices of one side ('left' or 'right') from the schema's flip pairs."""
    index = {name: i for i, name in enumerate(schema.joints)}
    out = []
    for a, b in schema.flip_pairs:
        left, right = (b, a) if _looks_right(a) and not _looks_right(b) else (a, b)
        out.append(index[left if side == "left" else right])
    return sorted(out)


def _looks_right(name: str) -> bool:
    low = name.lower()
    return low.startswith(("right", "r_")) or name.startswith("R")
