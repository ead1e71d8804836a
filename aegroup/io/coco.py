"""COCO keypoint files: read and validate against a pose schema (pycocotools), check images, write.

Every problem is reported as one line naming the file, the annotation or image id and the field.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from pycocotools.coco import COCO

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_json
from aegroup.io.frames import find_image_dir, relative_name, with_image_files
from aegroup.io.jsonfile import read_json
from aegroup.io.poses import Frame, PoseSet, VideoRef, repoint_videos, stored_path
from aegroup.schema import PoseSchema


@dataclass
class CocoKeypoints:
    """A validated COCO keypoints file: the pycocotools index plus the categories chosen for a schema."""

    path: Path
    coco: COCO
    schema: PoseSchema
    category_ids: list[int]
    image_ids: list[int]

    def image_info(self, image_id: int) -> dict[str, Any]:
        """The `images` entry of one image."""
        return self.coco.imgs[image_id]

    def annotations(self, image_id: int) -> list[dict[str, Any]]:
        """Annotations of one image in the chosen categories, in file order."""
        ids = self.coco.getAnnIds(imgIds=[image_id], catIds=self.category_ids)
        return self.coco.loadAnns(ids)

    def labelled(self, image_id: int) -> list[dict[str, Any]]:
        """Annotations of one image that are poses: not crowd regions, at least one labelled joint."""
        return [
            a
            for a in self.annotations(image_id)
            if not a.get("iscrowd", 0) and any(v > 0 for v in (a.get("keypoints") or [])[2::3])
        ]

    def keypoints(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, K, 3) float64 x, y, v in image pixels and (N,) bool crowd flags of one image's annotations."""
        anns = self.annotations(image_id)
        return annotation_keypoints(anns, self.schema.num_joints), crowd_flags(anns)


def annotation_keypoints(anns: Sequence[dict[str, Any]], num_joints: int) -> np.ndarray:
    """(N, K, 3) float64 keypoints of annotations; crowd regions without keypoints give zeros."""
    out = np.zeros((len(anns), num_joints, 3), dtype=np.float64)
    for i, ann in enumerate(anns):
        values = ann.get("keypoints")
        if values:
            out[i] = np.asarray(values, dtype=np.float64).reshape(num_joints, 3)
    return out


def crowd_flags(anns: Sequence[dict[str, Any]]) -> np.ndarray:
    """(N,) bool: annotation is a crowd region."""
    return np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)


def read_coco_json(path: str | Path) -> dict[str, Any]:
    """Parse a COCO JSON file and check its top-level lists; every problem is a one-line AegroupError."""
    path = Path(path)
    data = read_json(path, "annotation file")
    if not isinstance(data, dict):
        raise AegroupError(f"{path}: expected a JSON object with 'images', 'annotations' and 'categories'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise AegroupError(f"{path}: field '{key}' is missing or not a list")
    return data


def select_categories(
    data: dict[str, Any], path: Path, schema: PoseSchema, categories: Sequence[int | str] | None
) -> list[int]:
    """Ids of the keypoint categories to load (all, or the named/numbered subset); names must match."""
    keypoint_cats: dict[int, dict[str, Any]] = {}
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int):
            raise AegroupError(f"{path}: field 'categories[{i}].id' is missing or not an integer")
        if cat.get("keypoints"):
            keypoint_cats[cat["id"]] = cat
    if not keypoint_cats:
        raise AegroupError(f"{path}: field 'categories': no category lists 'keypoints'")
    if categories is None:
        chosen = list(keypoint_cats)
    else:
        by_name = {str(c.get("name")): cid for cid, c in keypoint_cats.items()}
        chosen = []
        for wanted in categories:
            cid = by_name.get(wanted) if isinstance(wanted, str) else wanted
            if isinstance(wanted, str) and cid is None and wanted.isdigit():
                cid = int(wanted)
            if cid not in keypoint_cats:
                raise AegroupError(
                    f"{path}: field 'categories': no keypoint category {wanted!r} "
                    f"(have {sorted(by_name)[:10]}{' ...' if len(by_name) > 10 else ''})"
                )
            chosen.append(cid)
    for cid in chosen:
        cat = keypoint_cats[cid]
        if list(cat["keypoints"]) != list(schema.joints):
            raise AegroupError(
                f"{path}: category {cid} '{cat.get('name')}': field 'keypoints' {list(cat['keypoints'])} "
                f"differs from schema '{schema.name}' joints {list(schema.joints)}"
            )
    return chosen


def with_unique_ids(
    items: list[Any], path: Path, field: str, noun: str, problems: list[str]
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each entry of a COCO list with an integer id, and its place for messages ('P: image id 3').

    Entries without an integer id are skipped; they and duplicate ids are appended to `problems`.
    """
    seen: set[int] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            problems.append(f"{path}: field '{field}[{i}].id' is missing or not an integer")
            continue
        where = f"{path}: {noun} id {item['id']}"
        if item["id"] in seen:
            problems.append(f"{where}: field 'id' is duplicated")
        seen.add(item["id"])
        yield item, where


def image_problems(data: dict[str, Any], path: Path) -> list[str]:
    """One line per malformed `images` entry (id, file_name, width, height) or duplicate id."""
    problems: list[str] = []
    for img, where in with_unique_ids(data["images"], path, "images", "image", problems):
        if not isinstance(img.get("file_name"), str) or not img["file_name"]:
            problems.append(f"{where}: field 'file_name' is missing or empty")
        for key in ("width", "height"):
            if not isinstance(img.get(key), int) or img[key] <= 0:
                problems.append(f"{where}: field '{key}' must be a positive integer, got {img.get(key)!r}")
    return problems


def annotation_problems(
    data: dict[str, Any], path: Path, schema: PoseSchema, category_ids: Sequence[int]
) -> list[str]:
    """One line per malformed annotation of the chosen categories (ids, keypoint length, values, bbox)."""
    expected = 3 * schema.num_joints
    image_ids = {img.get("id") for img in data["images"] if isinstance(img, dict)}
    chosen = set(category_ids)
    problems: list[str] = []
    for ann, where in with_unique_ids(data["annotations"], path, "annotations", "annotation", problems):
        if ann.get("category_id") not in chosen:
            continue
        if ann.get("image_id") not in image_ids:
            problems.append(f"{where}: field 'image_id' {ann.get('image_id')!r} is not in 'images'")
        values = ann.get("keypoints")
        if not values and ann.get("iscrowd", 0):
            continue
        if not isinstance(values, list) or len(values) != expected:
            got = len(values) if isinstance(values, list) else type(values).__name__
            problems.append(
                f"{where}: field 'keypoints' has {got} values, expected {expected} "
                f"(3 x {schema.num_joints} joints of schema '{schema.name}')"
            )
            continue
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            problems.append(f"{where}: field 'keypoints' holds a value that is not a finite number")
        elif any(v not in (0, 1, 2) for v in values[2::3]):
            problems.append(f"{where}: field 'keypoints' has a visibility flag outside 0, 1, 2")
        bbox = ann.get("bbox")
        if bbox is not None and not (isinstance(bbox, list) and len(bbox) == 4):
            problems.append(f"{where}: field 'bbox' must be [x, y, width, height]")
    return problems


def load_coco(
    path: str | Path, schema: PoseSchema, categories: Sequence[int | str] | None = None
) -> CocoKeypoints:
    """Read and validate a COCO keypoints file for `schema`; raises AegroupError on the first problem."""
    path = Path(path)
    return parse_coco(read_coco_json(path), path, schema, categories)


def parse_coco(
    data: dict[str, Any], path: Path, schema: PoseSchema, categories: Sequence[int | str] | None = None
) -> CocoKeypoints:
    """Validate an in-memory COCO keypoints dict (errors name `path`) and index it; see `load_coco`."""
    category_ids = select_categories(data, path, schema, categories)
    problems = image_problems(data, path) + annotation_problems(data, path, schema, category_ids)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise AegroupError(problems[0] + more)
    return CocoKeypoints(
        path, index_coco(data), schema, category_ids, sorted(i["id"] for i in data["images"])
    )


def index_coco(data: dict[str, Any]) -> COCO:
    """A pycocotools COCO index over an in-memory dict (without its progress prints)."""
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def image_path(image_dir: str | Path, info: dict[str, Any]) -> Path:
    """Path of an image file: `file_name` relative to the image folder."""
    return Path(image_dir) / info["file_name"]


def open_image(path: Path, decode: bool = True) -> Image.Image:
    """Open an image (fully decoded when `decode`); a missing or corrupt file is a one-line AegroupError."""
    if not path.is_file():
        raise AegroupError(f"{path}: image file not found")
    try:
        image = Image.open(path)
        if decode:
            image.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: cannot read image ({first})") from None
    return image


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file; a missing or corrupt file is a one-line AegroupError."""
    image = open_image(path, decode=True)
    try:
        return np.asarray(image.convert("RGB"))
    except OSError as err:
        raise AegroupError(f"{path}: cannot read image ({err})") from None


def bad_images(data: CocoKeypoints, image_dir: str | Path, decode: bool) -> dict[int, str]:
    """Image id -> one-line problem per missing or corrupt image (header only unless `decode`)."""
    problems: dict[int, str] = {}
    for image_id in data.image_ids:
        info = data.image_info(image_id)
        path = image_path(image_dir, info)
        try:
            with open_image(path, decode=decode) as image:
                size = image.size
        except AegroupError as err:
            problems[image_id] = str(err)
            continue
        if size != (info["width"], info["height"]):
            problems[image_id] = (
                f"{path}: image is {size[0]}x{size[1]} but image id {image_id} in {data.path} has fields "
                f"'width' x 'height' = {info['width']}x{info['height']}"
            )
    return problems


@dataclass
class CocoSummary:
    """What `aegroup data check` reports about a COCO keypoints file and its images."""

    path: Path
    images: int = 0
    instances: int = 0
    crowd: int = 0
    unlabelled: int = 0
    labelled: list[int] = field(default_factory=list)
    visible: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_coco(
    path: str | Path,
    image_dir: str | Path,
    schema: PoseSchema,
    categories: Sequence[int | str] | None = None,
) -> CocoSummary:
    """Validate a COCO file and decode every image; structural errors raise, per-item problems are listed."""
    path = Path(path)
    data = read_coco_json(path)
    category_ids = select_categories(data, path, schema, categories)
    summary = CocoSummary(path, labelled=[0] * schema.num_joints, visible=[0] * schema.num_joints)
    summary.problems = image_problems(data, path) + annotation_problems(data, path, schema, category_ids)
    if summary.problems:
        return summary
    loaded = CocoKeypoints(
        path, index_coco(data), schema, category_ids, sorted(i["id"] for i in data["images"])
    )
    summary.problems = list(bad_images(loaded, image_dir, decode=True).values())
    summary.images = len(loaded.image_ids)
    for image_id in loaded.image_ids:
        keypoints, crowd = loaded.keypoints(image_id)
        vis = keypoints[..., 2]
        summary.crowd += int(crowd.sum())
        summary.instances += int((~crowd).sum())
        summary.unlabelled += int(((vis > 0).sum(axis=1) == 0)[~crowd].sum())
        summary.labelled = [
            a + int(b) for a, b in zip(summary.labelled, (vis[~crowd] > 0).sum(axis=0), strict=True)
        ]
        summary.visible = [
            a + int(b) for a, b in zip(summary.visible, (vis[~crowd] == 2).sum(axis=0), strict=True)
        ]
    return summary


def keypoint_box(keypoints: np.ndarray) -> list[float]:
    """[x, y, width, height] around the labelled joints of one (K, 3) instance ([0, 0, 0, 0] if none)."""
    labelled = keypoints[keypoints[:, 2] > 0, :2]
    if labelled.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = labelled.min(axis=0), labelled.max(axis=0)
    return [float(v) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def keypoint_annotation(
    ann_id: int, image_id: int, keypoints: np.ndarray, box: list[float] | None = None
) -> dict[str, Any]:
    """A COCO annotation (category 1) of one (K, 3) x, y, v instance at full precision; absent joints are
    0, 0, 0; `box` (x, y, width, height) defaults to the box around the labelled joints."""
    labelled = keypoints[:, 2] > 0
    flat: list[float] = []
    for (x, y, v), lab in zip(keypoints, labelled, strict=True):
        flat += [float(x), float(y), int(v)] if lab else [0, 0, 0]
    box = keypoint_box(keypoints) if box is None else box
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "keypoints": flat,
        "num_keypoints": int(labelled.sum()),
        "bbox": box,
        "area": box[2] * box[3],
        "iscrowd": 0,
    }


def build_coco(
    schema: PoseSchema,
    images: list[dict[str, Any]],
    keypoints: dict[int, np.ndarray],
    scores: dict[int, np.ndarray] | None = None,
    boxes: dict[int, np.ndarray] | None = None,
) -> dict[str, Any]:
    """A COCO keypoints dict for one schema (category id 1) from per-image (N, K, 3) x, y, v image pixels.

    `boxes` (per image (N, 4) x, y, width, height) overrides the default box around the labelled joints;
    area is the box area. `scores` adds a `score` per annotation. Written by `keypoint_annotation`.
    """
    annotations: list[dict[str, Any]] = []
    for info in images:
        image_id = int(info["id"])
        inst = np.asarray(keypoints.get(image_id, np.zeros((0, schema.num_joints, 3))), dtype=np.float64)
        for n, kp in enumerate(inst.reshape(-1, schema.num_joints, 3)):
            box = None if boxes is None else [float(v) for v in boxes[image_id][n]]
            ann = keypoint_annotation(len(annotations) + 1, image_id, kp, box)
            if scores is not None:
                ann["score"] = float(scores[image_id][n])
            annotations.append(ann)
    image_entries = [
        {
            "id": int(i["id"]),
            "file_name": str(i["file_name"]),
            "width": int(i["width"]),
            "height": int(i["height"]),
        }
        for i in images
    ]
    return {
        "info": {"description": f"aegroup keypoints for schema '{schema.name}'"},
        "images": image_entries,
        "annotations": annotations,
        "categories": [schema.to_coco_category(1)],
    }


def save_coco(path: str | Path, coco: dict[str, Any]) -> Path:
    """Write a COCO dict as JSON atomically."""
    return atomic_write_json(path, coco)


def read_poses(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """A COCO keypoints file as a `PoseSet` (crowd regions and annotations without joints dropped).

    Without `schema` the skeleton is the file's first keypoint category; `image_dir` is the file's folder
    or its `images/` subfolder, whichever holds the images (`find_image_dir`).
    An annotation with a `score` is a prediction (its `keypoint_scores` are the joint scores); a
    `track_id` (PoseTrack) or `attributes.track_id` (CVAT) is its track, named by the top-level `tracks`
    list when present. `images[].video` / `images[].frame_index` name the video frame an image shows.
    """
    data = read_coco_json(path)
    if schema is None:
        schema = PoseSchema.from_coco_category(first_keypoint_category(data, path))
    loaded = load_coco(path, schema)
    k = schema.num_joints
    track_ids, tracks = coco_tracks(data, path)
    video_ids: dict[str, int] = {}
    frames = []
    for image_id in loaded.image_ids:
        info = loaded.image_info(image_id)
        anns = loaded.labelled(image_id)
        source = info.get("video")
        frames.append(
            Frame.build(
                image_id,
                info["width"],
                info["height"],
                annotation_keypoints(anns, k).reshape(-1, k, 3),
                scores=[_numbers(a.get("keypoint_scores"), k, path, a["id"]) for a in anns],
                instance_score=[_number(a.get("score")) for a in anns],
                track=[track_ids.get(_track_id(a), -1) for a in anns],
                user=["score" not in a for a in anns],
                file_name=info["file_name"],
                video=None if source is None else video_ids.setdefault(str(source), len(video_ids)),
                frame_index=info.get("frame_index") if source is not None else None,
            )
        )
    videos = repoint_videos([VideoRef(stored_path(p, path.parent)) for p in video_ids], video, path)
    image_dir = find_image_dir(path.parent, [f.file_name for f in frames if f.file_name])
    return PoseSet(schema, frames, tracks=tracks, videos=videos, image_dir=image_dir)


def _track_id(ann: dict[str, Any]) -> Any:
    attributes = ann.get("attributes")
    if "track_id" not in ann and isinstance(attributes, dict):
        return attributes.get("track_id")
    return ann.get("track_id")


def coco_tracks(data: dict[str, Any], path: Path) -> tuple[dict[Any, int], list[str]]:
    """Track id -> index into the track names: the top-level `tracks` list [{id, name}] first, then the
    ids annotations use, in order of first use."""
    ids: dict[Any, int] = {}
    names: list[str] = []
    listed = data.get("tracks") or []
    if not isinstance(listed, list):
        raise AegroupError(f"{path}: field 'tracks' must be a list of {{id, name}}")
    for i, entry in enumerate(listed):
        if not isinstance(entry, dict) or "id" not in entry:
            raise AegroupError(f"{path}: field 'tracks[{i}]' must be an object with 'id' and 'name'")
        ids[entry["id"]] = len(names)
        names.append(str(entry.get("name", entry["id"])))
    for ann in data["annotations"]:
        tid = _track_id(ann) if isinstance(ann, dict) else None
        if tid is not None and tid not in ids:
            ids[tid] = len(names)
            names.append(str(tid))
    return ids, names


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


def _numbers(values: Any, k: int, path: Path, ann_id: int) -> list[float]:
    if values is None:
        return [np.nan] * k
    if not isinstance(values, list) or len(values) != k:
        raise AegroupError(f"{path}: annotation id {ann_id}: field 'keypoint_scores' must list {k} numbers")
    return [_number(v) for v in values]


def first_keypoint_category(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The first category of a COCO dict that lists keypoints."""
    cats = [c for c in data["categories"] if isinstance(c, dict) and c.get("keypoints")]
    if not cats:
        raise AegroupError(f"{path}: field 'categories': no category lists 'keypoints'")
    return cats[0]


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def poses_to_coco(poses: PoseSet, root: Path) -> dict[str, Any]:
    """A COCO keypoints dict of a `PoseSet` whose frames all have image files (names relative to `root`).

    Coordinates are written at full precision; absent joints as 0, 0, 0. Predictions carry `score` and
    `keypoint_scores` (null where unknown); tracks are `track_id` indices into a top-level `tracks` list.
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for f in poses.frames:
        image: dict[str, Any] = {"id": f.id, "file_name": f.file_name, "width": f.width, "height": f.height}
        if f.video is not None:
            image.update(
                video=relative_name(Path(poses.videos[f.video].path), root), frame_index=f.frame_index
            )
        images.append(image)
        for n in range(f.num_instances):
            ann = keypoint_annotation(len(annotations) + 1, f.id, f.keypoints[n])
            if f.track[n] >= 0:
                ann["track_id"] = int(f.track[n])
            if not f.user[n]:
                ann["score"] = _finite_or_none(f.instance_score[n])
                ann["keypoint_scores"] = [_finite_or_none(s) for s in f.scores[n]]
            annotations.append(ann)
    coco: dict[str, Any] = {
        "info": {"description": f"aegroup keypoints for schema '{poses.schema.name}'"},
        "images": images,
        "annotations": annotations,
        "categories": [poses.schema.to_coco_category(1)],
    }
    if poses.tracks:
        coco["tracks"] = [{"id": i, "name": name} for i, name in enumerate(poses.tracks)]
    return coco


def write_poses(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as COCO keypoints; video frames are first written as PNGs (`with_image_files`)."""
    return save_coco(path, poses_to_coco(with_image_files(poses, path, frames_dir), path.parent))
