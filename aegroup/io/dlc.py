"""DeepLabCut labels to and from a `PoseSet`: projects (config.yaml + labeled-data), CollectedData files.

Read: a project folder or its config.yaml (every `labeled-data/*/CollectedData_<scorer>.h5|.csv`), or
one CollectedData .csv/.h5 (the project's config.yaml is found above it when present). Multi-animal
files (scorer/individuals/bodyparts/coords header) give one track per individual; single-animal files
(scorer/bodyparts/coords) one untracked instance per image. DeepLabCut has no visibility flag: a
labelled point is visible (2), an empty cell absent. Unique bodyparts (maDLC `uniquebodyparts`, the
individual 'single') are joints of the schema after the animals' bodyparts, carried by one instance per
image on the track 'single'. A file with `likelihood` columns (DeepLabCut's machine labels or video
analysis output) holds predictions; rows numbered by frame (video analysis) need `--video`.

Writing a project is `aegroup.io.dlc_project`.
"""

from __future__ import annotations

import csv
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
from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef
from aegroup.optional import require
from aegroup.schema import PoseSchema, infer_flip_pairs

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

    def points(self, row: int, joint: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """One row as (I, K, 3) x, y, v per individual (absent where a cell is empty) and (I, K)
        likelihoods (NaN without a likelihood column); `joint` maps bodypart -> joint index."""
        individuals = self.individuals()
        kp = np.full((len(individuals), len(joint), 3), np.nan)
        kp[..., 2] = 0
        scores = np.full((len(individuals), len(joint)), np.nan)
        values = dict(zip(self.columns, self.values[row], strict=True))
        for n, ind in enumerate(individuals):
            for bp in self.bodyparts(ind):
                x, y = values[(ind, bp, "x")], values[(ind, bp, "y")]
                if np.isfinite(x) and np.isfinite(y):
                    kp[n, joint[bp]] = (x, y, VISIBLE)
                scores[n, joint[bp]] = values.get((ind, bp, "likelihood"), np.nan)
        return kp, scores


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
        if h5.is_file() and (has_pandas_tables() or not csv_file.is_file()):
            files.append(h5)
        elif csv_file.is_file():
            files.append(csv_file)
    return files


def has_pandas_tables() -> bool:
    """Whether pandas and PyTables, which DeepLabCut's .h5 files need, are installed."""
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
        kp, scores = table.points(r, joint)
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
