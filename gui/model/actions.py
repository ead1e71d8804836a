"""What each user intent means as a command, from the document and its selection (plain Python, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aegroup.io.poses import ABSENT
from aegroup_gui.model import edits, identity
from aegroup_gui.model.commands import Command, CommandGroup, edit, review
from aegroup_gui.model.document import Document, Key
from aegroup_gui.model.regroup import regroup_image


class Refused(Exception):
    """The intent does not apply to the current selection; the message says why (shown in the status bar)."""


@dataclass
class Outcome:
    """A command to push, and the selection to show after it (None: keep what survives)."""

    command: Command
    select: frozenset[Key] | None = None


def _need_selection(doc: Document) -> list[Key]:
    if not doc.selection:
        raise Refused("select keypoints first (click, or drag a rectangle)")
    return sorted(doc.selection)


def _two_instances(doc: Document) -> tuple[int, int]:
    owners = doc.selected_instances()
    if len(owners) != 2:
        raise Refused(f"select keypoints of exactly two instances (have {len(owners)})")
    return owners[0], owners[1]


def move(doc: Document, key: Key, xy: tuple[float, float], drag_id: int) -> Outcome:
    """Move a keypoint; every step of one drag shares `drag_id` so they merge into one undo step."""
    before = doc.image.annotations
    after = edits.move_keypoint(before, key, xy)
    command = edit(doc, "Move keypoint", after, merge_key=("move", drag_id, key))
    # Later steps of a drag change coordinates only, so the tag view and panels need not redraw.
    command.positions_only = np.array_equal(before.status, after.status) and np.array_equal(
        before.origin, after.origin
    )
    return Outcome(command)


def delete_keypoints(doc: Document) -> Outcome:
    """Make the selected keypoints absent."""
    keys = _need_selection(doc)
    after = edits.set_visibility(doc.image.annotations, keys, ABSENT)
    return Outcome(edit(doc, f"Delete {len(keys)} keypoint(s)", after), frozenset())


def cycle_visibility(doc: Document) -> Outcome:
    """Visible -> occluded -> absent -> visible for the selected keypoints."""
    keys = _need_selection(doc)
    return Outcome(edit(doc, "Cycle visibility", edits.cycle_visibility(doc.image.annotations, keys)))


def next_missing_joint(doc: Document, instance_id: int) -> int | None:
    """The first joint (schema order) the instance lacks, or None when it is complete."""
    ann = doc.image.annotations
    missing = np.flatnonzero(~ann.present()[ann.row(instance_id)])
    return int(missing[0]) if missing.size else None


def add_joint(doc: Document, instance_id: int, joint: int, xy: tuple[float, float]) -> Outcome:
    """Place a missing joint of an instance by hand."""
    after = edits.add_keypoint(doc.image.annotations, instance_id, joint, xy)
    name = doc.schema.joints[joint]
    return Outcome(edit(doc, f"Add {name}", after), frozenset({(instance_id, joint)}))


def reassign(doc: Document, row: int | None) -> Outcome:
    """Give the selected keypoints to the instance at panel row `row` (0-based), or to a new one."""
    keys = _need_selection(doc)
    ann = doc.image.annotations
    if row is not None and not 0 <= row < ann.num_instances:
        raise Refused(f"no instance #{row + 1} in this image (it has {ann.num_instances})")
    target = int(ann.ids[row]) if row is not None else ann.new_id()
    after = edits.reassign(ann, keys, None if row is None else target)
    joints = {k for _, k in keys}
    label = f"Reassign to instance {target}" if row is not None else "Split into a new instance"
    return Outcome(edit(doc, label, after), frozenset((target, k) for k in joints))


def swap_types(doc: Document) -> Outcome:
    """Swap the selected joint types between the two instances owning the selection."""
    a, b = _two_instances(doc)
    joints = sorted({k for _, k in doc.selection})
    after = edits.swap_joints(doc.image.annotations, a, b, joints)
    return Outcome(edit(doc, f"Swap {len(joints)} joint type(s)", after))


def swap_side(doc: Document, side: str) -> Outcome:
    """Swap all joints of one side ('left' or 'right') between the two selected instances."""
    a, b = _two_instances(doc)
    joints = edits.side_joints(doc.schema, side)
    if not joints:
        raise Refused(f"schema '{doc.schema.name}' has no flip pairs, so no {side} side")
    after = edits.swap_joints(doc.image.annotations, a, b, joints)
    return Outcome(edit(doc, f"Swap {side} side", after), frozenset())


def merge(doc: Document) -> Outcome:
    """Merge the two selected instances into the first (panel order)."""
    a, b = _two_instances(doc)
    after = edits.merge(doc.image.annotations, a, b)
    return Outcome(edit(doc, f"Merge instance {b} into {a}", after), frozenset())


def delete_instances(doc: Document) -> Outcome:
    """Delete every instance owning a selected keypoint."""
    owners = doc.selected_instances()
    if not owners:
        raise Refused("select a keypoint of the instance to delete")
    after = edits.delete_instances(doc.image.annotations, owners)
    return Outcome(edit(doc, f"Delete {len(owners)} instance(s)", after), frozenset())


def accept_instances(doc: Document) -> Outcome:
    """Mark the selected instances as checked (predicted -> corrected)."""
    owners = doc.selected_instances()
    if not owners:
        raise Refused("select a keypoint of the instance to accept")
    after = edits.accept_instances(doc.image.annotations, owners)
    return Outcome(edit(doc, f"Accept {len(owners)} instance(s)", after))


def accept_image(doc: Document) -> Outcome:
    """Accept every instance of the current image and mark it reviewed, as one undo step."""
    ann = doc.image.annotations
    parts: list[Command] = [edit(doc, "Accept instances", edits.accept_instances(ann, ann.ids.tolist()))]
    parts.append(review(doc, doc.current, True))
    return Outcome(CommandGroup("Accept image", doc.current, parts))


def toggle_reviewed(doc: Document) -> Outcome:
    """Flip the review flag of the current image."""
    return Outcome(review(doc, doc.current, not doc.image.reviewed))


def regroup(doc: Document, method: str, tag_threshold: float) -> Outcome:
    """Re-group the current image from its stored candidates, as one undo step."""
    if not doc.image.candidates:
        raise Refused("this image has no stored candidates (open a results file written with candidates)")
    after = regroup_image(doc.image, doc.schema, doc.tag_dim, method, tag_threshold)
    return Outcome(edit(doc, f"Re-group ({method}, tag threshold {tag_threshold:g})", after), frozenset())


def _identity_pair(doc: Document) -> tuple[int, int]:
    """The two instances whose identities to swap: the two selected, or the frame's only two."""
    owners = doc.selected_instances()
    ids = doc.image.annotations.ids.tolist()
    if not owners and len(ids) == 2:
        return int(ids[0]), int(ids[1])
    if len(owners) != 2:
        raise Refused(
            f"select keypoints of exactly two instances to swap their identities (have {len(owners)})"
        )
    return owners[0], owners[1]


def _identity_one(doc: Document) -> int:
    """The instance to put on a track: the one selected, or the frame's only one."""
    owners = doc.selected_instances()
    ids = doc.image.annotations.ids.tolist()
    if not owners and len(ids) == 1:
        return int(ids[0])
    if len(owners) != 1:
        raise Refused(f"select keypoints of one instance to set its track (have {len(owners)})")
    return owners[0]


def swap_identities(doc: Document) -> Outcome:
    """Swap the tracks of two instances in this frame and every later frame of the video."""
    a, b = _identity_pair(doc)
    return Outcome(identity.swap_from_here(doc, a, b))


def assign_track(doc: Document, number: int) -> Outcome:
    """Put the selected instance on track `number` (1-based, in the document's track list) from here on."""
    if not 1 <= number <= len(doc.tracks):
        raise Refused(f"no track {number}: the document has {len(doc.tracks)} (Ctrl+0 makes a new one)")
    a = _identity_one(doc)
    ann = doc.image.annotations
    if ann.track[ann.row(a)] == number - 1:
        raise Refused(f"instance {a} is on track {doc.tracks[number - 1]} already")
    return Outcome(identity.assign_from_here(doc, a, number - 1))


def new_track(doc: Document) -> Outcome:
    """Put the selected instance on a new track from here on."""
    return Outcome(identity.new_track_from_here(doc, _identity_one(doc)))
