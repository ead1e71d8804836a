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
        help="Results files: joints scoring below this are written as unlabelled.",
    ),
) -> None:
    """Convert predictions (or a corrected project) into a COCO keypoints file for training."""
    from aegroup.io.export import export_file

    counts = export_file(source, out, min_score, min_keypoint_score)
    typer.echo(f"wrote {out}: {counts['images']} images, {counts['instances']} instances")
