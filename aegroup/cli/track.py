"""`aegroup track`: link the instances of video frames in a pose file into tracks (identities)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from aegroup.track import Tracked

FLAGS = {"max_tracks": "--max-tracks", "window": "--window", "max_cost": "--max-cost"}
"""Params field -> the option that sets it, for error messages."""


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` strings from --param as a dict (values are checked by the tracker's Params model)."""
    from aegroup.errors import AegroupError

    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise AegroupError(f"--param: expected NAME=VALUE, got '{pair}'")
        values[name.strip()] = value.strip()
    return values


def track(
    source: Path = typer.Argument(
        ..., help="Pose file with video frames: .slp, aegroup results, COCO with track_id, ..."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Pose file to write with the tracks (format by suffix)."
    ),
    max_tracks: int | None = typer.Option(
        None,
        "--max-tracks",
        help="Number of animals: never more tracks; extra instances per frame are dropped.",
    ),
    window: int | None = typer.Option(
        None, "--window", help="A track last seen in frame s can be matched up to frame s + W (default 5)."
    ),
    method: str = typer.Option("motion", "--method", help="Tracker: motion, iou, or an installed plugin."),
    max_cost: float | None = typer.Option(
        None, "--max-cost", help="Gate: costlier links start a new track (default: the tracker's)."
    ),
    schema: str | None = typer.Option(None, "--schema", help="Skeleton to read SOURCE with (name or file)."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Other tracker parameter NAME=VALUE, e.g. tag_weight=0.5 (repeatable)."
    ),
    to: str | None = typer.Option(None, "--to", help="Output format when the suffix does not tell."),
    frames_dir: Path | None = typer.Option(
        None, "--frames-dir", help="Where to write video frames as images, for formats that need image files."
    ),
) -> None:
    """Track the instances of every video in SOURCE separately and write them with track ids to OUT."""
    from pydantic import ValidationError

    from aegroup.errors import AegroupError
    from aegroup.io.formats import load_poses, save_poses
    from aegroup.track import get_tracker, track_poses

    tracker = get_tracker(method)
    values = parse_params(param)
    flags = {"max_tracks": max_tracks, "window": window, "max_cost": max_cost}
    values.update({k: v for k, v in flags.items() if v is not None})
    try:
        params = tracker.Params.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise AegroupError(f"{FLAGS.get(field, f'--param {field}')}: {first['msg']}") from None
    poses = load_poses(source, schema=schema)
    if poses.num_instances == 0:
        raise AegroupError(f"{source}: no instances to track")
    tracked = track_poses(poses, method, params, source=str(source))
    save_poses(tracked.poses, out, to=to, frames_dir=frames_dir)
    typer.echo(summary(tracked, out, params.max_tracks, params.window))


def counted(n: int, noun: str) -> str:
    """`1 track`, `2 tracks`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary(tracked: Tracked, out: Path, max_tracks: int | None, window: int) -> str:
    """The one line `aegroup track` prints: frames, instances, tracks, dropped, and what it had to fix."""
    poses = tracked.poses
    line = (
        f"wrote {out}: {counted(len(poses), 'frame')}, {counted(poses.num_instances, 'instance')}, "
        f"{counted(tracked.num_tracks, 'track')}, {counted(tracked.dropped, 'instance')} dropped"
    )
    if tracked.dropped:
        line += f" (frames with more than --max-tracks {max_tracks}: kept the best by score)"
    if len(tracked.sequences) > 1:
        line += f"; {len(tracked.sequences)} videos tracked separately"
    if tracked.reordered:
        line += f"; frames out of order in {', '.join(tracked.reordered)}: sorted by frame number"
    for name, step in tracked.sparse.items():
        line += (
            f"; frames of {name} are {step:g} apart, more than --window {window}: tracks end between them"
            " (raise --window or set --max-tracks)"
        )
    return line
