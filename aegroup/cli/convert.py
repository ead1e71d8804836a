"""`aegroup convert`: any supported pose file -> any other (SLEAP, DeepLabCut, Label Studio, YOLO, COCO)."""

from __future__ import annotations

from pathlib import Path

import typer


def convert(
    src: Path = typer.Argument(
        ...,
        help="Pose file or folder: .slp, DeepLabCut project/csv/h5, Label Studio or COCO JSON, YOLO folder, "
        "aegroup results or .aeproj.",
    ),
    dst: Path = typer.Argument(..., help="File or folder to write; its suffix names the format unless --to."),
    to: str | None = typer.Option(
        None, "--to", help="Format of DST: coco, slp, dlc, labelstudio, yolo or results (default: by suffix)."
    ),
    video: Path | None = typer.Option(
        None, "--video", help="Video file to use where SRC's stored video path does not exist."
    ),
    frames_dir: Path | None = typer.Option(
        None,
        "--frames-dir",
        help="Where video frames are written as PNG for COCO / Label Studio "
        "(default: <DST stem>_frames beside DST).",
    ),
    schema: str | None = typer.Option(
        None, "--schema", help="Schema (built-in name or file) to check and order SRC's joints by."
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Folder SRC's image names are relative to (default: found beside SRC)."
    ),
) -> None:
    """Convert pose labels between formats, keeping coordinates, missing points, tracks and scores."""
    from aegroup.io.formats import convert as run

    done = run(src, dst, to=to, video=video, frames_dir=frames_dir, schema=schema, images=images)
    counts = f"{done.frames} frames, {done.instances} instances, {done.tracks} tracks"
    typer.echo(f"wrote {done.path} ({done.fmt}): {counts}")
