"""Any supported pose file to and from a `PoseSet`: format detection and the name -> reader/writer table.

Each format lives in its own module of `aegroup.io` and contributes one `PoseFormat` entry to `FORMATS`.
`load_poses` picks the reader from the path (suffix, then content); `save_poses` the writer from the
destination's suffix unless a format name is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aegroup.errors import AegroupError
from aegroup.io import coco
from aegroup.io.poses import PoseSet
from aegroup.schema import PoseSchema


class Reader(Protocol):
    """Read a pose file (or folder) into a `PoseSet`; `schema` checks or names the skeleton, `video`
    replaces the video path a file stores."""

    def __call__(self, path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet: ...


class Writer(Protocol):
    """Write a `PoseSet` to `path` atomically; video-backed frames are written as images to `frames_dir`
    when the format needs image files."""

    def __call__(self, poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path: ...


@dataclass(frozen=True)
class PoseFormat:
    """One file format: its reader and writer (None when aegroup cannot write it) and a short description."""

    description: str
    read: Reader
    write: Writer | None


FORMATS: dict[str, PoseFormat] = {
    "coco": PoseFormat("COCO keypoints JSON", coco.read_poses, coco.write_poses),
}
"""Format name -> reader and writer; names are what `--to` accepts."""


def detect_format(path: str | Path) -> str:
    """The format name of an existing pose file or folder, from its suffix and, for JSON, its content."""
    path = Path(path)
    if not path.exists():
        raise AegroupError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        return "coco"
    raise AegroupError(f"{path}: not a pose file aegroup can read (known formats: {', '.join(FORMATS)})")


def format_for_destination(path: str | Path, to: str | None = None) -> str:
    """The format to write `path` in: `to` when given, else by the destination's suffix (.json = COCO)."""
    if to is not None:
        if to not in FORMATS or FORMATS[to].write is None:
            writable = [name for name, f in FORMATS.items() if f.write is not None]
            raise AegroupError(f"--to: unknown or read-only format '{to}' (can write: {', '.join(writable)})")
        return to
    if Path(path).suffix.lower() == ".json":
        return "coco"
    raise AegroupError(f"{path}: cannot tell the format from the suffix; say it with --to")


def load_poses(
    path: str | Path,
    schema: PoseSchema | str | Path | None = None,
    video: str | Path | None = None,
    fmt: str | None = None,
) -> PoseSet:
    """Read any supported pose file or folder into a `PoseSet` (format detected unless `fmt` is given)."""
    from aegroup.schema import load_schema

    path = Path(path)
    name = fmt or detect_format(path)
    if name not in FORMATS:
        raise AegroupError(f"{path}: unknown format '{name}' (known: {', '.join(FORMATS)})")
    wanted = None if schema is None else load_schema(schema)
    poses = FORMATS[name].read(path, schema=wanted, video=None if video is None else Path(video))
    return poses.check(path)


def save_poses(
    poses: PoseSet, path: str | Path, to: str | None = None, frames_dir: str | Path | None = None
) -> Path:
    """Write a `PoseSet` in the format of `to` or of the destination's suffix; returns the path written."""
    path = Path(path)
    writer = FORMATS[format_for_destination(path, to)].write
    assert writer is not None  # format_for_destination accepts only writable formats
    return writer(poses, path, frames_dir=None if frames_dir is None else Path(frames_dir))
