"""Training, prediction and AP for the loop benchmark (`bench_loop.py`), and its settings.

Every training run goes through the real config path (a train.yaml, `load_train_config`, `train`);
fine-tuning runs can run side by side in separate processes (`jobs`), for a GPU with cores to spare.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from loop_data import LoopData, Split
from pydantic import BaseModel, ConfigDict, Field

from aegroup.eval import evaluate
from aegroup.io.atomic import atomic_write_text
from aegroup.io.jsonfile import read_json
from aegroup.io.results import load_results


class Settings(BaseModel):
    """Sizes of one benchmark run (a preset, then `--set` overrides)."""

    model_config = ConfigDict(extra="forbid")

    labelled: int = Field(50, ge=1, description="Labelled frames the weak model learns from.")
    pool: int = Field(300, ge=2, description="Unlabelled frames to pick corrections from.")
    test: int = Field(150, ge=1, description="Held-out frames AP is measured on.")
    budgets: tuple[float, ...] = Field((0.1, 0.2), description="Images to correct, as fractions of the pool.")
    weak_seeds: tuple[int, ...] = Field(
        (0, 1, 2),
        min_length=1,
        description="Training seeds of the weak models: one replica of the loop each.",
    )
    seeds: tuple[int, ...] = Field((1, 2, 3, 4), min_length=1, description="Seeds of the random picks.")
    tune_seeds: tuple[int, ...] = Field(
        (0,), min_length=1, description="Training seeds every fine-tune runs with."
    )
    weak_steps: int = Field(500, ge=1, description="Training steps of the weak model.")
    tune_steps: int = Field(150, ge=1, description="Fine-tuning steps after the corrections.")
    batch: int = Field(8, ge=1, description="Images per training step.")
    lr: float = Field(2e-3, gt=0, description="Peak learning rate of the weak model.")
    tune_lr: float = Field(1e-3, gt=0, description="Peak learning rate of the fine-tuning.")
    correction_weight: float = Field(1.0, gt=0, description="Sampling weight of the corrected images.")
    accept: float = Field(
        0.9, gt=0, le=1, description="OKS term at which the simulated person keeps a joint."
    )
    labels: Path | None = Field(None, description="Fly: labels of another video instead of the fly clip.")
    video: Path | None = Field(None, description="Fly: the video of `labels`, when not where they say.")
    split: int = Field(1000, ge=1, description="Fly: first frame of the pool and test (loop_data.py).")
    block: int = Field(30, ge=4, description="Fly: frames in each block of the pool, pool, test cycle.")
    fly_crop: int = Field(320, ge=64, description="Fly: side of the window cut around the animals (pixels).")
    fly_input: int = Field(160, ge=64, description="Fly: network input side.")
    synth_size: int = Field(128, ge=64, description="Synthetic: image side.")
    synth_input: int = Field(128, ge=64, description="Synthetic: network input side.")
    workers: int = Field(1, ge=0, description="Data-loading worker processes of each training run.")
    jobs: int = Field(1, ge=1, description="Fine-tuning runs side by side (processes).")
    device: str = Field("cpu", description="Training and prediction device.")
    seed: int = Field(0, description="Seed of the synthetic images.")


PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    # Long enough for the weak model's and the fine-tunes' training losses to level off (docs/performance.md).
    "cpu-long": {"weak_steps": 1500, "tune_steps": 300, "seeds": (1, 2, 3)},
    # One H200 and 16 cores: a larger pool, more seeds, four fine-tunes at a time.
    "gpu": {
        "pool": 400,
        "test": 200,
        "seeds": (1, 2, 3, 4, 5, 6),
        "tune_seeds": (0, 1),
        "weak_steps": 800,
        "tune_steps": 250,
        "batch": 16,
        "workers": 3,
        "jobs": 4,
        "device": "cuda",
    },
    "smoke": {
        "labelled": 6,
        "pool": 10,
        "test": 4,
        "budgets": (0.2, 0.4),
        "weak_seeds": (0,),
        "seeds": (1,),
        "weak_steps": 2,
        "tune_steps": 1,
        "batch": 2,
        "fly_crop": 256,
        "fly_input": 64,
        "synth_size": 64,
        "synth_input": 64,
        "workers": 0,
    },
}


def train_run(
    data: LoopData,
    sources: list[dict[str, Any]],
    out: Path,
    settings: Settings,
    steps: int,
    init_from: Path | None = None,
    seed: int = 0,
) -> Path:
    """Train through the real config path (train.yaml in `out`); returns the checkpoint to use."""
    from aegroup.training import load_train_config, train

    config = {
        "schema": str(data.schema_file),
        "train": sources,
        "init_from": None if init_from is None else str(init_from),
        "model": {"preset": "tiny"},
        "input_size": settings.fly_input if data.kind == "fly" else settings.synth_input,
        "batch_size": settings.batch,
        "max_steps": steps,
        "optim": {
            "lr": settings.tune_lr if init_from else settings.lr,
            "schedule": "cosine",
            "warmup_steps": min(50, steps // 10),
        },
        # The demo's settings for a tiny model (aegroup/demo.py says why).
        "loss": {"kind": "max", "push_weight": 1e-2, "pull_weight": 1e-2},
        "augment": _augment(data.kind),
        "decode": {"detection_threshold": 0.3, "use_detection_val": False},
        "workers": settings.workers,
        "device": settings.device,
        "seed": seed,
        "log_every": max(1, steps // 10),
        "checkpoint_every": steps,
        "output_dir": str(out),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "train.yaml", yaml.safe_dump(config, sort_keys=False))
    return train(load_train_config(out / "train.yaml")).checkpoint


def _augment(kind: str) -> dict[str, Any]:
    """Flies turn any way and have left/right pairs to flip; synthetic geckos tell sides by colour."""
    if kind == "fly":
        return {"rotation": 180.0, "flip_prob": 0.5, "scale_min": 0.8, "scale_max": 1.25}
    return {"flip_prob": 0.0}


def source(split: Split, weight: float = 1.0) -> dict[str, Any]:
    """A training source entry for a split."""
    return {"ann_file": str(split.ann_file), "image_dir": str(split.image_dir), "weight": weight}


def predict(checkpoint: Path, split: Split, out: Path, settings: Settings) -> Path:
    """Predict a split's images with candidates (a results file, as `aegroup predict --coco` writes it)."""
    from aegroup.predict import Predictor
    from aegroup.predict.files import image_list, run_prediction

    predictor = Predictor.from_checkpoint(checkpoint, device=settings.device)
    entries = image_list(predictor.schema, None, split.ann_file, split.image_dir)
    run_prediction(predictor, entries, out, batch_size=16, progress=False)
    return out


def held_out_ap(checkpoint: Path, data: LoopData, out: Path, settings: Settings) -> float:
    """COCO keypoint AP of a checkpoint on the held-out frames."""
    results = predict(checkpoint, data.splits["test"], out / "test-results.json", settings)
    return round(evaluate(data.splits["test"].ann_file, results)["AP"], 4)


def part_aps(data: LoopData, results: Path) -> dict[str, float]:
    """AP of a held-out results file on each part of the held-out frames (none when the data has no parts)."""
    if not data.parts:
        return {}
    truth = read_json(data.splits["test"].ann_file, "held-out frames")
    found = [a.model_dump(exclude_none=True) for a in load_results(results).annotations]
    aps = {}
    for part, ids in data.parts.items():
        subset = dict(
            truth,
            images=[im for im in truth["images"] if im["id"] in ids],
            annotations=[a for a in truth["annotations"] if a["image_id"] in ids],
        )
        picked = [a for a in found if a["image_id"] in ids]
        aps[part] = round(evaluate(subset, picked, data.schema_file)["AP"], 4)
    return aps


@dataclass(frozen=True)
class TuneJob:
    """One fine-tuning run: its training sources, folder and seed."""

    key: str
    sources: list[dict[str, Any]]
    folder: Path
    seed: int


def run_job(data: LoopData, weak: Path, job: TuneJob, settings: Settings) -> float:
    """Fine-tune the weak model as `job` says; its AP on the held-out frames."""
    checkpoint = train_run(data, job.sources, job.folder, settings, settings.tune_steps, weak, job.seed)
    return held_out_ap(checkpoint, data, job.folder, settings)


def run_jobs(data: LoopData, weak: Path, jobs: list[TuneJob], settings: Settings) -> dict[str, float]:
    """AP of every job: one after the other, or `settings.jobs` at a time in fresh processes."""
    if settings.jobs == 1:
        return {job.key: run_job(data, weak, job, settings) for job in jobs}
    # Fresh (spawned) processes: CUDA and the loaders' own worker processes start cleanly in each.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(settings.jobs, mp_context=context) as pool:
        futures = {job.key: pool.submit(run_job, data, weak, job, settings) for job in jobs}
        return {key: future.result() for key, future in futures.items()}
