"""`aegroup demo`: synthetic data for a custom skeleton -> train tiny -> predict -> AP table."""

from __future__ import annotations

from pathlib import Path

import typer

from aegroup.demo import DemoSettings

DEFAULTS = DemoSettings()
"""The option defaults come from the settings model, so the CLI and the Python API agree."""


def demo(
    out: Path = typer.Option(DEFAULTS.out, "--out", "-o", help="Folder for everything the demo writes."),
    schema: Path | None = typer.Option(
        None, "--schema", help="Skeleton YAML to use (default: examples/skeletons/gecko.yaml)."
    ),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", min=1, help="Training steps of the tiny model."),
    train_images: int = typer.Option(
        DEFAULTS.train_images, "--train-images", min=1, help="Synthetic training images."
    ),
    val_images: int = typer.Option(
        DEFAULTS.val_images, "--val-images", min=1, help="Synthetic validation images."
    ),
    device: str = typer.Option("auto", "--device", help="'auto' (CUDA when present), 'cpu' or 'cuda:N'."),
    workers: int = typer.Option(
        DEFAULTS.workers,
        "--workers",
        min=0,
        help="Data-loading worker processes (default: cores - 1, 1 to 4).",
    ),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Seeds the synthetic data and the training."),
) -> None:
    """Run the end-to-end demo on synthetic data (no downloads): train, predict with both groupers, score."""
    from rich.console import Console
    from rich.table import Table

    from aegroup.demo import run_demo

    console = Console()
    settings = DemoSettings(
        out=out,
        schema_path=schema,
        steps=steps,
        train_images=train_images,
        val_images=val_images,
        device=device,
        workers=workers,
        seed=seed,
    )
    metrics = run_demo(settings, echo=console.print)
    table = Table(title=f"val AP, '{metrics['schema']}' ({metrics['val_images']} synthetic images)")
    names = ("AP", "AP50", "AP75", "APm", "APl", "AR")
    table.add_column("grouper")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("predict img/s", justify="right")
    for grouper, entry in metrics["groupers"].items():
        values = [f"{entry['metrics'][n]:.3f}" for n in names]
        table.add_row(grouper, *values, f"{entry['predict_images_per_s']:.1f}")
    console.print(table)
    console.print(
        f"trained {metrics['steps']} steps in {metrics['train_seconds']:.0f} s "
        f"({metrics['train_images_per_s']:.1f} images/s); whole demo {metrics['total_seconds']:.0f} s"
    )
    console.print(f"checkpoint: {metrics['checkpoint']}")
    console.print(f"metrics:    {out / 'metrics.json'}")
    console.print("open the predictions in the labelling GUI with:")
    typer.echo(f"  {metrics['label_command']}")
