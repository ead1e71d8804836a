"""`aegroup predict`: run a checkpoint on a folder of images or a COCO file's images, write a results file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from aegroup.decode import DecodeConfig


def parse_scales(text: str) -> tuple[float, ...]:
    """'1,1.5' -> (1.0, 1.5); a malformed list is a one-line error naming the option."""
    from aegroup.errors import AegroupError

    try:
        scales = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise AegroupError(
            f"--scales: expected comma-separated numbers such as 1,1.5, got '{text}'"
        ) from None
    if not scales or any(s <= 0 for s in scales):
        raise AegroupError(f"--scales: expected positive numbers such as 1,1.5, got '{text}'")
    return scales


def decode_overrides(base: DecodeConfig, items: list[str]) -> DecodeConfig:
    """The checkpoint's decode config with `--decode KEY=VALUE` items applied (values parsed as YAML)."""
    import yaml

    from aegroup.decode import resolve_config
    from aegroup.errors import AegroupError

    fields = type(base).model_fields
    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in fields:
            names = ", ".join(fields)
            raise AegroupError(f"--decode: expected KEY=VALUE with KEY one of {names}, got '{item}'")
        params[key.strip()] = yaml.safe_load(value)
    return resolve_config(base, params, source="--decode")


def predict(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder (or a training run folder: its best)."),
    images_dir: Path | None = typer.Argument(
        None, help="Folder of images to predict on (or use --coco with --images)."
    ),
    coco: Path | None = typer.Option(
        None,
        "--coco",
        help="COCO keypoints file: predict on its images, keeping its image ids (for evaluate).",
    ),
    images: Path | None = typer.Option(None, "--images", help="Image folder of the --coco file."),
    out: Path = typer.Option(..., "--out", "-o", help="Results file to write (JSON)."),
    flip: bool = typer.Option(False, "--flip", help="Flip test: average with the mirrored image's output."),
    scales: str = typer.Option("1", "--scales", help="Test scales, comma-separated, e.g. 1,1.5."),
    method: str = typer.Option(
        "hungarian", "--method", help="Grouper: hungarian, greedy or a plugin's name."
    ),
    batch: int = typer.Option(8, "--batch", min=1, help="Images per forward pass."),
    candidates: bool = typer.Option(
        True, "--candidates/--no-candidates", help="Store every image's candidates (GUI re-grouping)."
    ),
    device: str = typer.Option("auto", "--device", help="'auto' (CUDA when present), 'cpu', 'cuda:N'."),
    input_size: int | None = typer.Option(
        None, "--input-size", help="Network input side (default: the size the model was trained at)."
    ),
    decode: list[str] = typer.Option(
        [],
        "--decode",
        help="Override a decoding setting stored in the checkpoint, KEY=VALUE, repeatable "
        "(e.g. --decode detection_threshold=0.3).",
    ),
) -> None:
    """Predict poses in images and write the results file that `evaluate`, `export` and `label` read."""
    from aegroup.predict import Predictor
    from aegroup.predict.files import image_list, run_prediction

    scale_values = parse_scales(scales)
    predictor = Predictor.from_checkpoint(
        checkpoint, device=device, method=method, flip=flip, scales=scale_values, input_size=input_size
    )
    predictor.decode = decode_overrides(predictor.decode, decode)
    entries = image_list(predictor.schema, images_dir, coco, images)
    summary = run_prediction(predictor, entries, out, batch, candidates, progress=True)
    for problem in summary.skipped:
        typer.echo(f"skipped: {problem}", err=True)
    typer.echo(
        f"wrote {out}: {summary.images} images, {summary.instances} instances"
        + (f", {len(summary.skipped)} unreadable images skipped" if summary.skipped else "")
        + f" ({summary.images_per_s:.1f} images/s)"
    )
