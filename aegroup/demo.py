"""The end-to-end demo: synthesise a custom skeleton's data, train the tiny model, predict, evaluate, report.

Everything lands in one folder: `data/` (synthetic train and val splits), `train/` (checkpoints, logs,
resolved config), `results-<grouper>.json` per grouper and `metrics.json` (AP table per grouper, train
time, throughput), plus the command that opens the predictions in the labelling GUI.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_json, atomic_write_text
from aegroup.schema import PoseSchema, load_schema

EXAMPLE_SCHEMA = Path(__file__).resolve().parents[1] / "examples" / "skeletons" / "gecko.yaml"
GROUPERS = ("hungarian", "greedy")


class DemoSettings(BaseModel):
    """Sizes of the demo run; the defaults train for a few minutes on a 2-core CPU (see README)."""

    model_config = ConfigDict(extra="forbid")

    out: Path = Field(default=Path("demo-output"), description="Folder for everything the demo writes.")
    schema_path: Path | None = Field(
        default=None, description="Skeleton YAML (default: examples/skeletons/gecko.yaml)."
    )
    train_images: int = Field(default=800, ge=1, description="Synthetic training images.")
    val_images: int = Field(default=60, ge=1, description="Synthetic validation images.")
    image_size: int = Field(default=128, ge=32, description="Side of the synthetic images in pixels.")
    max_instances: int = Field(default=3, ge=1, description="Instances per synthetic image, at most.")
    instance_scale: tuple[float, float] = Field(
        default=(0.35, 0.7), description="Instance extent range, as a fraction of the image side."
    )
    spacing: float = Field(
        default=0.8,
        ge=0,
        description="Least distance between instance centres, as a fraction of an instance's extent.",
    )
    input_size: int = Field(default=128, ge=64, description="Network input side in pixels.")
    steps: int = Field(default=1200, ge=1, description="Optimiser steps of the tiny model.")
    batch_size: int = Field(default=16, ge=1, description="Images per step.")
    lr: float = Field(default=2e-3, gt=0, description="Peak Adam learning rate (cosine decay).")
    tag_weight: float = Field(default=1e-2, gt=0, description="Weight of the push and pull tag losses.")
    workers: int = Field(
        default_factory=lambda: min(4, max(1, (os.cpu_count() or 2) - 1)),
        ge=0,
        description="Data-loading worker processes (default: one per core but one, from 1 to 4).",
    )
    device: str = Field(default="auto", description="'auto' (CUDA when present), 'cpu' or 'cuda:N'.")
    seed: int = Field(default=0, description="Seeds the synthetic data and the training.")


def demo_schema(settings: DemoSettings) -> PoseSchema:
    """The demo's skeleton: the given YAML, else the gecko shipped in examples/."""
    path = settings.schema_path or EXAMPLE_SCHEMA
    if settings.schema_path is None and not path.is_file():
        raise AegroupError(
            f"{path}: the example skeleton is missing (installed without the source tree?); "
            "pass --schema PATH to a skeleton YAML"
        )
    return load_schema(path)


def make_data(settings: DemoSettings, schema: PoseSchema) -> dict[str, Path]:
    """Synthesise the train and val splits (different seeds) under out/data; returns their JSON files."""
    from aegroup.synth import synthesize

    size = (settings.image_size, settings.image_size)
    splits = {
        "train": (settings.train_images, settings.seed),
        "val": (settings.val_images, settings.seed + 1),
    }
    return {
        # Flip augmentation is off (see train_config), so the clearer colour side cue is consistent.
        name: synthesize(
            schema,
            settings.out / "data" / name,
            n,
            settings.max_instances,
            size,
            seed,
            min_instances=1,
            instance_scale=settings.instance_scale,
            side_cue="colour",
            spacing=settings.spacing,
        )
        for name, (n, seed) in splits.items()
    }


def train_config(settings: DemoSettings) -> dict[str, Any]:
    """The training configuration the demo runs, saved as out/train.yaml (paths relative to that folder)."""
    steps_per_epoch = max(1, settings.train_images // settings.batch_size)
    epochs = max(1, -(-settings.steps // steps_per_epoch))
    return {
        "schema": "skeleton.yaml",
        "train": {"ann_file": "data/train/annotations.json", "image_dir": "data/train/images"},
        "val": {"ann_file": "data/val/annotations.json", "image_dir": "data/val/images"},
        "model": {"preset": "tiny"},
        "input_size": settings.input_size,
        "batch_size": settings.batch_size,
        "max_steps": settings.steps,
        # Validate about four times: enough to keep the best checkpoint without slowing training much.
        "val_every": max(1, epochs // 4),
        "optim": {"lr": settings.lr, "schedule": "cosine", "warmup_steps": min(50, settings.steps // 10)},
        # Tags start out nearly equal, where the paper's exp push has almost no gradient; the hinge push
        # ("max") and 10x the paper's tag weights separate instances within a few hundred steps.
        "loss": {"kind": "max", "push_weight": settings.tag_weight, "pull_weight": settings.tag_weight},
        # Synthetic geckos are never mirrored and the demo draws left and right feet in different colours
        # (side_cue="colour"), which a flip would contradict; with flip augmentation only the tiny side
        # dot (1 px at this size) told them apart, and left/right confusions were the largest error.
        "augment": {"flip_prob": 0.0},
        # A tiny model trained for minutes leaves weak spurious peaks (each starts a fragment instance)
        # and tags whose instances sit about 1 apart, where the references' rounded tag distance hides
        # most differences: threshold 0.3 and the raw distance gave +0.13 AP on a 1000-step model.
        "decode": {"detection_threshold": 0.3, "use_detection_val": False},
        "workers": settings.workers,
        "device": settings.device,
        "seed": settings.seed,
        "output_dir": "train",
    }


DEMO_FILES = ("skeleton.yaml", "train.yaml", "data", "train", "metrics.json")


def prepare_output(out: Path, echo: Callable[[str], None]) -> None:
    """Create the output folder; a previous demo's output there is replaced, anything else is refused."""
    if out.exists() and not out.is_dir():
        raise AegroupError(f"{out}: --out must be a folder, not a file")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "train.yaml").is_file() or not (out / "skeleton.yaml").is_file():
            raise AegroupError(
                f"{out}: folder exists and is not a previous demo output; choose another --out"
            )
        echo(f"replacing the previous demo output in {out}")
        for name in DEMO_FILES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for old in out.glob("results-*.json"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)


def run_demo(settings: DemoSettings, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole demo and write out/metrics.json; returns the metrics written."""
    import yaml

    from aegroup.training import load_train_config, train

    start = time.perf_counter()
    out = settings.out
    schema = demo_schema(settings)
    prepare_output(out, echo)
    atomic_write_text(out / "skeleton.yaml", schema.to_yaml())
    echo(f"synthesising {settings.train_images} train + {settings.val_images} val images of '{schema.name}'")
    data = make_data(settings, schema)
    atomic_write_text(out / "train.yaml", yaml.safe_dump(train_config(settings), sort_keys=False))
    result = train(load_train_config(out / "train.yaml"))
    per_grouper = {m: predict_and_evaluate(result.checkpoint, data["val"], out, m) for m in GROUPERS}
    label = label_command(data["val"].parent / "images", out / "results-hungarian.json")
    metrics = {
        "schema": schema.name,
        "train_images": settings.train_images,
        "val_images": settings.val_images,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "train_images_per_s": round(result.images_per_s, 1),
        "checkpoint": str(result.checkpoint),
        "device": settings.device if settings.device != "auto" else auto_device(),
        "groupers": per_grouper,
        "total_seconds": round(time.perf_counter() - start, 1),
        "label_command": label,
    }
    atomic_write_json(out / "metrics.json", metrics, indent=2)
    return metrics


def predict_and_evaluate(checkpoint: Path, gt: Path, out: Path, method: str) -> dict[str, Any]:
    """Predict the val split with one grouper, write results-<method>.json, return its AP and speed."""
    from aegroup.eval import evaluate
    from aegroup.predict import Predictor
    from aegroup.predict.files import image_list, run_prediction

    predictor = Predictor.from_checkpoint(checkpoint, method=method)
    entries = image_list(predictor.schema, None, gt, gt.parent / "images")
    results = out / f"results-{method}.json"
    summary = run_prediction(predictor, entries, results, candidates=True, progress=False)
    scores = evaluate(gt, results, predictor.schema)
    return {
        "results": str(results),
        "metrics": {k: round(v, 4) for k, v in scores.items()},
        "predict_images_per_s": round(summary.images_per_s, 1),
    }


def auto_device() -> str:
    """What device 'auto' picked: 'cuda' when a GPU is usable, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def label_command(images: Path, results: Path) -> str:
    """The shell command that opens the demo's predictions in the labelling GUI."""
    return shlex.join(["aegroup", "label", "--images", str(images), "--results", str(results)])
