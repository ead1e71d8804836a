"""Data of the loop benchmark (`bench_loop.py`): a labelled subset, an unlabelled pool, held-out frames.

- `fly`: the real 2-fly clip (sleap/clip.slp + clip.mp4, read with aegroup's own readers), or the labels
  of any other video (`labels`, in any format `aegroup convert` reads, and `video`). A window of `crop` x
  `crop` pixels at native resolution is cut around the animals of each chosen frame and written as PNG.
  The flies hardly move in the clip's first 1,000 frames (`split`), then walk to another part of the
  arena and court, closer together: the labelled subset comes from the frames before `split` (a model
  trained on them meets new situations later, as one trained on the first minutes of a video does), the
  pool and the held-out test frames from `split` on, in alternating blocks of `block` frames (pool, pool,
  test), with the frames next to a pool/test boundary (5, or a quarter block) left out, so that no test
  frame has a near-copy in the pool. Every pool frame is then new to the weak model.
- `fly-video`: the same labelled subset, but the pool and test blocks span the whole video (less the
  labelled frames), as when a person labels the first minutes of a video and wants the rest; AP is also
  reported on the held-out frames before `split` (`early`) and after it (`late`).
- `synth`: synthetic images of a second skeleton (`aegroup.synth`), each split from its own seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_text
from aegroup.io.coco import build_coco, save_coco
from aegroup.io.formats import load_poses
from aegroup.io.poses import PoseSet
from aegroup.io.video import VideoReader
from aegroup.schema import PoseSchema, load_schema
from aegroup.synth import synthesize

SPLITS = ("labelled", "pool", "test")
ROOT = Path(__file__).resolve().parents[1]
GECKO = ROOT / "examples" / "skeletons" / "gecko.yaml"


@dataclass(frozen=True)
class Split:
    """One split as a COCO file (the truth) and the folder of its images."""

    ann_file: Path
    image_dir: Path


@dataclass(frozen=True)
class LoopData:
    """A dataset prepared for the loop: its name, kind of images (`fly` or `synth`), skeleton, splits, and
    the held-out image ids of each part AP is also reported on (fly-video: `early`, `late`)."""

    name: str
    kind: str
    schema_file: Path
    splits: dict[str, Split]
    parts: dict[str, frozenset[int]] = field(default_factory=dict)


def default_data() -> Path:
    """$AEGROUP_TEST_DATA or ../shared/data beside the project."""
    return Path(os.environ.get("AEGROUP_TEST_DATA", ROOT.parent / "shared" / "data"))


def spread(items: list[int], count: int) -> list[int]:
    """`count` items evenly spaced over `items` (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def fly_data(
    out: Path,
    sizes: dict[str, int],
    crop: int = 320,
    split: int = 1000,
    block: int = 30,
    whole_video: bool = False,
    labels: Path | None = None,
    video: Path | None = None,
) -> LoopData:
    """Crops of a labelled video (the fly clip unless `labels`): labelled from frames [0, split), pool and
    test from [split, end), or from the whole video less the labelled frames when `whole_video` (module
    docstring); only frames whose animals fit in the crop (with 8 pixels to spare) are used."""
    poses = _video_poses(labels, video)
    source = labels or "fly clip"
    first = poses.frames[0]
    if crop > min(first.width, first.height):
        raise AegroupError(
            f"{source}: fly_crop {crop} is larger than the video's frames "
            f"({first.width} x {first.height}); pass --set fly_crop=N"
        )
    fits = [i for i, f in enumerate(poses.frames) if f.num_instances >= 1 and _span(f.keypoints) <= crop - 16]
    index = {i: int(poses.frames[i].frame_index) for i in fits}
    early = [i for i in fits if index[i] < split]
    if not early:
        raise AegroupError(
            f"{source}: split {split}: no labelled frame whose animals fit in fly_crop "
            f"{crop} comes before it; pass --set split=N"
        )
    labelled = spread(early, sizes["labelled"])
    start = 0 if whole_video else split
    # Position within the (pool, pool, test) cycle of blocks; frames near a pool/test edge are skipped.
    phase = {i: (index[i] - start) % (3 * block) for i in set(fits) - set(labelled) if index[i] >= start}
    edge = min(5, block // 4)
    test = sorted(i for i, p in phase.items() if 2 * block + edge <= p < 3 * block - edge)
    pool = sorted(i for i, p in phase.items() if edge <= p < 2 * block - edge)
    if len(pool) < 2 or not test:
        raise AegroupError(
            f"{source}: split {split}: {len(pool)} labelled frames for the pool and "
            f"{len(test)} for the test after it; the loop needs at least 2 and 1 (pass --set split=N)"
        )
    chosen = {"labelled": labelled, "pool": spread(pool, sizes["pool"]), "test": spread(test, sizes["test"])}
    image_dir = out / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    schema_file = out / "skeleton.yaml"
    atomic_write_text(schema_file, poses.schema.to_yaml())
    reader = VideoReader(poses.videos[0].path)
    splits = {}
    for name in SPLITS:
        # Increasing frame order: the reader decodes forward instead of seeking for each frame.
        frames = sorted(chosen[name], key=index.__getitem__)
        ann_file = _write_crops(poses, frames, reader, crop, image_dir, out / f"{name}.json")
        splits[name] = Split(ann_file, image_dir)
    if not whole_video:
        return LoopData("fly", "fly", schema_file, splits)
    # Image ids are frame index + 1 (_write_crops).
    parts = {
        "early": frozenset(index[i] + 1 for i in chosen["test"] if index[i] < split),
        "late": frozenset(index[i] + 1 for i in chosen["test"] if index[i] >= split),
    }
    return LoopData("fly-video", "fly", schema_file, splits, parts)


def _video_poses(labels: Path | None, video: Path | None) -> PoseSet:
    """The labelled frames of the first video of `labels` (the shared fly clip when None), in frame order."""
    if labels is None:
        labels = default_data() / "sleap" / "clip.slp"
        if not labels.is_file():
            raise AegroupError(
                f"{labels}: the fly clip is missing (set AEGROUP_TEST_DATA to the shared data folder)"
            )
        video = labels.with_name("clip.mp4")
    poses = load_poses(labels, video=video)
    if not poses.videos:
        raise AegroupError(f"{labels}: not the labels of a video (it names no video file)")
    frames = [f for f in poses.frames if (f.video or 0) == 0 and f.frame_index is not None]
    if not frames:
        raise AegroupError(f"{labels}: no labelled frame of its video {poses.videos[0].path}")
    if not Path(poses.videos[0].path).is_file():
        raise AegroupError(f"{labels}: video {poses.videos[0].path} not found (pass --video FILE)")
    return replace(poses, frames=sorted(frames, key=lambda f: int(f.frame_index or 0)))


def _span(keypoints: np.ndarray) -> float:
    """Largest side of the box around every labelled joint of a frame."""
    xy = keypoints[keypoints[..., 2] > 0][:, :2]
    return float(np.ptp(xy, axis=0).max()) if xy.size else 0.0


def _write_crops(
    poses: PoseSet, frames: list[int], reader: VideoReader, crop: int, image_dir: Path, ann_file: Path
) -> Path:
    """Write the crop of each frame (centred on its labelled joints, inside the frame) and their COCO file."""
    images, keypoints = [], {}
    for i in frames:
        frame = poses.frames[i]
        xy = frame.keypoints[frame.keypoints[..., 2] > 0][:, :2]
        centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
        x0 = int(np.clip(round(centre[0] - crop / 2), 0, frame.width - crop))
        y0 = int(np.clip(round(centre[1] - crop / 2), 0, frame.height - crop))
        pixels = reader.read(int(frame.frame_index))[y0 : y0 + crop, x0 : x0 + crop]
        name = f"{frame.frame_index:06d}.png"
        Image.fromarray(pixels).save(image_dir / name, compress_level=1)
        kp = np.nan_to_num(frame.keypoints.copy(), nan=0.0)
        kp[..., 0] -= x0
        kp[..., 1] -= y0
        kp[kp[..., 2] <= 0] = 0.0
        image_id = int(frame.frame_index) + 1
        images.append({"id": image_id, "file_name": name, "width": crop, "height": crop})
        keypoints[image_id] = kp
    return save_coco(ann_file, build_coco(poses.schema, images, keypoints))


def synth_data(out: Path, sizes: dict[str, int], size: int = 128, seed: int = 0) -> LoopData:
    """Synthetic geckos (examples/skeletons/gecko.yaml): one folder per split, each from its own seed."""
    schema: PoseSchema = load_schema(GECKO)
    schema_file = out / "skeleton.yaml"
    atomic_write_text(schema_file, schema.to_yaml())
    splits = {}
    for offset, name in enumerate(SPLITS):
        ann = synthesize(
            schema,
            out / name,
            sizes[name],
            max_instances=3,
            size=(size, size),
            seed=seed + 1 + offset,
            min_instances=1,
            instance_scale=(0.35, 0.7),
            side_cue="colour",
            spacing=0.8,
        )
        splits[name] = Split(ann, out / name / "images")
    return LoopData("synth", "synth", schema_file, splits)
