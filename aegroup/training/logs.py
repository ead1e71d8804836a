"""What a run reports: a rich progress bar, CSV logs, TensorBoard events (when tensorboard is installed)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from aegroup.io.atomic import atomic_write_text

TRAIN_LOG = "train_log.csv"
VAL_LOG = "val_log.csv"
TRAIN_FIELDS = ("step", "epoch", "lr", "loss", "heatmap", "push", "pull", "images_per_s", "elapsed_s")
VAL_FIELDS = ("step", "epoch", "AP", "AP50", "AP75", "APm", "APl", "AR", "best_AP")


def truncate_log(path: Path, after_step: int) -> None:
    """Drop rows logged after `after_step` (by a run that was killed before its next checkpoint)."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        rows = [row for row in reader if int(float(row.get("step") or 0)) <= after_step]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


class CsvLog:
    """Append-only CSV file with a fixed header, flushed after each row."""

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        new = not path.is_file() or path.stat().st_size == 0
        self.handle = path.open("a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=fields, extrasaction="ignore")
        if new:
            self.writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing fields stay empty)."""
        self.writer.writerow({k: _fmt(v) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        """Close the file."""
        self.handle.close()


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def _tensorboard(folder: Path) -> Any:
    """A SummaryWriter when tensorboard is installed, else None (it is an optional extra)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


class RunLog:
    """Rank 0's progress bar, CSV logs and TensorBoard writer; every method is a no-op on other ranks."""

    def __init__(self, out_dir: Path, enabled: bool, total_steps: int, start_step: int) -> None:
        self.enabled = enabled
        if not enabled:
            return
        self.console = Console(stderr=True)
        self.train_csv = CsvLog(out_dir / TRAIN_LOG, TRAIN_FIELDS)
        self.val_csv = CsvLog(out_dir / VAL_LOG, VAL_FIELDS)
        self.tb = _tensorboard(out_dir / "tensorboard")
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            TextColumn("eta", table_column=Column(no_wrap=True)),
            TimeRemainingColumn(table_column=Column(no_wrap=True)),
            # Only the statistics wrap in a narrow terminal; the counts and times stay whole.
            TextColumn("{task.fields[stats]}", table_column=Column(ratio=1, overflow="fold")),
            console=self.console,
        )
        self.task = self.progress.add_task(
            "train", total=total_steps, completed=start_step, epoch=1, stats=""
        )
        self.progress.start()

    def step(self, row: dict[str, Any], write_row: bool) -> None:
        """Show a training step on the bar; also log it to CSV / TensorBoard when `write_row`."""
        if not self.enabled:
            return
        stats = (
            f"{row['images_per_s']:.1f} img/s loss {row['loss']:.3g} "
            f"(hm {row['heatmap']:.3g} push {row['push']:.2g} pull {row['pull']:.2g})"
        )
        epoch = max(math.ceil(row["epoch"]), 1)
        self.progress.update(self.task, completed=row["step"], epoch=epoch, stats=stats)
        if write_row:
            self.train_csv.write(row)
            if self.tb is not None:
                for key in ("loss", "heatmap", "push", "pull", "lr", "images_per_s"):
                    self.tb.add_scalar(f"train/{key}", row[key], row["step"])

    def validation(self, step: int, epoch: float, metrics: dict[str, float], best: float) -> None:
        """Print and log one validation result."""
        if not self.enabled:
            return
        self.val_csv.write({"step": step, "epoch": epoch, **metrics, "best_AP": best})
        table = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        self.progress.console.print(
            f"validation at step {step} (epoch {epoch:g}): {table}  best AP {best:.3f}"
        )
        if self.tb is not None:
            for key, value in metrics.items():
                self.tb.add_scalar(f"val/{key}", value, step)

    def message(self, text: str) -> None:
        """Print a line above the progress bar."""
        if self.enabled:
            self.progress.console.print(text)

    def close(self) -> None:
        """Stop the bar and close the files."""
        if not self.enabled:
            return
        self.progress.stop()
        self.train_csv.close()
        self.val_csv.close()
        if self.tb is not None:
            self.tb.close()
