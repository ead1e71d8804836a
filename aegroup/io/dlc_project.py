"""Write a `PoseSet` as a DeepLabCut project folder (reading is `aegroup.io.dlc`).

The folder is one DeepLabCut opens: config.yaml, labeled-data/<video or image folder>/ with the
images (video frames decoded to img<frame>.png as DeepLabCut names them, image files linked or copied)
and CollectedData_<scorer>.csv, plus the .h5 DeepLabCut trains from when pandas and PyTables are installed
(extra `formats`; else run `deeplabcut.convertcsv2h5(config, userfeedback=False)`). The csv needs no
pandas.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_folder
from aegroup.io.dlc import SINGLE, has_pandas_tables
from aegroup.io.frames import video_stems, write_frame_files
from aegroup.io.poses import PoseSet, prefer_user_instances
from aegroup.schema import PoseSchema

SCORER = "aegroup"
"""Scorer (labeller) name of written projects."""


@dataclass
class Layout:
    """How a `PoseSet` maps onto DeepLabCut columns: individuals, their bodyparts, unique bodyparts."""

    multi: bool
    individuals: list[str]
    animal_joints: list[int]
    unique_joints: list[int]

    def columns(self, schema: PoseSchema) -> list[tuple[str, str, str]]:
        """(individual, bodypart, coord) per column; individual '' for a single-animal project."""
        out = []
        for ind in self.individuals:
            joints = self.unique_joints if ind == SINGLE and self.unique_joints else self.animal_joints
            out += [(ind, schema.joints[j], c) for j in joints for c in ("x", "y")]
        return out


def plan_layout(poses: PoseSet) -> Layout:
    """Single-animal when no frame has two instances and there are no tracks; else one individual per track
    (instances without a track fill `individual<n>` slots); a track 'single' whose instances label only
    joints no other instance labels carries the unique bodyparts."""
    k = poses.schema.num_joints
    multi = bool(poses.tracks) or any(f.num_instances > 1 for f in poses.frames)
    if not multi:
        return Layout(False, [""], list(range(k)), [])
    single = poses.tracks.index(SINGLE) if SINGLE in poses.tracks else -1
    on_single, on_others = np.zeros(k, bool), np.zeros(k, bool)
    for f in poses.frames:
        present = f.present()
        on_single |= present[f.track == single].any(axis=0) if single >= 0 else False
        on_others |= present[f.track != single].any(axis=0)
    unique = [j for j in range(k) if on_single[j] and not on_others[j]] if single >= 0 else []
    if single >= 0 and on_single[on_others].any():
        unique = []  # 'single' labels animal joints too: an ordinary individual
    animals = [j for j in range(k) if j not in unique]
    named = [t for t in poses.tracks if not (t == SINGLE and unique)]
    untracked = max((int((f.track < 0).sum()) for f in poses.frames), default=0)
    slots, n = [], 1
    while len(slots) < untracked:
        if f"individual{n}" not in named:
            slots.append(f"individual{n}")
        n += 1
    individuals = named + slots + ([SINGLE] if unique else [])
    return Layout(True, individuals, animals, unique)


def _rows(poses: PoseSet, layout: Layout, path: Path) -> dict[int, list[float]]:
    """Frame id -> the row of values (NaN where absent) in `layout.columns` order."""
    schema = poses.schema
    columns = layout.columns(schema)
    col = {c: i for i, c in enumerate(columns)}
    slots = [i for i in layout.individuals if i not in poses.tracks and i != SINGLE]
    out = {}
    for f in poses.frames:
        row = [math.nan] * len(columns)
        free = iter(slots)
        used: set[str] = set()
        for n in range(f.num_instances):
            if not layout.multi:
                ind = ""
            elif f.track[n] >= 0:
                ind = poses.tracks[f.track[n]]
            else:
                ind = next(free)
            if ind in used:
                raise AegroupError(
                    f"{path}: frame {f.id}: two instances on track '{ind}' "
                    "(DeepLabCut holds one per individual)"
                )
            used.add(ind)
            for j in range(schema.num_joints):
                x, y, v = f.keypoints[n, j]
                if v > 0:
                    row[col[(ind, schema.joints[j], "x")]] = float(x)
                    row[col[(ind, schema.joints[j], "y")]] = float(y)
        out[f.id] = row
    return out


def image_names(poses: PoseSet) -> dict[int, tuple[str, str]]:
    """Frame id -> (labeled-data folder, image name): video frames as DeepLabCut names extracted frames
    (img<frame>.png, zero-padded to the video's frame count), image files by their own name."""
    stems = video_stems(poses)
    last = [ref.frames - 1 if ref.frames else 0 for ref in poses.videos]
    for f in poses.frames:
        if f.video is not None and f.frame_index is not None and not poses.videos[f.video].frames:
            last[f.video] = max(last[f.video], f.frame_index)
    out: dict[int, tuple[str, str]] = {}
    taken: set[tuple[str, str]] = set()
    for f in poses.frames:
        if f.video is not None and f.frame_index is not None:
            folder, name = stems[f.video], f"img{f.frame_index:0{len(str(last[f.video]))}d}.png"
        else:
            assert f.file_name is not None
            parts = Path(f.file_name).parts
            folder = parts[-2] if len(parts) > 1 and parts[-2] not in ("..", ".") else "images"
            name = parts[-1]
        if (folder, name) in taken:
            name = f"{f.id}_{name}"
        taken.add((folder, name))
        out[f.id] = (folder, name)
    return out


def _csv_text(
    scorer: str,
    layout: Layout,
    columns: list[tuple[str, str, str]],
    rows: list[tuple[tuple[str, ...], list[float]]],
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pad = [""] * 2
    writer.writerow(["scorer", *pad, *[scorer] * len(columns)])
    if layout.multi:
        writer.writerow(["individuals", *pad, *[c[0] for c in columns]])
    writer.writerow(["bodyparts", *pad, *[c[1] for c in columns]])
    writer.writerow(["coords", *pad, *[c[2] for c in columns]])
    for index, values in rows:
        writer.writerow([*index, *("" if math.isnan(v) else repr(v) for v in values)])
    return buffer.getvalue()


def _write_h5(
    path: Path,
    scorer: str,
    layout: Layout,
    columns: list[tuple[str, str, str]],
    rows: list[tuple[tuple[str, ...], list[float]]],
) -> None:
    import pandas as pd

    if layout.multi:
        cols = pd.MultiIndex.from_tuples(
            [(scorer, *c) for c in columns], names=["scorer", "individuals", "bodyparts", "coords"]
        )
    else:
        cols = pd.MultiIndex.from_tuples(
            [(scorer, c[1], c[2]) for c in columns], names=["scorer", "bodyparts", "coords"]
        )
    index = pd.MultiIndex.from_tuples([r[0] for r in rows])
    frame = pd.DataFrame(
        np.array([r[1] for r in rows], np.float64).reshape(len(rows), -1), columns=cols, index=index
    )
    frame.to_hdf(path, key="df_with_missing", mode="w")


def _config(
    poses: PoseSet, layout: Layout, root: Path, folders: dict[str, tuple[int, int]], video_of: dict[str, str]
) -> dict[str, Any]:
    schema = poses.schema
    cfg: dict[str, Any] = {
        "Task": schema.name,
        "scorer": SCORER,
        "date": datetime.date.today().strftime("%b%d"),
        "multianimalproject": layout.multi,
        "identity": False,
        "project_path": str(root),
        "engine": "pytorch",
        "video_sets": {video_of[folder]: {"crop": f"0, {w}, 0, {h}"} for folder, (w, h) in folders.items()},
    }
    if layout.multi:
        cfg["individuals"] = [i for i in layout.individuals if i != SINGLE]
        cfg["uniquebodyparts"] = [schema.joints[j] for j in layout.unique_joints]
        cfg["multianimalbodyparts"] = [schema.joints[j] for j in layout.animal_joints]
        cfg["bodyparts"] = "MULTI!"
    else:
        cfg["bodyparts"] = list(schema.joints)
    cfg.update(
        start=0,
        stop=1,
        numframes2pick=20,
        skeleton=[list(e) for e in schema.edges],
        skeleton_color="black",
        pcutoff=0.6,
        dotsize=12,
        alphavalue=0.7,
        colormap="rainbow",
        TrainingFraction=[0.95],
        iteration=0,
        default_net_type="resnet_50",
        default_augmenter="default",
        snapshotindex=-1,
        detector_snapshotindex=-1,
        batch_size=8,
        detector_batch_size=1,
        cropping=False,
        x1=0,
        x2=640,
        y1=277,
        y2=624,
        corner2move2=[50, 50],
        move2corner=True,
    )
    return cfg


def write_poses(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as a DeepLabCut project folder (see the module docstring); the folder appears
    only when complete. Per frame, user instances are written when there are any, else predictions."""
    del frames_dir  # DeepLabCut keeps its images in labeled-data/
    poses = prefer_user_instances(poses)
    layout = plan_layout(poses)
    columns = layout.columns(poses.schema)
    values = _rows(poses, layout, path)
    names = image_names(poses)
    stems = video_stems(poses)
    with atomic_folder(path) as tmp:
        write_frame_files(
            poses, tmp / "labeled-data", {i: f"{a}/{b}" for i, (a, b) in names.items()}, copy_images=True
        )
        folders: dict[str, tuple[int, int]] = {}
        video_of: dict[str, str] = {}
        for f in poses.frames:
            folder = names[f.id][0]
            folders.setdefault(folder, (f.width, f.height))
            if f.video is not None and folder == stems[f.video]:
                source = Path(poses.videos[f.video].path).resolve()
                video_of[folder] = str(source.with_name(folder + source.suffix))
            else:
                video_of.setdefault(folder, str(path.resolve() / "videos" / f"{folder}.mp4"))
        can_h5 = has_pandas_tables()
        for folder in folders:
            rows = [
                (("labeled-data", folder, names[f.id][1]), values[f.id])
                for f in poses.frames
                if names[f.id][0] == folder
            ]
            target = tmp / "labeled-data" / folder / f"CollectedData_{SCORER}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_csv_text(SCORER, layout, columns, rows), encoding="utf-8")
            if can_h5:
                _write_h5(target.with_suffix(".h5"), SCORER, layout, columns, rows)
        for sub in ("videos", "training-datasets", "dlc-models"):
            (tmp / sub).mkdir()
        cfg = _config(poses, layout, path.resolve(), folders, video_of)
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path
