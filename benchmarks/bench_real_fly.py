"""Real data, end to end: two flies of SLEAP's clip learned by the recipe in examples/sleap_flies/.

Trains the recipe on the clip's frames < 1200 within a time budget, predicts every frame >= 1200 on the
whole 1024 x 1024 frame at native scale, and scores it with `aegroup.evaluate` (COCO keypoint AP under the
fly skeleton's OKS sigma 0.025, SLEAP's, and under COCO's default 0.07) for both groupers. It prints AP,
AP50, AR, the training time and images/s, prediction images/s, the median joint error in pixels of the
instances matched to a labelled fly and the share of joints within 5 and 10 px, against the issue's
target (AP >= 0.7 on the held-out frames), and writes them to OUT/fly_benchmark.json and .txt.

The budget is met by a short calibration run (the same recipe for a few steps) that measures the
training steps per second; the real run then takes as many steps as fit into `--minutes`, so that its
learning-rate schedule runs to its end.

Usage:
  python benchmarks/bench_real_fly.py [--minutes 20] [--data DIR] [--out DIR] [--set FIELD=VALUE ...]
  python benchmarks/bench_real_fly.py --gpu --minutes 3.5 --out $OUT     # the full-resolution GPU recipe
DIR holds clip.slp and clip.mp4 (default: $AEGROUP_TEST_DATA/sleap, else ../shared/data/sleap beside the
project). `--gpu` trains the mid preset on 384 px native crops with bf16 on CUDA, with 8 loader workers.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aegroup.data.sources import LabelledFrames
from aegroup.decode import decode_batch, to_image
from aegroup.errors import AegroupError
from aegroup.eval import evaluate, joint_distances
from aegroup.geometry import invert_affine
from aegroup.io.results import instances_to_annotations
from aegroup.predict import Predictor
from aegroup.schema import PoseSchema
from aegroup.training import TrainConfig, load_train_config, train
from aegroup.training.config import SplitConfig
from aegroup.training.loaders import open_frames

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "sleap_flies" / "train.yaml"
SPLIT = 1200
"""Frames before this index train, the rest are held out."""
TARGET_AP = 0.7
"""The issue's target on the held-out frames."""
METHODS = ("hungarian", "greedy")
GPU_SETTINGS = [
    "model.preset=mid",
    "input_size=384",
    "batch_size=32",
    "mixed_precision=bf16",
    "workers=8",
    "device=cuda",
]
"""The full-resolution recipe on one GPU: the mid network, larger crops, bf16, enough loader workers."""


def default_labels() -> Path:
    """clip.slp in $AEGROUP_TEST_DATA/sleap, else in ../shared/data/sleap beside the project."""
    root = os.environ.get("AEGROUP_TEST_DATA")
    return (Path(root) if root else ROOT.parent / "shared" / "data") / "sleap" / "clip.slp"


@dataclass(frozen=True)
class Settings:
    """What one benchmark run does (the command line)."""

    labels: Path
    out: Path
    minutes: float
    split: int
    overrides: list[str]
    """Recipe fields set after the benchmark's own (`--gpu`'s first, then `--set`'s)."""
    calibration_steps: int = 40
    steps: int | None = None
    """A fixed number of training steps instead of the time budget (comparing recipes)."""
    limit: int | None = None
    """Score only the first this many held-out frames (quick tries)."""
    batch: int = 4


def recipe(settings: Settings, out: Path, steps: int, extra: Sequence[str] = ()) -> TrainConfig:
    """The example recipe with the run's overrides, on the labels' frames < split, for `steps` steps,
    without validation (the benchmark scores the held-out frames itself)."""
    overrides = [
        f"train.ann_file={settings.labels}",
        f"train.frames=[0, {settings.split}]",
        *settings.overrides,
        "val=null",
        f"max_steps={steps}",
        f"output_dir={out}",
        f"checkpoint_every={10**9}",
        *extra,
    ]
    return load_train_config(RECIPE, overrides)


def steps_per_second(run: Path) -> float:
    """Steps per second between the first and the last row of a run's train_log.csv (start-up excluded;
    from the start when the log has one row)."""
    with (run / "train_log.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    first = rows[0] if len(rows) > 1 else {"step": "0", "elapsed_s": "0"}
    last = rows[-1]
    return (int(last["step"]) - int(first["step"])) / (float(last["elapsed_s"]) - float(first["elapsed_s"]))


def budget_steps(settings: Settings) -> tuple[int, float | None]:
    """(steps that fit in the budget, measured steps/s) from a short calibration run of the recipe; the
    fixed `steps` (and no rate) when the settings give them."""
    if settings.steps is not None:
        return settings.steps, None
    probe = recipe(settings, settings.out / "calibrate", settings.calibration_steps, ["log_every=2"])
    train(probe)
    rate = steps_per_second(probe.output_dir)
    return max(2, int(settings.minutes * 60 * rate)), rate


def held_out(settings: Settings, config: TrainConfig, schema: PoseSchema) -> LabelledFrames:
    """The labelled frames >= split (what the benchmark predicts and scores)."""
    stop = None if settings.limit is None else settings.split + settings.limit
    return open_frames(
        SplitConfig(ann_file=settings.labels, frames=(settings.split, stop)), schema, config, "val"
    )


def predict(
    predictor: Predictor, frames: LabelledFrames, batch: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
    """Result dicts per grouper for every frame (one network pass, each grouper decodes it) and seconds
    spent reading frames, in the network and decoding per grouper."""
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in METHODS}
    seconds = dict.fromkeys(["read", "network", *METHODS], 0.0)
    for start in range(0, len(frames), batch):
        tick = time.perf_counter()
        indices = range(start, min(start + batch, len(frames)))
        images = [frames.pixels(i) for i in indices]
        seconds["read"] += time.perf_counter() - tick
        tick = time.perf_counter()
        heatmaps, tags, affines = predictor.maps(images)
        seconds["network"] += time.perf_counter() - tick
        for method in METHODS:
            tick = time.perf_counter()
            per_image = decode_batch(heatmaps, tags, predictor.schema, method, predictor.decode)
            for index, affine, instances in zip(indices, affines, per_image, strict=True):
                mapped = to_image(instances, invert_affine(affine), predictor.stride)
                results[method].extend(instances_to_annotations(frames.frame_ids[index], mapped))
            seconds[method] += time.perf_counter() - tick
    return results, seconds


def score(truth: dict[str, Any], results: list[dict[str, Any]], schema: PoseSchema) -> dict[str, float]:
    """AP, AP50, AR under the schema's sigmas and under COCO's 0.07, and the joint errors in pixels."""
    coco = schema.model_copy(update={"sigmas": [0.07] * schema.num_joints})
    primary = evaluate(truth, results, schema)
    loose = evaluate(truth, results, coco)
    errors = joint_distances(truth, results, schema)
    return {
        **{k: primary[k] for k in ("AP", "AP50", "AP75", "AR")},
        **{f"{k}@0.07": loose[k] for k in ("AP", "AP50", "AP75", "AR")},
        "median_error_px": errors.median(),
        "within_5px": errors.within(5),
        "within_10px": errors.within(10),
        "instances": float(len(results)),
        "missed_instances": float((~errors.matched).sum()),
    }


def sigma_text(schema: PoseSchema) -> str:
    """The schema's OKS sigmas in a few words."""
    sigmas = schema.oks_sigmas
    if len(set(sigmas)) == 1:
        return f"{sigmas[0]} for every joint" + (", as SLEAP's evaluation" if sigmas[0] == 0.025 else "")
    return ", ".join(f"{j} {s}" for j, s in zip(schema.joints, sigmas, strict=True))


def machine() -> str:
    """One line naming the device, the cores and how busy the machine was."""
    where = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    return (
        f"{where}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load average "
        f"{os.getloadavg()[0]:.1f}; {platform.platform()}; torch {torch.__version__}"
    )


def report(figures: dict[str, Any]) -> str:
    """The figures as the text the benchmark prints."""
    f = figures
    lines = [
        f"real fly benchmark, {f['date']}: {f['machine']}",
        f"recipe: {f['recipe']}",
        f"training: {f['steps']} steps x batch {f['batch']} of {f['input_size']} px crops in "
        f"{f['train_minutes']:.1f} min, {f['train_images_per_s']:.1f} images/s ("
        + (
            f"budget {f['budget_minutes']} min; calibrated {f['calibrated_steps_per_s']:.2f} steps/s)"
            if f["calibrated_steps_per_s"] is not None
            else "a fixed number of steps)"
        ),
        f"prediction: {f['frames']} held-out frames at input {f['predict_input']}: "
        f"{f['predict_images_per_s']:.2f} images/s (network + hungarian grouping; reading the frames from "
        f"the video took {f['seconds']['read']:.1f} s more)",
        "",
        f"{'grouper':10s} {'AP':>6s} {'AP50':>6s} {'AR':>6s} | {'AP@.07':>6s} {'AP50':>6s} {'AR':>6s} | "
        f"{'median px':>9s} {'<=5 px':>6s} {'<=10 px':>7s} {'missed':>6s} | target AP >= {TARGET_AP}",
    ]
    for method in METHODS:
        m = f["methods"][method]
        lines.append(
            f"{method:10s} {m['AP']:6.3f} {m['AP50']:6.3f} {m['AR']:6.3f} | {m['AP@0.07']:6.3f} "
            f"{m['AP50@0.07']:6.3f} {m['AR@0.07']:6.3f} | {m['median_error_px']:9.2f} {m['within_5px']:6.3f} "
            f"{m['within_10px']:7.3f} {int(m['missed_instances']):6d} | "
            f"{'met' if m['AP'] >= TARGET_AP else 'not met'} ({m['AP'] / TARGET_AP:.2f}x)"
        )
    lines += [
        "",
        f"AP: COCO keypoint AP with the skeleton's OKS sigmas ({f['sigmas']}); @.07: COCO's default 0.07 for "
        f"every joint. Held out: frames >= {f['split']}, {f['labelled_instances']} labelled flies; errors: "
        "their labelled joints against the prediction matched by OKS (missed: flies no prediction matched).",
        f"whole benchmark: {f['wall_minutes']:.1f} min wall",
    ]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> Settings:
    """The run's settings from the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="Training budget in minutes.")
    parser.add_argument("--labels", type=Path, default=default_labels(), help="The .slp (its video beside).")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "runs" / "bench_real_fly", help="New output folder."
    )
    parser.add_argument("--gpu", action="store_true", help="The full-resolution recipe on a CUDA GPU.")
    parser.add_argument("--split", type=int, default=SPLIT, help="First held-out frame index.")
    parser.add_argument("--limit", type=int, help="Score only the first N held-out frames (quick tries).")
    parser.add_argument("--batch", type=int, help="Frames per prediction batch (4 on a CPU, 16 with --gpu).")
    parser.add_argument("--calibration-steps", type=int, default=40, help="Steps of the calibration run.")
    parser.add_argument("--steps", type=int, help="Train this many steps instead of calibrating a budget.")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="Recipe FIELD=VALUE.")
    args = parser.parse_args(argv)
    if not args.labels.is_file():
        parser.error(f"{args.labels}: not found; pass --labels FILE or set AEGROUP_TEST_DATA")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out}: holds files already; choose a new or empty --out")
    return Settings(
        labels=args.labels,
        out=args.out,
        minutes=args.minutes,
        split=args.split,
        overrides=[*(GPU_SETTINGS if args.gpu else []), *args.overrides],
        calibration_steps=args.calibration_steps,
        steps=args.steps,
        limit=args.limit,
        batch=args.batch or (16 if args.gpu else 4),
    )


def run(settings: Settings) -> dict[str, Any]:
    """Calibrate, train, predict the held-out frames, score them; the figures."""
    started = time.perf_counter()
    steps, rate = budget_steps(settings)
    config = recipe(settings, settings.out / "train", steps)
    if settings.steps is None:
        print(f"calibrated {rate:.2f} steps/s: {steps} steps fit {settings.minutes} min", flush=True)
    result = train(config)
    predictor = Predictor.from_checkpoint(result.checkpoint, device=config.device)
    frames = held_out(settings, config, predictor.schema)
    truth = frames.ground_truth()
    with torch.inference_mode():
        results, seconds = predict(predictor, frames, settings.batch)
    return {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "recipe": " ".join([str(RECIPE.relative_to(ROOT)), *settings.overrides]),
        "preset": config.model.preset,
        "input_size": config.input_size,
        "steps": result.steps,
        "batch": config.batch_size,
        "budget_minutes": settings.minutes,
        "calibrated_steps_per_s": rate,
        "train_minutes": result.seconds / 60,
        "train_images_per_s": result.images_per_s,
        "frames": len(frames),
        "labelled_instances": len(truth["annotations"]),
        "predict_input": predictor.input_size,
        "predict_images_per_s": len(frames) / (seconds["network"] + seconds["hungarian"]),
        "seconds": seconds,
        "sigmas": sigma_text(predictor.schema),
        "split": settings.split,
        "methods": {m: score(truth, results[m], predictor.schema) for m in METHODS},
        "wall_minutes": (time.perf_counter() - started) / 60,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the figures and write them to OUT/fly_benchmark.json and .txt."""
    settings = parse(argv)
    try:
        figures = run(settings)
    except AegroupError as err:
        raise SystemExit(f"error: {err}") from None
    text = report(figures)
    print(text)
    settings.out.mkdir(parents=True, exist_ok=True)
    (settings.out / "fly_benchmark.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    (settings.out / "fly_benchmark.txt").write_text(text + "\n", encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
