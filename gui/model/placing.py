"""Labelling a new instance from scratch, joint by joint: which joint a click places next (plain Python).

Joints are asked for in schema order, the order the skeleton's author listed them (SLEAP's node order,
DeepLabCut's bodyparts), which people label by; `group_order` is the decoder's order, not a labelling one.
The next joint is derived from the document, not counted: the first joint in order that the new instance
lacks and that was not skipped. So undoing a placed joint asks for it again, and redo moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aegroup_gui.model import edits
from aegroup_gui.model.commands import EditAnnotations
from aegroup_gui.model.document import Annotations, Document


@dataclass(frozen=True)
class Placing:
    """A new instance being placed on image `image`: its id, the joint order, and the joints skipped."""

    image: int
    instance_id: int
    order: tuple[int, ...]
    skipped: frozenset[int] = frozenset()

    def placed(self, ann: Annotations) -> list[int]:
        """The joints of the new instance placed so far (in `order`)."""
        if self.instance_id not in ann.ids:
            return []
        present = ann.present()[ann.row(self.instance_id)]
        return [k for k in self.order if present[k]]

    def next_joint(self, ann: Annotations) -> int | None:
        """The joint the next click places, or None when every joint is placed or skipped."""
        placed = set(self.placed(ann))
        return next((k for k in self.order if k not in placed and k not in self.skipped), None)

    def skip(self, ann: Annotations) -> Placing:
        """The state with the next joint left out (absent)."""
        joint = self.next_joint(ann)
        return self if joint is None else replace(self, skipped=self.skipped | {joint})


def start(doc: Document) -> Placing:
    """Begin a new instance on the current image (an id no instance there has)."""
    ann = doc.image.annotations
    return Placing(doc.current, ann.new_id(), tuple(range(doc.schema.num_joints)))


def place(doc: Document, placing: Placing, xy: tuple[float, float]) -> EditAnnotations | None:
    """The undoable step placing the next joint at `xy` on the placing image (None when every joint is
    placed or skipped); its first step creates the instance."""
    ann = doc.images[placing.image].annotations
    joint = placing.next_joint(ann)
    if joint is None:
        return None
    after = edits.place_keypoint(ann, placing.instance_id, joint, xy)
    return EditAnnotations(f"Place {doc.schema.joints[joint]}", placing.image, ann, after)


def prompt(doc: Document, placing: Placing) -> str:
    """What the status bar and the canvas say while placing: the joint a click places next."""
    ann = doc.images[placing.image].annotations
    joint = placing.next_joint(ann)
    if joint is None:
        return "new instance: every joint placed or skipped"
    position = placing.order.index(joint) + 1
    done = len(placing.placed(ann))
    return (
        f"new instance {placing.instance_id}: click to place '{doc.schema.joints[joint]}' "
        f"({position}/{len(placing.order)}, {done} placed)  ·  Space: skip  ·  Return: finish  ·  Esc: cancel"
    )
