"""Any supported pose file to and from a `PoseSet`: format detection and the name -> reader/writer table.

Each format lives in its own module of `aegroup.io` and contributes one `PoseFormat` entry to `FORMATS`.
`load_poses` picks the reader from the path (suffix, then content); `save_poses` the writer from the
destination's suffix unless a format name is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from aegroup.errors import AegroupError
from aegroup.io import coco, dlc, dlc_project, labelstudio, native, sleap, yolo
from aegroup.io.poses import PoseSet, prefer_user_instances
from aegroup.schema import PoseSchema, load_schema


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
    """One file format: reader, writer (None when aegroup cannot write it), a reader of the skeleton alone
    (None: read the whole file), what it holds, and a short description."""

    description: str
    read: Reader
    write: Writer | None
    schema: Callable[[Path], PoseSchema] | None = None
    tracks: bool = True
    predictions: bool = True


FORMATS: dict[str, PoseFormat] = {
    "coco": PoseFormat("COCO keypoints JSON", coco.read_poses, coco.write_poses),
    "slp": PoseFormat("SLEAP labels (.slp)", sleap.read_poses, sleap.write_poses, sleap.read_schema),
    "dlc": PoseFormat(
        "DeepLabCut project or CollectedData .csv/.h5",
        dlc.read_poses,
        dlc_project.write_poses,
        dlc.read_schema,
        predictions=False,
    ),
    "labelstudio": PoseFormat(
        "Label Studio JSON export", labelstudio.read_poses, labelstudio.write_poses, labelstudio.read_schema
    ),
    "yolo": PoseFormat(
        "Ultralytics YOLO-pose dataset folder",
        yolo.read_poses,
        yolo.write_poses,
        yolo.read_schema,
        tracks=False,
        predictions=False,
    ),
    "results": PoseFormat("aegroup results file", native.read_results, native.write_results),
    "project": PoseFormat("aegroup labelling project (.aeproj)", native.read_project, None),
}
"""Format name -> reader and writer; names are what `--to` accepts."""

SUFFIXES = {".slp": "slp", ".aeproj": "project", ".csv": "dlc", ".h5": "dlc", ".hdf5": "dlc"}
"""File suffixes that name a format by themselves."""


def _json_format(path: Path) -> str:
    from aegroup.io.jsonfile import read_json

    data = read_json(path, "pose file")
    if isinstance(data, dict) and data.get("format") == "aegroup-results":
        return "results"
    if isinstance(data, dict) and data.get("format") == "aegroup-project":
        return "project"
    if isinstance(data, dict) and isinstance(data.get("annotations"), list) and "categories" in data:
        return "coco"
    if labelstudio.is_export(data):
        return "labelstudio"
    raise AegroupError(
        f"{path}: JSON is neither COCO keypoints, an aegroup results file nor a Label Studio export"
    )


def detect_format(path: str | Path) -> str:
    """The format name of an existing pose file or folder: by suffix, and by content for .json and .yaml
    files and for folders (DeepLabCut project: config.yaml; YOLO: data.yaml or labels/)."""
    path = Path(path)
    if not path.exists():
        raise AegroupError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if path.is_dir():
        if (path / "config.yaml").is_file() and dlc.is_config(path / "config.yaml"):
            return "dlc"
        if (path / "data.yaml").is_file() or (path / "labels").is_dir():
            return "yolo"
        raise AegroupError(
            f"{path}: folder is neither a DeepLabCut project (config.yaml) nor a YOLO dataset (data.yaml)"
        )
    if suffix == ".json":
        return _json_format(path)
    if suffix in (".yaml", ".yml"):
        if dlc.is_config(path):
            return "dlc"
        if yolo.is_data_yaml(path):
            return "yolo"
        raise AegroupError(f"{path}: YAML is neither a DeepLabCut config.yaml nor a YOLO data.yaml")
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise AegroupError(f"{path}: not a pose file aegroup can read (known formats: {', '.join(FORMATS)})")


def format_for_destination(path: str | Path, to: str | None = None) -> str:
    """The format to write `path` in: `to` when given, else by the destination's suffix (.json = COCO,
    .slp = SLEAP); folders (DeepLabCut, YOLO) need `to`."""
    writable = [name for name, f in FORMATS.items() if f.write is not None]
    if to is not None:
        if to not in writable:
            raise AegroupError(f"--to: unknown or read-only format '{to}' (can write: {', '.join(writable)})")
        return to
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix == ".slp":
        return "slp"
    raise AegroupError(
        f"{path}: cannot tell the format from the suffix; say it with --to ({', '.join(writable)})"
    )


def load_poses(
    path: str | Path,
    schema: PoseSchema | str | Path | None = None,
    video: str | Path | None = None,
    fmt: str | None = None,
    images: str | Path | None = None,
) -> PoseSet:
    """Read any supported pose file or folder into a `PoseSet` (format detected unless `fmt` is given).

    `schema` checks (and orders) the joints, `video` replaces a video path the file stores, `images` is
    the folder the file's image names are relative to when it is not the one the reader finds.
    """
    path = Path(path)
    name = fmt or detect_format(path)
    if name not in FORMATS:
        raise AegroupError(f"{path}: unknown format '{name}' (known: {', '.join(FORMATS)})")
    wanted = None if schema is None else load_schema(schema)
    poses = FORMATS[name].read(path, schema=wanted, video=None if video is None else Path(video))
    if images is not None:
        if not Path(images).is_dir():
            raise AegroupError(f"{images}: --images: folder not found")
        poses = replace(poses, image_dir=Path(images))
    return poses.check(path)


def read_schema(path: str | Path, fmt: str | None = None) -> PoseSchema:
    """The skeleton a pose file describes (from its header or config alone where the format allows)."""
    path = Path(path)
    name = fmt or detect_format(path)
    reader = FORMATS[name].schema
    return reader(path) if reader is not None else load_poses(path, fmt=name).schema


def save_poses(
    poses: PoseSet, path: str | Path, to: str | None = None, frames_dir: str | Path | None = None
) -> Path:
    """Write a `PoseSet` in the format of `to` or of the destination's suffix; returns the path written."""
    path = Path(path)
    writer = FORMATS[format_for_destination(path, to)].write
    assert writer is not None  # format_for_destination accepts only writable formats
    return writer(poses, path, frames_dir=None if frames_dir is None else Path(frames_dir))


@dataclass(frozen=True)
class Converted:
    """What `convert` wrote: the format and the frames, instances and tracks it holds."""

    path: Path
    fmt: str
    frames: int
    instances: int
    tracks: int


def convert(
    src: str | Path,
    dst: str | Path,
    to: str | None = None,
    video: str | Path | None = None,
    frames_dir: str | Path | None = None,
    schema: PoseSchema | str | Path | None = None,
    images: str | Path | None = None,
) -> Converted:
    """Read `src` in any supported format and write it to `dst` in the format `to` or its suffix names."""
    fmt = format_for_destination(dst, to)
    poses = load_poses(src, schema=schema, video=video, images=images)
    target = FORMATS[fmt]
    if not target.predictions:
        poses = prefer_user_instances(poses)
    path = save_poses(poses, dst, to=fmt, frames_dir=frames_dir)
    instances = sum(int(f.present().any(axis=1).sum()) for f in poses.frames)
    tracks = len(poses.tracks) if target.tracks else 0
    return Converted(path, fmt, len(poses), instances, tracks)
