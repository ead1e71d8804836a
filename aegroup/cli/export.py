"""`aegroup export`: predictions or a corrected GUI project -> COCO keypoints training file."""

from __future__ import annotations

from pathlib import Path

import typer


def export(
    source: Path = typer.Argument(
        ..., help="Results file from `aegroup predict`, or a project file saved by `aegroup label`."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="COCO keypoints JSON to write (read by `aegroup train`)."
    ),
    min_score: float = typer.Option(
        0.0, "--min-score", help="Drop predicted instances scoring below this (hand-corrected ones are kept)."
    ),
    min_keypoint_score: float = typer.Option(
        0.0,
        "--min-keypoint-score",
        help="Detected joints of unchecked predictions scoring below this are written as unlabelled.",
    ),
    only: str = typer.Option(
        "all",
        "--only",
        help="Images to write: all, reviewed (marked reviewed in the project) or edited (holding an "
        "instance or joint a person checked, moved or placed).",
    ),
) -> None:
    """Convert predictions (or a corrected project) into a COCO keypoints file for training.

    Labels are what a person placed, moved or checked, and the joints the network detected; joints
    refinement filled in are labels only where a person checked them.
    """
    from aegroup.io.export import export_file

    counts = export_file(source, out, min_score, min_keypoint_score, only)
    typer.echo(f"wrote {out}: {counts['images']} images, {counts['instances']} instances")
