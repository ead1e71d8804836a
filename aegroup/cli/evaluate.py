"""`aegroup evaluate`: COCO keypoint AP of a results file against ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def evaluate(
    gt: Path = typer.Argument(..., help="Ground-truth COCO keypoints JSON."),
    results: Path = typer.Argument(
        ..., help="Results file from `aegroup predict`, or a plain COCO keypoint results list."
    ),
    schema: str | None = typer.Option(
        None,
        "--schema",
        "-s",
        help="Built-in name or schema file (OKS sigmas); default: the results file's schema, else the "
        "ground truth's category.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as a JSON object instead."),
) -> None:
    """Print AP, AP50, AP75, APm, APl and AR (pycocotools COCOeval, the schema's OKS sigmas)."""
    from aegroup.eval import evaluate as run_evaluate
    from aegroup.eval import format_table

    metrics = run_evaluate(gt, results, schema)
    typer.echo(json.dumps(metrics) if json_out else format_table(metrics))
