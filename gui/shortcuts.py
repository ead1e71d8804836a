"""Every menu command with its keys: one table builds the menus, the Help dialog and the README list."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    """A menu command: menu, label, keys (Qt key sequences, first one shown), MainWindow method name;
    a `numbered` command has one key per number 1, 2, ... and its method takes the number."""

    menu: str
    label: str
    keys: tuple[str, ...]
    method: str
    numbered: bool = False

    @property
    def shown_keys(self) -> str:
        """The keys as the help and the docs list them."""
        return f"{self.keys[0]} … {self.keys[-1]}" if self.numbered else " / ".join(self.keys)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("File", "Save project", ("Ctrl+S",), "save"),
    Shortcut("File", "Export COCO (all images)…", ("Ctrl+E",), "export_all_dialog"),
    Shortcut("File", "Export COCO (reviewed images)…", ("Ctrl+Shift+E",), "export_reviewed_dialog"),
    Shortcut("File", "Export SLEAP labels (.slp)…", ("Ctrl+Shift+S",), "export_slp_dialog"),
    Shortcut("File", "Export view as PNG…", ("Ctrl+P",), "export_png_dialog"),
    Shortcut("File", "Quit", ("Ctrl+Q",), "close"),
    Shortcut("Edit", "Undo", ("Ctrl+Z",), "undo"),
    Shortcut("Edit", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo"),
    Shortcut("Edit", "Reassign selection to instance 1…9", tuple("123456789"), "reassign", numbered=True),
    Shortcut("Edit", "Split selection into a new instance", ("0", "S"), "split"),
    Shortcut("Edit", "Cycle visibility (visible → occluded → absent)", ("V",), "cycle_visibility"),
    Shortcut("Edit", "Delete selected keypoints", ("Delete", "Backspace"), "delete_keypoints"),
    Shortcut("Edit", "New instance: click to place each joint in turn", ("Ctrl+I",), "start_placing"),
    Shortcut("Edit", "Skip the joint the new instance awaits", ("Space",), "skip_joint"),
    Shortcut("Edit", "Add missing joints of the selected instance", ("A",), "start_adding"),
    Shortcut("Edit", "Swap selected joint types between two instances", ("X",), "swap_types"),
    Shortcut("Edit", "Swap left side between two instances", ("Shift+L",), "swap_left"),
    Shortcut("Edit", "Swap right side between two instances", ("Shift+R",), "swap_right"),
    Shortcut("Edit", "Merge two selected instances", ("M",), "merge"),
    Shortcut("Edit", "Delete selected instances", ("Shift+Delete",), "delete_instances"),
    Shortcut(
        "Edit", "Accept selected instances / finish the new instance", ("Return", "Enter"), "accept_instances"
    ),
    Shortcut("Edit", "Accept image (mark reviewed) and go to the next", ("Ctrl+Return",), "accept_image"),
    Shortcut("Edit", "Toggle image reviewed", ("R",), "toggle_reviewed"),
    Shortcut("Edit", "Re-group image from its candidates", ("G",), "regroup"),
    Shortcut("Select", "Select all keypoints", ("Ctrl+A",), "select_all"),
    Shortcut("Select", "Select next instance", ("I",), "select_next_instance"),
    Shortcut("Select", "Clear selection / stop adding / cancel the new instance", ("Esc",), "cancel"),
    Shortcut("Go", "Next image", ("PgDown", "."), "next_image"),
    Shortcut("Go", "Previous image", ("PgUp", ","), "previous_image"),
    Shortcut("Go", "Next unreviewed image", ("N",), "next_unreviewed"),
    Shortcut("Go", "Next frame (video) / next image", ("Right",), "next_frame"),
    Shortcut("Go", "Previous frame (video) / previous image", ("Left",), "previous_frame"),
    Shortcut("Go", "Next labelled frame", ("Alt+Right",), "next_labelled"),
    Shortcut("Go", "Previous labelled frame", ("Alt+Left",), "previous_labelled"),
    Shortcut("Go", "Go to frame…", ("Ctrl+J",), "go_to_frame_dialog"),
    Shortcut("Go", "Most doubtful images first", ("Ctrl+D",), "sort_by_doubt"),
    Shortcut("Tracks", "Swap identities of two instances from this frame on", ("Ctrl+T",), "swap_identities"),
    Shortcut(
        "Tracks",
        "Put the selected instance on track 1…9 from this frame on",
        tuple(f"Ctrl+{n}" for n in range(1, 10)),
        "assign_track",
        numbered=True,
    ),
    Shortcut(
        "Tracks", "Put the selected instance on a new track from this frame on", ("Ctrl+0",), "new_track"
    ),
    Shortcut("Tracks", "Next frame in the identity review queue", ("D",), "next_doubtful"),
    Shortcut("View", "Colour by track / by instance", ("C",), "toggle_track_colors"),
    Shortcut("View", "Fit image", ("F",), "fit"),
    Shortcut("Help", "Keyboard shortcuts", ("F1",), "show_help"),
)

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("Click a keypoint", "select it (Shift/Ctrl+click: add to or remove from the selection)"),
    ("Drag a keypoint", "move it (one undo step per drag)"),
    ("Drag on empty image", "rubber-band select (Shift: add)"),
    ("Right or middle drag", "pan"),
    ("Wheel", "zoom"),
    ("Click a row in Instances", "select that instance's joints"),
    ("Click a point in the tag view", "select that keypoint (also highlighted on the image)"),
    ("Click while placing a new instance", "place its next joint"),
    ("Drag the frame slider, click the track timeline", "go to that frame"),
    ("Click a row of the identity review queue", "go to that frame, its doubtful instance selected"),
)


def markdown_table() -> str:
    """The shortcuts as a Markdown table (for the README)."""
    lines = ["| keys | command |", "| --- | --- |"]
    for s in SHORTCUTS:
        lines.append(f"| {s.shown_keys} | {s.label} |")
    return "\n".join(lines)
