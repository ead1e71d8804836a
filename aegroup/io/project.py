"""Labelling project files (`.aeproj`, JSON, versioned) and their autosave sidecars; torch-free.

Format, version 3 (coordinates in image pixels). Bulk numbers are stored per image as packed arrays, so
opening a large project decodes a few strings per image instead of parsing millions of JSON numbers::

    {"format": "aegroup-project", "version": 3,
     "schema": { PoseSchema fields },
     "image_dir": "images",            # relative to the project file's folder, or absolute
     "source": "results.json",         # the file the project started from
     "tag_dim": 1,                     # D, 0 when the source had no tags
     "videos": [{"path": "clip.mp4",   # relative to the project file's folder, or absolute
                 "width": 1024, "height": 1024, "frames": 1500, "dataset": null}],
     "tracks": ["female", "male"],     # track (identity) names; instances refer to them by index
     "images": [{"id": 1, "file_name": "a.png",   # an image file below image_dir, or
                 "video": 0, "frame_index": 17,   # a video frame (index into videos, 0-based frame)
                 "width": 640, "height": 480, "reviewed": false,
                 "instances": {                       # N instances of this image, one row each
                     "ids": ARRAY int64 (N,),         # unique within the image
                     "status": ARRAY int8 (N,),       # InstanceStatus: 0 predicted, 1 corrected, 2 added
                     "score": ARRAY float (N,),       # instance score, nan when unknown
                     "keypoints": ARRAY float (N, K, 3),  # x, y, v; v: 0 absent, 1 occluded, 2 visible
                     "scores": ARRAY float (N, K),    # keypoint score, nan when placed by hand
                     "tags": ARRAY float (N, K, D),   # nan when unknown
                     "origin": ARRAY int8 (N, K),     # JointOrigin: 0 predicted, 1 refined, 2 corrected,
                                                      #   3 added (`aegroup.io.provenance`)
                     "track": ARRAY int64 (N,)},      # index into tracks, -1 untracked
                 "candidates": {"joint": ARRAY int64 (M,), "xy": ARRAY float (M, 2),
                                "score": ARRAY float (M,), "tag": ARRAY float (M, D)} | null}]}

    ARRAY = {"dtype": "float64" | "float32" | "int64" | "int8", "shape": [...],
             "data": base64 of the little-endian values in C (row-major) order}

Float arrays are written as float32 only when that is exact, so saving is lossless. Version 2 is version 3
without `videos`, `tracks`, `video` / `frame_index` and `instances.track` (every image a file, every
instance untracked): it reads as such. Version-1 files (nested lists, see `aegroup.io.project_v1`) are
read and migrated on load. In code the instance scores are `ProjectInstances.instance_score` (the file
key stays `score`), as in `io.poses.Frame` and the labeller.

The autosave sidecar (`P.aeproj.autosave`) holds only the images changed since the last save, and the
track names (tracks may have been added since)::

    {"format": "aegroup-autosave", "version": 3, "project": "P.aeproj", "tracks": [...],
     "images": [ same as above ]}
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_text
from aegroup.io.jsonfile import read_json
from aegroup.io.project_v1 import AutosaveV1, ProjectV1, check_images_v1, migrate_image
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.schema import PoseSchema

PROJECT_FORMAT = "aegroup-project"
AUTOSAVE_FORMAT = "aegroup-autosave"
PROJECT_VERSION = 3
READ_VERSIONS = (1, 2, 3)
"""Project file versions this aegroup reads."""
PROJECT_SUFFIX = ".aeproj"

_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in ("float64", "float32", "int64", "int8")}


def decode_array(value: Any) -> np.ndarray:
    """A read-only array from its packed JSON form {dtype, shape, data} (arrays pass through)."""
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data"}:
        raise ValueError("expected a packed array {'dtype', 'shape', 'data'}")
    dtype = _DTYPES.get(value["dtype"]) if isinstance(value["dtype"], str) else None
    if dtype is None:
        raise ValueError(f"dtype {value['dtype']!r} is not one of {sorted(_DTYPES)}")
    shape = value["shape"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError(f"shape {shape!r} is not a list of sizes")
    try:
        raw = base64.b64decode(value["data"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError("data is not valid base64") from None
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dtype.itemsize:
        raise ValueError(
            f"data holds {len(raw)} bytes, shape {shape} of {value['dtype']} needs {count * dtype.itemsize}"
        )
    return np.frombuffer(raw, dtype).reshape(shape)


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """The packed JSON form of an array: float64 narrowed to float32 only when exact."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        narrow = array.astype(np.float32)
        exact = np.array_equal(narrow.astype(np.float64), array, equal_nan=True)
        array = narrow if exact else array.astype(np.float64)
    name = {"f": "float32" if array.dtype == np.float32 else "float64", "b": "int8"}.get(array.dtype.kind)
    if name is None:
        name = "int8" if array.dtype.itemsize == 1 else "int64"
    data = np.ascontiguousarray(array, _DTYPES[name]).tobytes()
    return {"dtype": name, "shape": list(array.shape), "data": base64.b64encode(data).decode("ascii")}


PackedArray = Annotated[
    np.ndarray,
    BeforeValidator(decode_array),
    PlainSerializer(encode_array, return_type=dict, when_used="json"),
]
"""A numpy array stored in JSON as {dtype, shape, data (base64, little-endian)}."""


class ProjectInstances(BaseModel):
    """All instances of one image as arrays, one row per instance (see the module docstring)."""

    model_config = ConfigDict(
        extra="forbid", arbitrary_types_allowed=True, validate_by_name=True, serialize_by_alias=True
    )

    ids: PackedArray
    status: PackedArray
    instance_score: PackedArray = Field(alias="score")
    keypoints: PackedArray
    scores: PackedArray
    tags: PackedArray
    origin: PackedArray
    track: PackedArray = Field(default=None, validate_default=False)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _untracked_by_default(self) -> ProjectInstances:
        # Version-2 files have no track array: every instance is untracked.
        if self.track is None:
            self.track = np.full(self.ids.shape[:1], -1, np.int64)
        return self


class ProjectCandidates(BaseModel):
    """The stored grouping candidates of one image: joint type, location, score and tag of each."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    joint: PackedArray
    xy: PackedArray
    score: PackedArray
    tag: PackedArray


class ProjectVideo(BaseModel):
    """A video whose frames the project labels: its path (relative to the project's folder, or absolute),
    frame size and count when known, and the HDF5 dataset of frames embedded in a .pkg.slp."""

    model_config = ConfigDict(extra="forbid")

    path: str
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    frames: int | None = Field(default=None, ge=0)
    dataset: str | None = None


class ProjectImage(BaseModel):
    """One image file or video frame with its instances, review flag and stored candidates."""

    model_config = ConfigDict(extra="forbid")

    id: int
    file_name: str | None = None
    video: int | None = Field(default=None, ge=0)
    frame_index: int | None = Field(default=None, ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    reviewed: bool = False
    instances: ProjectInstances
    candidates: ProjectCandidates | None = None


class Project(BaseModel):
    """A whole labelling project."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["aegroup-project"] = PROJECT_FORMAT
    version: Literal[2, 3] = PROJECT_VERSION
    pose_schema: PoseSchema = Field(alias="schema")
    image_dir: str
    source: str = ""
    tag_dim: int = Field(ge=0)
    videos: list[ProjectVideo] = Field(default_factory=list)
    tracks: list[str] = Field(default_factory=list)
    images: list[ProjectImage]

    @model_validator(mode="after")
    def _check_shapes(self) -> Project:
        check_images(self.images, self.pose_schema.num_joints, self.tag_dim, self.videos, len(self.tracks))
        return self


class Autosave(BaseModel):
    """The autosave sidecar: images changed since the project was last saved, and the track names."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["aegroup-autosave"] = AUTOSAVE_FORMAT
    version: Literal[2, 3] = PROJECT_VERSION
    project: str
    tracks: list[str] = Field(default_factory=list)
    images: list[ProjectImage]


def check_images(
    images: list[ProjectImage],
    num_joints: int,
    tag_dim: int,
    videos: list[ProjectVideo] | None = None,
    num_tracks: int | None = None,
) -> None:
    """Raise ValueError naming the field when an image's arrays do not fit K joints and D tag dims, or its
    video frame or track ids do not fit `videos` and `num_tracks` (not checked when None)."""
    seen: set[int] = set()
    frames: set[tuple[int, int]] = set()
    for i, image in enumerate(images):
        if image.id in seen:
            raise ValueError(f"field 'images[{i}].id': duplicate image id {image.id}")
        seen.add(image.id)
        if videos is not None:
            _check_source(image, f"images[{i}]", videos, frames)
        _check_instances(image.instances, f"images[{i}].instances", num_joints, tag_dim, num_tracks)
        if image.candidates is not None:
            _check_candidates(image.candidates, f"images[{i}].candidates", num_joints)


def _check_source(
    image: ProjectImage, where: str, videos: list[ProjectVideo], frames: set[tuple[int, int]]
) -> None:
    """An image is a file or a frame of a listed video (within its length when known), each frame once."""
    if image.video is None:
        if image.file_name is None:
            raise ValueError(f"field '{where}': has neither 'file_name' nor 'video'")
        if image.frame_index is not None:
            raise ValueError(f"field '{where}.frame_index': given without 'video'")
        return
    if image.video >= len(videos):
        raise ValueError(f"field '{where}.video': {image.video} is not one of {len(videos)} videos")
    if image.frame_index is None:
        raise ValueError(f"field '{where}.frame_index': missing for a video frame")
    length = videos[image.video].frames
    if length is not None and image.frame_index >= length:
        raise ValueError(
            f"field '{where}.frame_index': {image.frame_index} is past the video's {length} frames"
        )
    key = (image.video, image.frame_index)
    if key in frames:
        raise ValueError(
            f"field '{where}.frame_index': frame {image.frame_index} of video {image.video} twice"
        )
    frames.add(key)


def _check_instances(inst: ProjectInstances, where: str, k: int, d: int, num_tracks: int | None) -> None:
    n = inst.ids.shape[0] if inst.ids.ndim else 0
    shapes = {"ids": (n,), "status": (n,), "instance_score": (n,), "keypoints": (n, k, 3), "scores": (n, k)}
    shapes.update(tags=(n, k, d), origin=(n, k), track=(n,))
    _check_arrays(inst, where, shapes, integer={"ids", "status", "origin", "track"})
    if np.unique(inst.ids).size != n or (n and inst.ids.min() < 0):
        raise ValueError(f"field '{where}.ids': instance ids must be unique and >= 0")
    for name, kind in (("status", InstanceStatus), ("origin", JointOrigin)):
        codes = getattr(inst, name)
        if codes.size and (codes.min() < 0 or codes.max() >= len(kind)):
            raise ValueError(f"field '{where}.{name}': codes must be 0..{len(kind) - 1}")
    if not np.isin(inst.keypoints[:, :, 2], (0, 1, 2)).all():
        raise ValueError(f"field '{where}.keypoints': visibility must be 0, 1 or 2")
    tracked = inst.track[inst.track != -1]
    if num_tracks is not None and tracked.size and (tracked.min() < 0 or tracked.max() >= num_tracks):
        raise ValueError(f"field '{where}.track': track ids must be -1 (none) or 0..{num_tracks - 1}")
    if np.unique(tracked).size != tracked.size:
        raise ValueError(f"field '{where}.track': one track given to two instances")


def _check_candidates(cand: ProjectCandidates, where: str, k: int) -> None:
    m = cand.joint.shape[0] if cand.joint.ndim else 0
    dim = cand.tag.shape[1] if cand.tag.ndim == 2 else -1
    _check_arrays(cand, where, {"joint": (m,), "xy": (m, 2), "score": (m,), "tag": (m, dim)}, {"joint"})
    if m and (cand.joint.min() < 0 or cand.joint.max() >= k):
        raise ValueError(f"field '{where}.joint': joint types must be 0..{k - 1}")


def _check_arrays(
    model: BaseModel, where: str, shapes: dict[str, tuple[int, ...]], integer: set[str]
) -> None:
    for name, shape in shapes.items():
        array = getattr(model, name)
        key = type(model).model_fields[name].alias or name  # errors name the file's key
        if array.shape != shape:
            raise ValueError(f"field '{where}.{key}': shape {list(array.shape)}, expected {list(shape)}")
        if (array.dtype.kind in "iu") != (name in integer):
            want = "an integer" if name in integer else "a float"
            raise ValueError(f"field '{where}.{key}': dtype {array.dtype.name}, expected {want} type")


def load_project(path: str | Path) -> Project:
    """Read and validate a project file, migrating versions 1 and 2 (one-line errors naming file and
    field)."""
    path = Path(path)
    data = read_json(path, "project file")
    try:
        if _version(path, data) == 1:
            old = ProjectV1.model_validate(data)
            k, d = old.pose_schema.num_joints, old.tag_dim
            fields = old.model_dump(by_alias=True, exclude={"images", "version"})
            images = [migrate_image(im, k, d) for im in old.images]
            return Project.model_validate({**fields, "images": images})
        return Project.model_validate(data)
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None


def save_project(path: str | Path, project: Project) -> Path:
    """Write a project file atomically (readers see the old or the complete new file)."""
    return atomic_write_text(path, project.model_dump_json(by_alias=True))


def autosave_path(project_path: str | Path) -> Path:
    """The autosave sidecar beside a project file."""
    path = Path(project_path)
    return path.with_name(path.name + ".autosave")


def save_autosave(
    project_path: str | Path, images: list[ProjectImage], tracks: list[str] | None = None
) -> Path:
    """Atomically write the sidecar holding `images` (the ones changed since the last save) and the track
    names their instances refer to."""
    data = Autosave(project=Path(project_path).name, tracks=list(tracks or []), images=images)
    return atomic_write_text(autosave_path(project_path), data.model_dump_json())


def load_autosave(
    project_path: str | Path, num_joints: int, tag_dim: int, videos: list[ProjectVideo] | None = None
) -> Autosave | None:
    """The sidecar of a project (versions 1 and 2 migrated), or None when there is none; checked against
    K, D, the project's `videos` (when given) and the sidecar's own track names."""
    path = autosave_path(project_path)
    if not path.is_file():
        return None
    data = read_json(path, "autosave file")
    try:
        if _version(path, data) == 1:
            old = AutosaveV1.model_validate(data)
            check_images_v1(old.images, num_joints, tag_dim)
            images = [migrate_image(im, num_joints, tag_dim) for im in old.images]
            saved = Autosave.model_validate({"project": old.project, "images": images})
        else:
            saved = Autosave.model_validate(data)
        check_images(saved.images, num_joints, tag_dim, videos, len(saved.tracks))
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None
    except ValueError as err:
        raise AegroupError(f"{path}: {err}") from None
    return saved


def _version(path: Path, data: Any) -> int:
    """The file's format version (one of READ_VERSIONS); other values are a one-line error."""
    version = data.get("version") if isinstance(data, dict) else None
    if version not in READ_VERSIONS or isinstance(version, bool):
        known = ", ".join(map(str, READ_VERSIONS))
        raise AegroupError(
            f"{path}: field 'version': {version!r} is not a version this aegroup reads ({known})"
        )
    return int(version)
