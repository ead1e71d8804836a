"""`aegroup train CONFIG.yaml [--set a.b=v ...] [--resume | --init-from CKPT] [--out DIR]`: train a model."""

from __future__ import annotations

from pathlib import Path

import typer


def train(
    config: Path = typer.Argument(..., help="Training config (YAML); see README 'Training' for every field."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config field, value parsed as YAML: --set model.nstack=2 (repeatable)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the output folder's last/."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (overrides output_dir)."),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Start from a checkpoint's weights (folder, file in it or run folder; overrides init_from): "
        "fine-tuning with a new optimiser and schedule.",
    ),
) -> None:
    """Train a model; run under `torchrun --nproc-per-node N -m aegroup train ...` for several devices."""
    from aegroup.errors import AegroupError
    from aegroup.training import load_train_config
    from aegroup.training import train as run_training
    from aegroup.training.distributed import detect_env

    if init_from is not None and resume:
        raise AegroupError(
            "--init-from: cannot be combined with --resume, which continues from the run's last/"
        )
    cfg = load_train_config(config, list(overrides))
    if out is not None:
        cfg = cfg.model_copy(update={"output_dir": out.resolve()})
    if init_from is not None:
        cfg = cfg.model_copy(update={"init_from": init_from.resolve()})
    result = run_training(cfg, resume=resume)
    if not detect_env().is_main:  # under torchrun, one summary is enough
        return
    if result.metrics:
        typer.echo("best: " + "  ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    typer.echo(
        f"{result.steps} steps in {result.seconds:.1f} s ({result.images_per_s:.1f} images/s); "
        f"checkpoint: {result.checkpoint}"
    )
