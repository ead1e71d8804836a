"""DeepLabCut labels to and from a `PoseSet`: projects (config.yaml + labeled-data), CollectedData files.

Read: a project folder or its config.yaml (every `labeled-data/*/CollectedData_<scorer>.h5|.csv`), or
one CollectedData .csv/.h5 (the project's config.yaml is found above it when present). Multi-animal
files (scorer/individuals/bodyparts/coords header) give one track per individual; single-animal files
(scorer/bodyparts/coords) one untracked instance per image. DeepLabCut has no visibility flag: a
labelled point is visible (2), an empty cell absent. Unique bodyparts (maDLC `uniquebodyparts`, the
individual 'single') are joints of the schema after the animals' bodyparts, carried by one instance per
image on the track 'single'. A file with `likelihood` columns (DeepLabCut's machine labels or video
analysis output) holds predictions; rows numbered by frame (video analysis) need `--video`.

Write: a project folder DeepLabCut opens: config.yaml, labeled-data/<video or image folder>/ with the
images (video frames decoded to img<frame>.png as DeepLabCut names them, image files linked or copied)
and CollectedData_<scorer>.csv, plus the .h5 DeepLabCut trains from when pandas and PyTables are installed
(extra `formats`; else run `deeplabcut.convertcsv2h5(config, userfeedback=False)`). The csv path needs
no pandas.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_folder
from aegroup.io.frames import video_stems, write_frame_files
from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef, prefer_user_instances
from aegroup.optional import require
from aegroup.schema import PoseSchema, infer_flip_pairs

SCORER = "aegroup"
"""Scorer (labeller) name of written projects."""
SINGLE = "single"
"""DeepLabCut's individual that carries the unique bodyparts."""
COORDS = ("x", "y", "likelihood")


@dataclass
class Table:
    """A CollectedData table: per column (individual or '', bodypart, coord); per row the image's path
    parts and the values (NaN where empty)."""

    path: Path
    columns: list[tuple[str, str, str]]
    index: list[tuple[str, ...]]
    values: np.ndarray

    @property
    def multi(self) -> bool:
        """Whether the table has an individuals level (multi-animal project)."""
        return any(ind for ind, _, _ in self.columns)

    def individuals(self) -> list[str]:
        """Individuals in column order ([''] for a single-animal table)."""
        return list(dict.fromkeys(ind for ind, _, _ in self.columns))

    def bodyparts(self, individual: str) -> list[str]:
        """Bodyparts of one individual in column order."""
        return list(dict.fromkeys(bp for ind, bp, _ in self.columns if ind == individual))


def _header_error(path: Path, rows: Sequence[Sequence[str]]) -> AegroupError:
    got = [r[0] if r else "" for r in rows[:4]]
    return AegroupError(
        f"{path}: field 'header': expected rows 'scorer', ['individuals',] 'bodyparts', 'coords' "
        f"in the first column, got {got}"
    )


def read_table_csv(path: Path) -> Table:
    """Parse a CollectedData (or analysis output) .csv without pandas; a wrong header is a one-line error."""
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise AegroupError(f"{path}: cannot read DeepLabCut csv ({err})") from None
    names = ["scorer", "individuals", "bodyparts", "coords"]
    if len(rows) > 1 and rows[1] and rows[1][0] != "individuals":
        names.remove("individuals")
    header = rows[: len(names)]
    if len(header) < len(names) or [r[0] if r else "" for r in header] != names:
        raise _header_error(path, rows)
    coords = header[-1]
    first = next((j for j, c in enumerate(coords) if j > 0 and c in COORDS), None)
    width = len(coords)
    if first is None or any(len(r) != width for r in header):
        raise _header_error(path, rows)
    levels = {name: row[first:] for name, row in zip(names, header, strict=True)}
    columns = [
        (
            levels["individuals"][j] if "individuals" in levels else "",
            levels["bodyparts"][j],
            coords[first + j],
        )
        for j in range(width - first)
    ]
    index, values = [], []
    for line, row in enumerate(rows[len(names) :], start=len(names) + 1):
        if not any(row):
            continue
        if len(row) != width:
            raise AegroupError(f"{path}: line {line}: has {len(row)} cells, the header has {width}")
        index.append(tuple(p for p in row[:first] if p))
        values.append([_cell(c, path, line) for c in row[first:]])
    return _checked(Table(path, columns, index, np.array(values, np.float64).reshape(-1, len(columns))))


def _cell(text: str, path: Path, line: int) -> float:
    if not text.strip():
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise AegroupError(f"{path}: line {line}: field 'coords': '{text}' is not a number") from None


def _checked(table: Table) -> Table:
    for _, bp, coord in table.columns:
        if coord not in COORDS:
            raise AegroupError(
                f"{table.path}: field 'coords': unknown coordinate '{coord}' of bodypart '{bp}'"
            )
    keys = {(ind, bp) for ind, bp, _ in table.columns}
    for ind, bp in keys:
        got = [c for i, b, c in table.columns if (i, b) == (ind, bp)]
        if sorted(got) not in (["x", "y"], ["likelihood", "x", "y"]):
            who = f"individual '{ind}' " if ind else ""
            raise AegroupError(
                f"{table.path}: field 'coords': {who}bodypart '{bp}' has columns {got}, expected x, y"
            )
    return table


def read_table_h5(path: Path) -> Table:
    """Read a CollectedData (or analysis output) .h5 through pandas (extra `formats`)."""
    pd = require("pandas", "reading DeepLabCut .h5 files")
    require("tables", "reading DeepLabCut .h5 files")
    try:
        frame = pd.read_hdf(path)
    except Exception as err:  # PyTables and pandas raise many kinds for a damaged or foreign file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(
            f"{path}: not a readable DeepLabCut .h5 file (truncated or corrupt? {first})"
        ) from None
    names = list(frame.columns.names)
    if names not in (["scorer", "bodyparts", "coords"], ["scorer", "individuals", "bodyparts", "coords"]):
        raise AegroupError(
            f"{path}: field 'header': expected column levels scorer, [individuals,] bodyparts, coords; "
            f"got {names}"
        )
    columns = [(str(c[1]) if len(c) == 4 else "", str(c[-2]), str(c[-1])) for c in frame.columns]
    index = [tuple(str(p) for p in (i if isinstance(i, tuple) else (i,))) for i in frame.index]
    return _checked(Table(path, columns, index, frame.to_numpy(dtype=np.float64)))


def read_table(path: Path) -> Table:
    """A CollectedData table from its .csv or .h5 file."""
    if not path.is_file():
        raise AegroupError(f"{path}: file not found")
    return read_table_h5(path) if path.suffix.lower() in (".h5", ".hdf5") else read_table_csv(path)


def read_config(path: Path) -> dict[str, Any]:
    """A DeepLabCut config.yaml as a dict (one-line errors for unreadable YAML)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: not a readable DeepLabCut config ({first})") from None
    if not isinstance(data, dict) or not ("bodyparts" in data or "multianimalbodyparts" in data):
        raise AegroupError(f"{path}: field 'bodyparts': not a DeepLabCut config.yaml")
    return data


def is_config(path: Path) -> bool:
    """Whether a YAML file is a DeepLabCut project config (it names `bodyparts` and `video_sets`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "bodyparts" in data and "video_sets" in data


def _names(value: Any, field: str, source: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise AegroupError(f"{source}: field '{field}' must be a list of names")
    return [str(v) for v in value]


def schema_from_config(cfg: dict[str, Any], source: Path) -> PoseSchema:
    """A `PoseSchema` from a DeepLabCut config: the bodyparts (multi-animal bodyparts, then unique
    bodyparts), skeleton edges (a longer path in `skeleton` gives its consecutive pairs), flip pairs
    inferred from left/right names."""
    if cfg.get("multianimalproject") or cfg.get("bodyparts") == "MULTI!":
        joints = _names(cfg.get("multianimalbodyparts"), "multianimalbodyparts", source)
        joints += _names(cfg.get("uniquebodyparts"), "uniquebodyparts", source)
    else:
        joints = _names(cfg.get("bodyparts"), "bodyparts", source)
    edges: list[tuple[str, str]] = []
    for i, path in enumerate(cfg.get("skeleton") or []):
        names = _names(path, f"skeleton[{i}]", source)
        edges += [(a, b) for a, b in itertools.pairwise(names) if (a, b) not in edges and a != b]
    try:
        return PoseSchema(
            name=str(cfg.get("Task") or "deeplabcut"),
            joints=joints,
            edges=edges,
            flip_pairs=infer_flip_pairs(joints),
        )
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None


def schema_from_table(table: Table) -> PoseSchema:
    """A `PoseSchema` from a table's header alone: the animals' bodyparts, then the unique ones."""
    animals = [i for i in table.individuals() if i != SINGLE]
    joints = list(dict.fromkeys(bp for i in animals for bp in table.bodyparts(i)))
    joints += (
        [bp for bp in table.bodyparts(SINGLE) if bp not in joints] if SINGLE in table.individuals() else []
    )
    name = table.path.stem.removeprefix("CollectedData_") or "deeplabcut"
    try:
        return PoseSchema(name=name, joints=joints, flip_pairs=infer_flip_pairs(joints))
    except ValidationError as err:
        raise AegroupError(validation_message(table.path, err)) from None


def _project_files(root: Path, cfg: dict[str, Any]) -> list[Path]:
    scorer = str(cfg.get("scorer", ""))
    files = []
    for folder in sorted(p for p in (root / "labeled-data").glob("*") if p.is_dir()):
        if folder.name.endswith("_labeled"):  # check_labels output, not labels
            continue
        h5, csv_file = folder / f"CollectedData_{scorer}.h5", folder / f"CollectedData_{scorer}.csv"
        if h5.is_file() and (_has_pandas_tables() or not csv_file.is_file()):
            files.append(h5)
        elif csv_file.is_file():
            files.append(csv_file)
    return files


def _has_pandas_tables() -> bool:
    try:
        import pandas  # noqa: F401
        import tables  # noqa: F401
    except ImportError:
        return False
    return True


def _find_config(table_path: Path) -> Path | None:
    for folder in list(table_path.parents)[:3]:
        if (folder / "config.yaml").is_file() and is_config(folder / "config.yaml"):
            return folder / "config.yaml"
    return None


def read_schema(path: Path) -> PoseSchema:
    """The skeleton of a DeepLabCut project, config.yaml or CollectedData file."""
    config = _config_of(path)
    if config is not None:
        return schema_from_config(read_config(config), config)
    return schema_from_table(read_table(path))


def _config_of(path: Path) -> Path | None:
    if path.is_dir():
        if not (path / "config.yaml").is_file():
            raise AegroupError(f"{path}: not a DeepLabCut project (no config.yaml)")
        return path / "config.yaml"
    if path.suffix.lower() in (".yaml", ".yml"):
        return path
    return _find_config(path)


def read_poses(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """A DeepLabCut project, config.yaml or CollectedData file as a `PoseSet` (see the module docstring)."""
    config = _config_of(path)
    cfg = read_config(config) if config is not None else None
    if path.is_dir() or path.suffix.lower() in (".yaml", ".yml"):
        assert config is not None and cfg is not None
        root, tables = config.parent, [read_table(p) for p in _project_files(config.parent, cfg)]
    else:
        tables = [read_table(path)]
        root = config.parent if config is not None else _table_root(tables[0])
    file_schema = schema_from_config(cfg, config) if cfg is not None and config is not None else None
    if file_schema is None:
        file_schema = schema_from_table(tables[0]) if tables else None
    if file_schema is None:
        raise AegroupError(f"{path}: no labels found")
    if schema is not None and sorted(schema.joints) != sorted(file_schema.joints):
        raise AegroupError(
            f"{path}: field 'bodyparts': {file_schema.joints} differ from schema '{schema.name}' "
            f"joints {schema.joints}"
        )
    schema = schema or file_schema
    tracks: list[str] = []
    frames: list[Frame] = []
    videos: list[VideoRef] = []
    for table in tables:
        frames += _table_frames(table, schema, root, tracks, videos, video, len(frames))
    return PoseSet(schema, frames, tracks=tracks, videos=videos, image_dir=root)


def _table_root(table: Table) -> Path:
    """The folder a table's image paths are relative to: the project folder for labeled-data/... paths."""
    if table.index and table.index[0][:1] == ("labeled-data",) and len(table.path.parents) > 2:
        return table.path.parents[2]
    return table.path.parent


def _table_frames(
    table: Table,
    schema: PoseSchema,
    root: Path,
    tracks: list[str],
    videos: list[VideoRef],
    video: Path | None,
    first_id: int,
) -> list[Frame]:
    """The frames of one table; track names are appended to `tracks` as individuals appear."""
    joint = {j: k for k, j in enumerate(schema.joints)}
    k = schema.num_joints
    unknown = sorted({bp for _, bp, _ in table.columns} - set(joint))
    if unknown:
        raise AegroupError(
            f"{table.path}: field 'bodyparts': {unknown} are not joints of schema '{schema.name}'"
        )
    individuals = table.individuals()
    track_of = {}
    for ind in individuals:
        if table.multi:
            if ind not in tracks:
                tracks.append(ind)
            track_of[ind] = tracks.index(ind)
        else:
            track_of[ind] = -1
    col = {c: j for j, c in enumerate(table.columns)}
    predicted = any(c == "likelihood" for _, _, c in table.columns)
    by_frame = all(len(i) == 1 and i[0].isdigit() for i in table.index) and bool(table.index)
    video_index = None
    if by_frame:
        if video is None:
            raise AegroupError(
                f"{table.path}: rows are numbered video frames (DeepLabCut analysis output); "
                "give the video with --video"
            )
        size = _video_size(video)
        videos.append(VideoRef(str(video), width=size[0], height=size[1]))
        video_index = len(videos) - 1
    frames = []
    for r, parts in enumerate(table.index):
        kp = np.full((len(individuals), k, 3), np.nan)
        kp[..., 2] = 0
        scores = np.full((len(individuals), k), np.nan)
        for n, ind in enumerate(individuals):
            for bp in table.bodyparts(ind):
                x, y = table.values[r, col[(ind, bp, "x")]], table.values[r, col[(ind, bp, "y")]]
                if np.isfinite(x) and np.isfinite(y):
                    kp[n, joint[bp]] = (x, y, VISIBLE)
                if predicted and (ind, bp, "likelihood") in col:
                    scores[n, joint[bp]] = table.values[r, col[(ind, bp, "likelihood")]]
        keep = (kp[..., 2] > 0).any(axis=1)
        common: dict[str, Any]
        if video_index is not None:
            width, height = size
            common = {"video": video_index, "frame_index": int(parts[0])}
        else:
            name = "/".join(parts)
            width, height = _image_size(root / name)
            common = {"file_name": name}
        frames.append(
            Frame.build(
                first_id + r + 1,
                width,
                height,
                kp[keep],
                scores=scores[keep],
                track=np.array([track_of[i] for i in individuals])[keep],
                user=not predicted,
                **common,
            )
        )
    return frames


def _image_size(path: Path) -> tuple[int, int]:
    from aegroup.io.coco import open_image

    with open_image(path, decode=False) as image:
        return image.size


def _video_size(path: Path) -> tuple[int, int]:
    from aegroup.io.video import VideoReader

    reader = VideoReader(path)
    return reader.width, reader.height


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
        can_h5 = _has_pandas_tables()
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
