"""Label Studio JSON exports (a list of tasks) to and from a `PoseSet`.

A task is one image (`data.image`); its first annotation holds user instances, its first prediction set
predicted ones (region `score`s are keypoint and instance scores). Keypoints are `keypointlabels`
regions in percent of `original_width` / `original_height`. An instance is a `rectanglelabels` region
and the keypoints whose `parentID` names it (what Label Studio records when keypoints are placed inside
a selected box, and what its COCO/YOLO exporters group by), or that a `relation` links to it (sleap-io);
keypoints in no box are grouped in order, a new instance starting where a joint name repeats.
Rectangle labels are read as track names when a file uses two or more and no task repeats one; the
writer labels a tracked instance's box with its track name, an untracked one with the skeleton's name.
Label Studio has no visibility flag (occluded points become visible) and no skeleton edges.

The writer also writes the labelling configuration beside the JSON (`<name>.xml`: the image, the box
labels and the keypoint labels in joint order); the reader takes the joint order from it when present.
Image paths in `data.image` are written relative to the JSON's folder; on reading, Label Studio's
`/data/local-files/?d=` and `/data/upload/` prefixes and URLs are reduced to a path or file name.
"""

from __future__ import annotations

import re
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_json, atomic_write_text
from aegroup.io.frames import find_image_dir, relative_name, with_image_files
from aegroup.io.jsonfile import read_json
from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef, instance_box, repoint_videos, stored_path
from aegroup.schema import PoseSchema, infer_flip_pairs

POINT_SIZE = 0.5
"""Drawn size of a written keypoint, percent of the image width."""


def is_export(data: Any) -> bool:
    """Whether parsed JSON looks like a Label Studio export: a list of tasks with `data`."""
    return (
        isinstance(data, list) and bool(data) and all(isinstance(t, dict) and "data" in t for t in data[:5])
    )


def config_path(path: Path) -> Path:
    """The labelling configuration written beside an export."""
    return path.with_suffix(".xml")


def _config_joints(path: Path) -> list[str] | None:
    xml = config_path(path)
    if not xml.is_file():
        return None
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError):
        return None
    labels = root.find(".//KeyPointLabels")
    return None if labels is None else [str(label.get("value")) for label in labels.iter("Label")]


def _tasks(data: Any, path: Path) -> list[dict[str, Any]]:
    tasks = [data] if isinstance(data, dict) and "data" in data else data
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise AegroupError(f"{path}: expected a Label Studio export: a JSON list of tasks")
    return tasks


def _first(items: Any) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, dict) and not item.get("was_cancelled"):
            return item
    return None


def _results(task: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(user regions, predicted regions) of a task: its first annotation and first prediction set."""
    annotation = _first(task.get("annotations") or task.get("completions"))
    prediction = _first(task.get("predictions"))
    return (annotation or {}).get("result") or [], (prediction or {}).get("result") or []


def _keypoint_label(region: dict[str, Any]) -> str:
    labels = region.get("value", {}).get("keypointlabels") or []
    return str(labels[0]) if labels else ""


def group_regions(results: list[dict[str, Any]]) -> list[tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
    """(box region or None, its keypoint regions) per instance: by `parentID`, then by relation to a box,
    then loose keypoints in order, a new instance starting where a joint name repeats."""
    boxes = {r.get("id"): r for r in results if r.get("type") == "rectanglelabels"}
    linked: dict[Any, Any] = {}
    for r in results:
        if r.get("type") == "relation":
            a, b = r.get("from_id"), r.get("to_id")
            if b in boxes:
                linked[a] = b
            elif a in boxes:
                linked[b] = a
    members: dict[Any, list[dict[str, Any]]] = {key: [] for key in boxes}
    loose: list[list[dict[str, Any]]] = []
    for r in results:
        if r.get("type") != "keypointlabels":
            continue
        parent = r.get("parentID") if r.get("parentID") in boxes else linked.get(r.get("id"))
        if parent is not None:
            members[parent].append(r)
        elif loose and _keypoint_label(r) not in {_keypoint_label(k) for k in loose[-1]}:
            loose[-1].append(r)
        else:
            loose.append([r])
    return [(boxes[key], kps) for key, kps in members.items() if kps] + [(None, kps) for kps in loose]


def image_name(url: str) -> str:
    """The image path a task's `data.image` names: Label Studio's local-files and upload prefixes and URL
    schemes removed (an upload keeps its original name, without the 8-character prefix)."""
    if url.startswith("/data/local-files/"):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
        return query.get("d", [url])[0]
    parsed = urllib.parse.urlparse(url)
    if url.startswith("/data/upload/") or parsed.scheme in ("http", "https", "s3", "gs", "azure-blob"):
        name = Path(urllib.parse.unquote(parsed.path)).name
        return re.sub(r"^[0-9a-f]{8}-", "", name) if url.startswith("/data/upload/") else name
    return url


def _joints(tasks: list[dict[str, Any]], path: Path) -> list[str]:
    names: dict[str, None] = {}
    for task in tasks:
        user, predicted = _results(task)
        for r in user + predicted:
            if r.get("type") == "keypointlabels":
                names.setdefault(_keypoint_label(r))
    if not names:
        raise AegroupError(f"{path}: no task has keypointlabels regions (is this a keypoint project?)")
    return list(names)


def read_schema(path: Path) -> PoseSchema:
    """The skeleton of a Label Studio export: joint names (in the order of the configuration beside it, else
    of first use), flip pairs inferred from left/right names."""
    tasks = _tasks(read_json(path, "Label Studio export"), path)
    joints = _config_joints(path) or _joints(tasks, path)
    try:
        return PoseSchema(name=path.stem, joints=joints, flip_pairs=infer_flip_pairs(joints))
    except ValidationError as err:
        raise AegroupError(validation_message(path, err)) from None


def _track_labels(tasks: list[dict[str, Any]]) -> list[str]:
    """Box labels that name tracks: two or more distinct labels, none repeated within a task."""
    seen: set[str] = set()
    for task in tasks:
        for results in _results(task):
            labels = [
                str((r.get("value", {}).get("rectanglelabels") or [""])[0])
                for r in results
                if r.get("type") == "rectanglelabels"
            ]
            if len(labels) != len(set(labels)):
                return []
            seen.update(labels)
    return sorted(seen) if len(seen) > 1 else []


def _instances(
    results: list[dict[str, Any]], joint: dict[str, int], tracks: list[str], where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, K, 3) keypoints, (N, K) scores, (N,) instance scores, (N,) tracks of one result list."""
    k = len(joint)
    rows = []
    for box, kps in group_regions(results):
        kp, scores = np.zeros((k, 3)), np.full(k, np.nan)
        for r in kps:
            name = _keypoint_label(r)
            if name not in joint:
                raise AegroupError(f"{where}: keypoint label '{name}' is not a joint of the skeleton")
            try:
                x = float(r["value"]["x"]) * float(r["original_width"]) / 100
                y = float(r["value"]["y"]) * float(r["original_height"]) / 100
            except (KeyError, TypeError, ValueError):
                raise AegroupError(
                    f"{where}: region {r.get('id')}: field 'value.x/y' or 'original_width/height' missing"
                ) from None
            kp[joint[name]] = (x, y, VISIBLE)
            scores[joint[name]] = float(r["score"]) if r.get("score") is not None else np.nan
        label = str(((box or {}).get("value", {}).get("rectanglelabels") or [""])[0])
        score = (box or {}).get("score")
        rows.append(
            (
                kp,
                scores,
                np.nan if score is None else float(score),
                tracks.index(label) if label in tracks else -1,
            )
        )
    return (
        np.array([r[0] for r in rows]).reshape(-1, k, 3),
        np.array([r[1] for r in rows]).reshape(-1, k),
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows], np.int64),
    )


def read_poses(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """A Label Studio export as a `PoseSet` (see the module docstring); unlabelled tasks are skipped."""
    tasks = _tasks(read_json(path, "Label Studio export"), path)
    schema = schema or read_schema(path)
    joint = {j: i for i, j in enumerate(schema.joints)}
    tracks = _track_labels(tasks)
    video_ids: dict[str, int] = {}
    frames = []
    for i, task in enumerate(tasks):
        where = f"{path}: task {task.get('id', i)}"
        user, predicted = _results(task)
        if not user and not predicted:
            continue
        regions = [r for r in user + predicted if r.get("type") in ("keypointlabels", "rectanglelabels")]
        if not any(r.get("type") == "keypointlabels" for r in regions):
            raise AegroupError(f"{where}: field 'annotations[0].result' has no keypointlabels regions")
        sized = next(r for r in regions if r.get("type") == "keypointlabels")
        if not isinstance(sized.get("original_width"), (int, float)):
            raise AegroupError(f"{where}: field 'original_width' is missing")
        parts = [_instances(rs, joint, tracks, where) for rs in (user, predicted)]
        meta_video = (task.get("meta") or {}).get("video") or {}
        image = (task.get("data") or {}).get("image")
        common: dict[str, Any] = {"file_name": image_name(image) if isinstance(image, str) else None}
        if meta_video.get("filename") is not None:
            common["video"] = video_ids.setdefault(str(meta_video["filename"]), len(video_ids))
            common["frame_index"] = int(meta_video.get("frame_idx", 0))
        elif common["file_name"] is None:
            raise AegroupError(f"{where}: field 'data.image' is missing")
        frames.append(
            Frame.build(
                int(task["id"]) if isinstance(task.get("id"), int) else i + 1,
                int(sized["original_width"]),
                int(sized["original_height"]),
                np.concatenate([parts[0][0], parts[1][0]]),
                scores=np.concatenate([parts[0][1], parts[1][1]]),
                instance_score=np.concatenate([parts[0][2], parts[1][2]]),
                track=np.concatenate([parts[0][3], parts[1][3]]),
                user=[True] * len(parts[0][0]) + [False] * len(parts[1][0]),
                **common,
            )
        )
    videos = repoint_videos([VideoRef(stored_path(p, path.parent)) for p in video_ids], video, path)
    image_dir = find_image_dir(path.parent, [f.file_name for f in frames if f.file_name])
    return PoseSet(schema, frames, tracks=tracks, videos=videos, image_dir=image_dir)


def _regions(poses: PoseSet, frame: Frame, user: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    w, h = frame.width, frame.height
    common = {"to_name": "image", "original_width": w, "original_height": h, "image_rotation": 0}
    for n in np.flatnonzero(frame.user == user):
        kp = frame.keypoints[n]
        if not (kp[:, 2] > 0).any():
            continue
        x, y, bw, bh = instance_box(kp, w, h)
        box_id = f"f{frame.id}i{n}"
        label = poses.tracks[frame.track[n]] if frame.track[n] >= 0 else poses.schema.name
        box: dict[str, Any] = {
            "id": box_id,
            "type": "rectanglelabels",
            "from_name": "individuals",
            **common,
            "value": {
                "x": 100 * x / w,
                "y": 100 * y / h,
                "width": 100 * bw / w,
                "height": 100 * bh / h,
                "rotation": 0,
                "rectanglelabels": [label],
            },
        }
        if not user and np.isfinite(frame.instance_score[n]):
            box["score"] = float(frame.instance_score[n])
        out.append(box)
        for j in np.flatnonzero(kp[:, 2] > 0):
            point: dict[str, Any] = {
                "id": f"{box_id}k{j}",
                "type": "keypointlabels",
                "from_name": "keypoints",
                "parentID": box_id,
                **common,
                "value": {
                    "x": 100 * float(kp[j, 0]) / w,
                    "y": 100 * float(kp[j, 1]) / h,
                    "width": POINT_SIZE,
                    "keypointlabels": [poses.schema.joints[j]],
                },
            }
            if not user and np.isfinite(frame.scores[n, j]):
                point["score"] = float(frame.scores[n, j])
            out.append(point)
    return out


def labelling_config(poses: PoseSet) -> str:
    """The Label Studio labelling configuration (XML) the written tasks fit."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", name="image", value="$image", zoom="true")
    boxes = ET.SubElement(view, "RectangleLabels", name="individuals", toName="image")
    for label in [*poses.tracks, poses.schema.name]:
        ET.SubElement(boxes, "Label", value=label)
    points = ET.SubElement(view, "KeyPointLabels", name="keypoints", toName="image")
    for joint in poses.schema.joints:
        ET.SubElement(points, "Label", value=joint)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def write_poses(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as a Label Studio export plus its labelling configuration (`<name>.xml`)."""
    poses = with_image_files(poses, path, frames_dir)
    tasks = []
    for f in poses.frames:
        task: dict[str, Any] = {"id": f.id, "data": {"image": f.file_name}}
        task["annotations"] = [
            {"result": _regions(poses, f, True), "was_cancelled": False, "ground_truth": False}
        ]
        if not f.user.all():
            task["predictions"] = [{"model_version": "aegroup", "result": _regions(poses, f, False)}]
        if f.video is not None:
            source = relative_name(Path(poses.videos[f.video].path), path.parent)
            task["meta"] = {"video": {"filename": source, "frame_idx": f.frame_index}}
        tasks.append(task)
    atomic_write_text(config_path(path), labelling_config(poses))
    return atomic_write_json(path, tasks, indent=1)
