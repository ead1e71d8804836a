"""Identity edits over a video and the identity review queue (plain Python).

"From this frame on" means this frame and every later frame of the same video (for image files: every
image with a larger id, the order the tracker uses). With track ids ta and tb of two instances here:

- *swap from here*: here the two instances exchange their tracks; in every later frame every instance on
  ta moves to tb and every instance on tb to ta (SLEAP's "transpose instance tracks"). A track id is
  thus relabelled the same way in all later frames, so no frame ever holds one track twice.
- *assign to track k from here*: here the instance takes k and the instance that had k (if any) takes
  ta; later, ta and k are swapped as above, so the identity the instance carried continues as k. An
  untracked instance (ta = -1) is assigned here only: there is no identity to follow into later frames.
- *new track from here*: assign to a track that did not exist: the instance's track splits here.

Each edit is one undo step (`EditMany`, plus `SetTracks` for a new track).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from aegroup.io.poses import PoseSet
from aegroup_gui.model.commands import Command, CommandGroup, EditMany, SetTracks
from aegroup_gui.model.convert import poses_from_document
from aegroup_gui.model.document import Annotations, Document


def sequence(doc: Document, index: int) -> list[int]:
    """The kept images of image `index`'s video (or the image files) in frame (or id) order."""
    video = doc.images[index].video
    return sorted((i for i in doc.kept() if doc.images[i].video == video), key=lambda i: _position(doc, i))


def _later(doc: Document, index: int) -> list[int]:
    """The kept images after image `index` in its sequence."""
    order = sequence(doc, index)
    return order[order.index(index) + 1 :] if index in order else []


def _swapped(ann: Annotations, a: int, b: int) -> Annotations | None:
    """The annotations with tracks a and b exchanged (None when neither occurs)."""
    on_a, on_b = ann.track == a, ann.track == b
    if not (on_a.any() or on_b.any()):
        return None
    return ann.evolve(track=np.where(on_a, b, np.where(on_b, a, ann.track)))


def relabel_from_here(doc: Document, here: Annotations, first: int, second: int, label: str) -> EditMany:
    """The step that sets the current image to `here` and swaps tracks `first` and `second` in every
    later frame of its video (no later change when one of them is -1)."""
    after = {doc.current: here}
    if first >= 0 and second >= 0 and first != second:
        for index in _later(doc, doc.current):
            changed = _swapped(doc.images[index].annotations, first, second)
            if changed is not None:
                after[index] = changed
    before = {index: doc.images[index].annotations for index in after}
    return EditMany(label, doc.current, before, after)


def swap_from_here(doc: Document, a: int, b: int) -> EditMany:
    """Exchange the identities of instances a and b (ids in the current image) from this frame on."""
    ann = doc.image.annotations
    ra, rb = ann.row(a), ann.row(b)
    ta, tb = int(ann.track[ra]), int(ann.track[rb])
    track = ann.track.copy()
    track[ra], track[rb] = tb, ta
    here = ann.evolve(track=track)
    return relabel_from_here(doc, here, ta, tb, f"Swap identities of instances {a} and {b} from here")


def assign_from_here(doc: Document, a: int, k: int, name: str | None = None) -> EditMany:
    """Put instance a (id in the current image) on track k (named `name` when it is new) from this
    frame on."""
    ann = doc.image.annotations
    ra = ann.row(a)
    ta = int(ann.track[ra])
    track = ann.track.copy()
    track[track == k] = ta  # the instance that had k takes a's track (or none)
    track[ra] = k
    name = name or (doc.tracks[k] if 0 <= k < len(doc.tracks) else str(k))
    here = ann.evolve(track=track)
    return relabel_from_here(doc, here, ta, k, f"Assign instance {a} to track {name} from here")


def new_track_name(tracks: list[str]) -> str:
    """A track name not in use: track_<n> with the smallest free n from len(tracks)."""
    n = len(tracks)
    while f"track_{n}" in tracks:
        n += 1
    return f"track_{n}"


def new_track_from_here(doc: Document, a: int) -> Command:
    """Put instance a on a new track from this frame on (its track splits here)."""
    tracks = [*doc.tracks, new_track_name(doc.tracks)]
    make = SetTracks(f"New track {tracks[-1]}", doc.current, list(doc.tracks), tracks)
    move = assign_from_here(doc, a, len(tracks) - 1, tracks[-1])
    return CommandGroup(f"Instance {a} on new track {tracks[-1]} from here", doc.current, [make, move])


@dataclass(frozen=True)
class Doubt:
    """How close the tracker came to giving an instance another identity: image index, instance id, and
    the doubt in [0, 1] (`aegroup.track.track_doubt`; 1 is a tie or a link it would refuse)."""

    image: int
    instance: int
    doubt: float


@dataclass(frozen=True)
class DoubtJob:
    """What the doubt of a document's tracks is computed from, taken at one moment (so that it can run
    on another thread while the document changes): the labels as a `PoseSet`, and for each of its frames
    the image index and instance ids."""

    poses: PoseSet
    images: list[int]
    ids: list[np.ndarray]
    revision: int

    @classmethod
    def of(cls, doc: Document) -> DoubtJob:
        """The document now; frames in frame order (video, then frame number; image files by id)."""
        kept = sorted(
            doc.kept(),
            key=lambda i: (doc.images[i].video is not None, doc.images[i].video or 0, _position(doc, i)),
        )
        poses = poses_from_document(doc)
        by_index = dict(zip(doc.kept(), poses.frames, strict=True))
        frames = [by_index[i] for i in kept]
        ids = [doc.images[i].annotations.ids for i in kept]
        return cls(replace(poses, frames=frames), kept, ids, doc.revision)

    def run(self, params: dict[str, Any] | None = None) -> list[Doubt]:
        """Every tracked instance's doubt (`aegroup.track.track_doubt`, motion tracker), most doubtful
        first, ties in frame order."""
        from aegroup.track import track_doubt

        doubts = track_doubt(self.poses, "motion", params or {}, source="document")
        out = [
            Doubt(index, int(ids[row]), float(frame_doubt[row]))
            for index, ids, frame_doubt in zip(self.images, self.ids, doubts, strict=True)
            for row in np.flatnonzero(np.isfinite(frame_doubt))
        ]
        order = {index: pos for pos, index in enumerate(self.images)}
        return sorted(out, key=lambda d: (-d.doubt, order[d.image], d.instance))


def identity_doubts(doc: Document, params: dict[str, Any] | None = None) -> list[Doubt]:
    """Every tracked instance's doubt, most doubtful first (see `DoubtJob.run`)."""
    return DoubtJob.of(doc).run(params)


def _position(doc: Document, index: int) -> int:
    """Where an image sits in its sequence: its frame number, or its id for an image file."""
    record = doc.images[index]
    return record.id if record.video is None else int(record.frame_index or 0)


def frame_doubts(doubts: list[Doubt]) -> list[Doubt]:
    """The most doubtful instance of each frame, most doubtful frames first (the review queue)."""
    seen: set[int] = set()
    out = []
    for d in doubts:
        if d.image not in seen:
            seen.add(d.image)
            out.append(d)
    return out
