"""Ultralytics YOLO-pose datasets to and from a `PoseSet`.

Layout: `data.yaml` (`path`, `train`/`val`/`test` image folders or list files, `kpt_shape: [K, 3]` or
`[K, 2]`, `flip_idx`, `names`, and optionally `kpt_names: {0: [...]}` and `skeleton` as joint index
pairs), `images/<split>/*`, and beside each image `labels/<split>/<stem>.txt` with one line per instance:
`class cx cy w h x1 y1 v1 ... xK yK vK`, everything divided by the image width or height. A missing point
is `0 0 0` (or `0 0` with `kpt_shape [K, 2]`). YOLO has no tracks and no scores: every instance read is a
user instance, and writing keeps, per image, the user instances when there are any, else predictions.

Written boxes surround the labelled joints, padded by `aegroup.io.poses.instance_box`. All images are
written to the `train` split and `val` names the same folder: split them as your experiment needs.
`path` is written as the folder's absolute path (Ultralytics resolves a relative one against its own
datasets folder); a set moved elsewhere is read from the YAML's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_folder
from aegroup.io.frames import video_stems, write_frame_files
from aegroup.io.poses import Frame, PoseSet, instance_box, prefer_user_instances
from aegroup.schema import PoseSchema

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SPLITS = ("train", "val", "test")


def find_data_yaml(path: Path) -> Path:
    """The dataset YAML of a YOLO folder (`data.yaml`, or the one YAML in it naming `kpt_shape`)."""
    if path.is_file():
        return path
    if (path / "data.yaml").is_file():
        return path / "data.yaml"
    candidates = [p for p in sorted(path.glob("*.y*ml")) if "kpt_shape" in p.read_text(encoding="utf-8")]
    if len(candidates) != 1:
        raise AegroupError(f"{path}: no data.yaml with 'kpt_shape' (a YOLO-pose dataset needs one)")
    return candidates[0]


def is_data_yaml(path: Path) -> bool:
    """Whether a YAML file describes a YOLO-pose dataset (it names `kpt_shape`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "kpt_shape" in data


def read_config(path: Path) -> dict[str, Any]:
    """The dataset YAML as a dict, with `kpt_shape` checked."""
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: not a readable YOLO dataset YAML ({first})") from None
    shape = cfg.get("kpt_shape") if isinstance(cfg, dict) else None
    if not (isinstance(shape, list) and len(shape) == 2 and shape[0] >= 1 and shape[1] in (2, 3)):
        raise AegroupError(f"{path}: field 'kpt_shape' must be [K, 2] or [K, 3], got {shape!r}")
    return cfg


def schema_from_config(cfg: dict[str, Any], source: Path) -> PoseSchema:
    """A `PoseSchema` from a YOLO dataset YAML: `kpt_names` (else kp0, kp1, ...), flip pairs from
    `flip_idx`, edges from `skeleton` index pairs."""
    k = int(cfg["kpt_shape"][0])
    names = cfg.get("kpt_names")
    joints = names.get(0, next(iter(names.values()), None)) if isinstance(names, dict) else names
    if not isinstance(joints, list) or len(joints) != k:
        joints = [f"kp{i}" for i in range(k)]
    joints = [str(j) for j in joints]
    flip = cfg.get("flip_idx") or list(range(k))
    if sorted(flip) != list(range(k)) or any(flip[flip[i]] != i for i in range(k)):
        raise AegroupError(
            f"{source}: field 'flip_idx' must be a permutation of 0..{k - 1} that undoes itself"
        )
    pairs = [(joints[i], joints[j]) for i, j in enumerate(flip) if i < j]
    edges = [(joints[a], joints[b]) for a, b in cfg.get("skeleton") or [] if 0 <= a < k and 0 <= b < k]
    class_names = cfg.get("names")
    name = class_names.get(0) if isinstance(class_names, dict) else (class_names or ["yolo"])[0]
    try:
        return PoseSchema(name=str(name), joints=joints, edges=edges, flip_pairs=pairs)
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None


def read_schema(path: Path) -> PoseSchema:
    """The skeleton a YOLO-pose dataset describes."""
    data_yaml = find_data_yaml(path)
    return schema_from_config(read_config(data_yaml), data_yaml)


def _split_images(root: Path, entry: Any, source: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    for item in entries:
        place = root / str(item)
        if place.is_dir():
            out += sorted(p for p in place.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif place.is_file() and place.suffix == ".txt":
            lines = place.read_text(encoding="utf-8").splitlines()
            out += [(place.parent / line.strip()) for line in lines if line.strip()]
        else:
            raise AegroupError(f"{source}: split '{item}': no such image folder or list file under {root}")
    return out


def label_path(image: Path) -> Path:
    """The label file of an image: its path with the last `images` folder replaced by `labels`, `.txt`."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def parse_labels(path: Path, k: int, dim: int, width: int, height: int) -> np.ndarray:
    """(N, K, 3) x, y, v image pixels of one label file (missing file: no instances)."""
    if not path.is_file():
        return np.zeros((0, k, 3))
    expected = 5 + k * dim
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        if len(values) != expected:
            raise AegroupError(
                f"{path}: line {line_no}: has {len(values)} values, expected {expected} "
                f"(class, 4 box values, {k} keypoints x {dim})"
            )
        try:
            numbers = np.array([float(v) for v in values[5:]], np.float64).reshape(k, dim)
        except ValueError:
            raise AegroupError(f"{path}: line {line_no}: holds a value that is not a number") from None
        kp = np.zeros((k, 3))
        kp[:, 0], kp[:, 1] = numbers[:, 0] * width, numbers[:, 1] * height
        if dim == 3:
            if not np.isin(numbers[:, 2], (0, 1, 2)).all():
                raise AegroupError(f"{path}: line {line_no}: a keypoint visibility is not 0, 1 or 2")
            kp[:, 2] = numbers[:, 2]
        else:
            kp[:, 2] = np.where((numbers[:, 0] == 0) & (numbers[:, 1] == 0), 0, 2)
        rows.append(kp)
    return np.array(rows).reshape(-1, k, 3)


def read_poses(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """A YOLO-pose dataset folder (or its data.yaml) as a `PoseSet`: every image of every split."""
    del video  # YOLO datasets are images
    from aegroup.io.coco import open_image
    from aegroup.io.frames import relative_name

    data_yaml = find_data_yaml(path)
    cfg = read_config(data_yaml)
    file_schema = schema_from_config(cfg, data_yaml)
    k, dim = int(cfg["kpt_shape"][0]), int(cfg["kpt_shape"][1])
    if schema is not None and schema.num_joints != k:
        raise AegroupError(
            f"{data_yaml}: field 'kpt_shape': {k} keypoints, schema '{schema.name}' has {schema.num_joints}"
        )
    root = data_yaml.parent / str(cfg.get("path") or ".")
    if not root.is_dir():
        root = data_yaml.parent  # `path` often names the folder on the machine the set was made on
    images: list[Path] = []
    for split in SPLITS:
        if cfg.get(split):
            images += [p for p in _split_images(root, cfg[split], data_yaml) if p not in images]
    frames = []
    for i, image in enumerate(images):
        with open_image(image, decode=False) as pil:
            width, height = pil.size
        kp = parse_labels(label_path(image), k, dim, width, height)
        frames.append(Frame.build(i + 1, width, height, kp, file_name=relative_name(image, root)))
    return PoseSet(schema or file_schema, frames, image_dir=root)


def _num(value: float) -> str:
    return f"{value:.10g}"


def label_lines(frame: Frame) -> list[str]:
    """The label lines of one frame (instances without a labelled joint have no box and are left out)."""
    lines = []
    for kp in frame.keypoints:
        if not (kp[:, 2] > 0).any():
            continue
        x, y, w, h = instance_box(kp, frame.width, frame.height)
        box = ((x + w / 2) / frame.width, (y + h / 2) / frame.height, w / frame.width, h / frame.height)
        values = ["0", *(_num(v) for v in box)]
        for px, py, v in kp:
            point = [_num(px / frame.width), _num(py / frame.height), str(int(v))]
            values += point if v > 0 else ["0", "0", "0"]
        lines.append(" ".join(values))
    return lines


def image_names(poses: PoseSet) -> dict[int, str]:
    """Frame id -> image file name in images/train: video frames `<video>_<frame>.png`, image files their
    own name (prefixed by the frame id when two share one)."""
    stems = video_stems(poses)
    out: dict[int, str] = {}
    for f in poses.frames:
        if f.video is not None and f.frame_index is not None:
            name = f"{stems[f.video]}_{f.frame_index:06d}.png"
        else:
            name = Path(f.file_name or f"{f.id}.png").name
        if name in out.values():
            name = f"{f.id}_{name}"
        out[f.id] = name
    return out


def write_poses(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as a YOLO-pose dataset folder (appears only when complete)."""
    del frames_dir  # images go to images/train
    poses = prefer_user_instances(poses)
    schema = poses.schema
    names = image_names(poses)
    with atomic_folder(path) as tmp:
        write_frame_files(poses, tmp / "images" / "train", names, copy_images=True)
        labels = tmp / "labels" / "train"
        labels.mkdir(parents=True)
        for f in poses.frames:
            lines = label_lines(f)
            (labels / Path(names[f.id]).with_suffix(".txt").name).write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )
        cfg = {
            "path": str(path.resolve()),
            "train": "images/train",
            "val": "images/train",
            "kpt_shape": [schema.num_joints, 3],
            "flip_idx": schema.flip_index,
            "names": {0: schema.name},
            "kpt_names": {0: list(schema.joints)},
            "skeleton": [list(e) for e in schema.edge_index],
        }
        (tmp / "data.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path
