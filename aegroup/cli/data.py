"""`aegroup data check`: validate a COCO keypoints file and its images against a schema."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Check COCO keypoint datasets.", no_args_is_help=True)

MAX_LISTED = 20


@app.command("check")
def check(
    ann_file: Path = typer.Argument(..., help="COCO keypoints JSON file."),
    images: Path = typer.Option(
        ..., "--images", help="Folder holding the images (file_name is relative to it)."
    ),
    schema: str = typer.Option(..., "--schema", help="Built-in schema name or YAML/JSON schema file."),
    category: list[str] = typer.Option(
        None,
        "--category",
        help="Category name or id to check (repeatable); default: every keypoint category.",
    ),
) -> None:
    """Print a summary (images, instances, labelled joints per type), or one line per problem and exit 2."""
    from aegroup.io.coco import check_coco
    from aegroup.schema import load_schema

    pose_schema = load_schema(schema)
    summary = check_coco(ann_file, images, pose_schema, category or None)
    if summary.problems:
        for line in summary.problems[:MAX_LISTED]:
            typer.echo(f"error: {line}", err=True)
        if len(summary.problems) > MAX_LISTED:
            typer.echo(f"error: ... and {len(summary.problems) - MAX_LISTED} more problems", err=True)
        raise typer.Exit(2)
    typer.echo(f"{ann_file}: ok for schema '{pose_schema.name}'")
    typer.echo(
        f"images: {summary.images}  instances: {summary.instances}  crowd regions: {summary.crowd}  "
        f"instances without labelled joints: {summary.unlabelled}"
    )
    width = max(len(j) for j in pose_schema.joints)
    typer.echo(f"{'joint':<{width}}  labelled  visible")
    for name, lab, vis in zip(pose_schema.joints, summary.labelled, summary.visible, strict=True):
        typer.echo(f"{name:<{width}}  {lab:>8}  {vis:>7}")
