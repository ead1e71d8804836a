"""Undoable edits as small dataclasses: `apply(doc)` and `revert(doc)` swap stored before/after values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aegroup_gui.model.document import Annotations, Document


class Command(Protocol):
    """An undoable edit of one image; never opens dialogs or touches views."""

    label: str
    image: int

    def apply(self, doc: Document) -> None:
        """Do (or redo) the edit."""

    def revert(self, doc: Document) -> None:
        """Undo the edit, restoring the document exactly."""


@dataclass
class EditAnnotations:
    """Replace one image's annotations; `merge_key` lets consecutive steps of a drag fold into one."""

    label: str
    image: int
    before: Annotations
    after: Annotations
    merge_key: tuple[object, ...] | None = None
    positions_only: bool = False  # only coordinates differ between before and after

    def apply(self, doc: Document) -> None:
        """Install the edited annotations."""
        doc.set_annotations(self.image, self.after, self.positions_only)

    def revert(self, doc: Document) -> None:
        """Reinstall the annotations from before the edit."""
        doc.set_annotations(self.image, self.before, self.positions_only)

    def merge(self, later: EditAnnotations) -> bool:
        """Absorb a later step of the same drag (same key, continuing from this one's result)."""
        if self.merge_key is None or later.merge_key != self.merge_key or later.image != self.image:
            return False
        if later.before is not self.after:
            return False
        self.after = later.after
        self.positions_only = self.positions_only and later.positions_only
        return True


@dataclass
class EditMany:
    """Replace the annotations of many images as one step (e.g. an identity swap over a video)."""

    label: str
    image: int  # the image shown while the edit is done and undone
    before: dict[int, Annotations]
    after: dict[int, Annotations]

    def apply(self, doc: Document) -> None:
        """Install the edited annotations."""
        doc.set_many(self.after)

    def revert(self, doc: Document) -> None:
        """Reinstall the annotations from before the edit."""
        doc.set_many(self.before)


@dataclass
class SetTracks:
    """Replace the track names (a new track)."""

    label: str
    image: int
    before: list[str]
    after: list[str]

    def apply(self, doc: Document) -> None:
        """Set the new names."""
        doc.set_tracks(self.after)

    def revert(self, doc: Document) -> None:
        """Restore the old names."""
        doc.set_tracks(self.before)


@dataclass
class SetReviewed:
    """Set or clear the review flag of one image."""

    label: str
    image: int
    before: bool
    after: bool

    def apply(self, doc: Document) -> None:
        """Set the new flag."""
        doc.set_reviewed(self.image, self.after)

    def revert(self, doc: Document) -> None:
        """Restore the old flag."""
        doc.set_reviewed(self.image, self.before)


@dataclass
class CommandGroup:
    """Several commands as one undo step (applied in order, reverted in reverse)."""

    label: str
    image: int
    parts: list[Command] = field(default_factory=list)

    def apply(self, doc: Document) -> None:
        """Apply every part in order."""
        for part in self.parts:
            part.apply(doc)

    def revert(self, doc: Document) -> None:
        """Revert every part in reverse order."""
        for part in reversed(self.parts):
            part.revert(doc)


def edit(
    doc: Document, label: str, after: Annotations, merge_key: tuple[object, ...] | None = None
) -> EditAnnotations:
    """An EditAnnotations of the current image from its present annotations to `after`."""
    return EditAnnotations(label, doc.current, doc.image.annotations, after, merge_key)


def review(doc: Document, index: int, reviewed: bool) -> SetReviewed:
    """A SetReviewed for image `index`."""
    label = "Mark reviewed" if reviewed else "Mark unreviewed"
    return SetReviewed(label, index, doc.images[index].reviewed, reviewed)
