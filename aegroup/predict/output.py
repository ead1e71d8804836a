"""Predictions gathered into pose frames, tracked when asked, and written as one file.

`collect` turns a prediction stream into `PoseSet` frames (progress bar with images or frames per second;
unreadable items listed); `write_predictions` tracks the frames (`aegroup.track.track_poses`) when asked
and writes them: an aegroup results file (with every image's candidates and each instance's tracking
doubt) or any format `aegroup.io.formats.save_poses` writes (.slp predictions, COCO, ...). Torch-free.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aegroup.errors import AegroupError
from aegroup.io.formats import format_for_destination, save_poses
from aegroup.io.native import poses_to_results
from aegroup.io.poses import ABSENT, VISIBLE, Frame, PoseSet
from aegroup.io.results import ResultsFile, build_results, candidates_to_record, save_results
from aegroup.track import TrackParams, track_poses

if TYPE_CHECKING:
    from aegroup.decode import Candidates
    from aegroup.predict.predictor import Prediction
    from aegroup.schema import PoseSchema

RESULTS = "results"
"""The format name of aegroup's own results file, what a .json destination gets."""


@dataclass(frozen=True)
class Slot:
    """Where one prediction belongs: its frame id, and its image file name or its video frame number."""

    id: int
    file_name: str | None = None
    frame_index: int | None = None


@dataclass(frozen=True)
class Output:
    """What to write: the file, its format ('results' or a `save_poses` format), the folder video frames
    go to for formats that need image files, and the tracking parameters (None: no tracking)."""

    path: Path
    fmt: str = RESULTS
    frames_dir: Path | None = None
    track: TrackParams | None = None


def output_for(
    path: Path, to: str | None = None, frames_dir: Path | None = None, track: TrackParams | None = None
) -> Output:
    """An `Output` in the format `to` names, else by suffix: .json is a results file, .slp SLEAP, ..."""
    fmt = RESULTS if to is None and path.suffix.lower() == ".json" else format_for_destination(path, to)
    if fmt in (RESULTS, "coco", "slp", "labelstudio") and path.is_dir():
        raise AegroupError(f"{path}: --out is a folder; give a file name such as {path / 'results.json'}")
    return Output(path, fmt, frames_dir, track)


@dataclass
class Collected:
    """Predicted frames in stream order, each frame's candidates (by frame id, when asked), the one-line
    reasons of items that could not be read, and the seconds it took."""

    frames: list[Frame] = field(default_factory=list)
    candidates: dict[int, Candidates] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def collect(
    stream: Iterable[tuple[Slot, Prediction | str]], schema: PoseSchema, total: int, unit: str, progress: bool
) -> Collected:
    """Gather a prediction stream into frames, with a progress bar counting `unit`s (images, frames)."""
    out = Collected()
    bar = Progress(
        TextColumn("predict"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not progress,
        transient=True,
    )
    start = time.perf_counter()
    with bar:
        task = bar.add_task("predict", total=total, rate="")
        for slot, result in stream:
            if isinstance(result, str):
                out.skipped.append(result)
            else:
                out.frames.append(prediction_frame(slot, result, schema.num_joints))
                if result.candidates is not None:
                    out.candidates[slot.id] = result.candidates
            rate = len(out.frames) / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=1, rate=f"{rate:.1f} {unit}/s")
    out.seconds = time.perf_counter() - start
    return out


def prediction_frame(slot: Slot, prediction: Prediction, num_joints: int) -> Frame:
    """One prediction as a `PoseSet` frame of predicted instances (a joint scored 0 or less is absent)."""
    instances = prediction.instances
    kp = np.array([i.keypoints for i in instances], np.float64).reshape(-1, num_joints, 3)
    found = kp[..., 2] > 0
    return Frame.build(
        slot.id,
        prediction.width,
        prediction.height,
        np.concatenate([kp[..., :2], np.where(found, VISIBLE, ABSENT)[..., None]], axis=2),
        scores=np.where(found, kp[..., 2], np.nan),
        instance_score=[i.score for i in instances],
        user=False,
        file_name=slot.file_name,
        video=None if slot.frame_index is None else 0,
        frame_index=slot.frame_index,
        tags=np.array([i.tags for i in instances]) if instances else None,
    )


@dataclass
class Written:
    """What `write_predictions` wrote: frames, instances, tracks and instances dropped by `max_tracks`."""

    path: Path
    frames: int
    instances: int
    tracks: int = 0
    dropped: int = 0


def write_predictions(
    poses: PoseSet, candidates: dict[int, Candidates] | None, output: Output, source: str
) -> Written:
    """Track `poses` when `output` asks, then write them atomically; `candidates` go to a results file."""
    doubt = None
    written = Written(output.path, len(poses), poses.num_instances)
    if output.track is not None:
        tracked = track_poses(poses, "motion", output.track, source=source)
        poses, doubt = tracked.poses, tracked.doubt
        written = Written(output.path, len(poses), poses.num_instances, tracked.num_tracks, tracked.dropped)
    if output.fmt == RESULTS:
        save_results(output.path, results_file(poses, candidates, doubt, output.path.parent))
    else:
        save_poses(poses, output.path, to=output.fmt, frames_dir=output.frames_dir)
    return written


def results_file(
    poses: PoseSet,
    candidates: dict[int, Candidates] | None,
    doubt: list[np.ndarray] | None,
    root: Path,
) -> ResultsFile:
    """A results file of predicted frames: image names as the frames have them (relative to the image
    folder), video paths relative to `root`, candidates per frame, `track_doubt` per tracked instance."""
    base = poses_to_results(poses, root).to_json()
    annotations: list[dict[str, Any]] = base["annotations"]
    if doubt is not None:
        # poses_to_results writes the frames in order and each frame's instances in order.
        values = np.concatenate([np.zeros(0), *doubt])
        for ann, value in zip(annotations, values, strict=True):
            if np.isfinite(value):
                ann["track_doubt"] = float(value)
    records = None
    if candidates is not None:
        records = [candidates_to_record(f.id, candidates[f.id]) for f in poses.frames if f.id in candidates]
    return build_results(poses.schema, base["images"], annotations, records, base.get("tracks"))
