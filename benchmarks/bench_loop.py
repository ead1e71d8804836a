"""The labelling loop, simulated: do corrections of the images the doubt ranking picks make a better model?

For each dataset (`fly`: the real 2-fly clip; `synth`: synthetic geckos, see loop_data.py):
  1. train a weak model on a small labelled subset; predict the unlabelled pool (a results file, then a
     labelling project, as `aegroup label` opens it) and the held-out test frames (AP before);
  2. pick a budget of B pool images to correct, (a) by the doubt ranking, (b) at random (several seeds),
     (c) by the worst true error (oracle: the lowest image OKS of the predictions against the truth), and
     have a simulated person correct them to the true labels in the project (`aegroup.eval.simulate`);
  3. export the corrections (`aegroup export --only edited`), fine-tune the weak model on the labelled
     subset + the corrections (two training sources, `init_from` the weak model) and measure AP on the
     test frames. `none` fine-tunes on the labelled subset alone for as many steps, to tell the gain of the
     corrections from that of the extra steps.
Prints a table and writes OUT/loop.json. Every fine-tune uses the same seed: runs differ by their data only.

    python benchmarks/bench_loop.py                        # both datasets, CPU sizes (about 40 min each)
    python benchmarks/bench_loop.py --gpu --out $OUT       # one GPU, minutes
    python benchmarks/bench_loop.py --preset smoke         # a few steps: checks the pipeline runs
    python benchmarks/bench_loop.py --set tune_steps=50 --dataset synth
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from loop_data import LoopData, Split, fly_data, synth_data
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aegroup.decode.doubt import tag_doubt
from aegroup.errors import AegroupError
from aegroup.eval import evaluate
from aegroup.eval.oks import image_oks
from aegroup.eval.simulate import correct_image
from aegroup.io.atomic import atomic_write_json, atomic_write_text
from aegroup.io.coco import load_coco
from aegroup.io.export import export_file
from aegroup.io.project import Project, ProjectImage, save_project
from aegroup.io.results import load_results
from aegroup.io.review import project_from_results
from aegroup.schema import load_schema


class Settings(BaseModel):
    """Sizes of one benchmark run (a preset, then `--set` overrides)."""

    model_config = ConfigDict(extra="forbid")

    labelled: int = Field(50, ge=1, description="Labelled frames the weak model learns from.")
    pool: int = Field(300, ge=2, description="Unlabelled frames to pick corrections from.")
    test: int = Field(150, ge=1, description="Held-out frames AP is measured on.")
    budgets: tuple[float, ...] = Field((0.1, 0.2), description="Images to correct, as fractions of the pool.")
    seeds: tuple[int, ...] = Field((1, 2, 3), description="Seeds of the random picks.")
    weak_steps: int = Field(500, ge=1, description="Training steps of the weak model.")
    tune_steps: int = Field(150, ge=1, description="Fine-tuning steps after the corrections.")
    batch: int = Field(8, ge=1, description="Images per training step.")
    lr: float = Field(2e-3, gt=0, description="Peak learning rate of the weak model.")
    tune_lr: float = Field(1e-3, gt=0, description="Peak learning rate of the fine-tuning.")
    correction_weight: float = Field(1.0, gt=0, description="Sampling weight of the corrected images.")
    accept: float = Field(
        0.9, gt=0, le=1, description="OKS term at which the simulated person keeps a joint."
    )
    fly_crop: int = Field(320, ge=64, description="Fly: side of the window cut around both flies (pixels).")
    fly_input: int = Field(160, ge=64, description="Fly: network input side.")
    synth_size: int = Field(128, ge=64, description="Synthetic: image side.")
    synth_input: int = Field(128, ge=64, description="Synthetic: network input side.")
    workers: int = Field(1, ge=0, description="Data-loading worker processes.")
    device: str = Field("cpu", description="Training and prediction device.")
    seed: int = Field(0, description="Seed of every training run.")


PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "gpu": {
        "pool": 400,
        "test": 200,
        "weak_steps": 1500,
        "tune_steps": 400,
        "batch": 32,
        "seeds": (1, 2, 3, 4, 5),
        "fly_input": 320,
        "synth_input": 128,
        "workers": 6,
        "device": "cuda",
    },
    "smoke": {
        "labelled": 6,
        "pool": 10,
        "test": 4,
        "budgets": (0.2, 0.4),
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
) -> Path:
    """Train through the real config path (train.yaml in `out`); returns the checkpoint to use."""
    from aegroup.training import load_train_config, train

    config = {
        "schema": str(data.schema_file),
        "train": sources,
        "init_from": None if init_from is None else str(init_from),
        "model": {"preset": "tiny"},
        "input_size": settings.fly_input if data.name == "fly" else settings.synth_input,
        "batch_size": settings.batch,
        "max_steps": steps,
        "optim": {
            "lr": settings.tune_lr if init_from else settings.lr,
            "schedule": "cosine",
            "warmup_steps": min(50, steps // 10),
        },
        # The demo's settings for a tiny model (aegroup/demo.py says why).
        "loss": {"kind": "max", "push_weight": 1e-2, "pull_weight": 1e-2},
        "augment": _augment(data.name),
        "decode": {"detection_threshold": 0.3, "use_detection_val": False},
        "workers": settings.workers,
        "device": settings.device,
        "seed": settings.seed,
        "log_every": max(1, steps // 10),
        "checkpoint_every": steps,
        "output_dir": str(out),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "train.yaml", yaml.safe_dump(config, sort_keys=False))
    return train(load_train_config(out / "train.yaml")).checkpoint


def _augment(name: str) -> dict[str, Any]:
    """Flies turn any way and have left/right pairs to flip; synthetic geckos tell sides by colour."""
    if name == "fly":
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


def test_ap(checkpoint: Path, data: LoopData, out: Path, settings: Settings) -> float:
    """COCO keypoint AP of a checkpoint on the held-out frames."""
    results = predict(checkpoint, data.splits["test"], out / "test-results.json", settings)
    return round(evaluate(data.splits["test"].ann_file, results)["AP"], 4)


def truth_of(split: Split, schema_file: Path) -> dict[int, np.ndarray]:
    """Image id -> (M, K, 3) true x, y, v of a split."""
    coco = load_coco(split.ann_file, load_schema(schema_file))
    return {int(i): coco.keypoints(i)[0] for i in coco.image_ids}


def image_arrays(image: ProjectImage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, K) present, (N, K, D) tags and (N, K, 3) x, y, score of a project image's predictions."""
    inst = image.instances
    present = np.asarray(inst.keypoints)[:, :, 2] > 0
    scored = np.dstack([np.asarray(inst.keypoints)[:, :, :2], np.nan_to_num(inst.scores, nan=0.0) * present])
    return present, np.asarray(inst.tags), scored


def most_first(values: dict[int, float]) -> list[int]:
    """Image ids by decreasing value (nan last; ties in id order)."""
    ids = sorted(values)
    keys = np.array([values[i] if np.isfinite(values[i]) else -np.inf for i in ids])
    return [ids[j] for j in np.argsort(-keys, kind="stable")]


def rankings(
    project: Project, truth: dict[int, np.ndarray], sigmas: np.ndarray, seeds: tuple[int, ...]
) -> dict[str, list[int]]:
    """Pool image ids in the order each strategy would correct them."""
    doubt, error = {}, {}
    for image in project.images:
        present, tags, scored = image_arrays(image)
        doubt[image.id] = tag_doubt(present, tags)
        error[image.id] = 1.0 - image_oks(scored, truth[image.id], sigmas)
    ids = [image.id for image in project.images]
    out = {"doubt": most_first(doubt), "oracle": most_first(error)}
    for seed in seeds:
        out[f"random-{seed}"] = [ids[j] for j in np.random.default_rng(seed).permutation(len(ids))]
    return out


def corrections(
    project: Project,
    chosen: list[int],
    truth: dict[int, np.ndarray],
    sigmas: np.ndarray,
    settings: Settings,
    out: Path,
) -> Path:
    """Correct the chosen images in a copy of the project, save it, export `--only edited` to COCO."""
    wanted = set(chosen)
    images = [
        correct_image(im, truth[im.id], sigmas, settings.accept) if im.id in wanted else im
        for im in project.images
    ]
    path = save_project(out / "corrected.aeproj", project.model_copy(update={"images": images}))
    coco = out / "corrections.json"
    export_file(path, coco, only="edited")
    return coco


def run_dataset(name: str, settings: Settings, out: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    """The whole loop on one dataset; returns its figures."""
    start = time.perf_counter()
    sizes = {"labelled": settings.labelled, "pool": settings.pool, "test": settings.test}
    data = (
        fly_data(out / "data", sizes, settings.fly_crop)
        if name == "fly"
        else synth_data(out / "data", sizes, settings.synth_size, settings.seed)
    )
    labelled, pool = data.splits["labelled"], data.splits["pool"]
    weak = train_run(data, [source(labelled)], out / "weak", settings, settings.weak_steps)
    before = test_ap(weak, data, out / "weak", settings)
    echo(f"{name}: weak model AP {before:.3f} ({time.perf_counter() - start:.0f} s)")
    results = predict(weak, pool, out / "pool-results.json", settings)
    project = project_from_results(load_results(results), str(pool.image_dir), str(results))
    save_project(out / "pool.aeproj", project)
    schema = load_schema(data.schema_file)
    sigmas = np.asarray(schema.oks_sigmas)
    truth = truth_of(pool, data.schema_file)
    orders = rankings(project, truth, sigmas, settings.seeds)
    runs: dict[str, Any] = {}
    tune = out / "tune-none"
    runs["none"] = {
        "budget": 0,
        "AP": test_ap(
            train_run(data, [source(labelled)], tune, settings, settings.tune_steps, weak),
            data,
            tune,
            settings,
        ),
    }
    for fraction in settings.budgets:
        budget = max(1, round(fraction * len(project.images)))
        for strategy, order in orders.items():
            key = f"{strategy}@{budget}"
            folder = out / f"tune-{strategy}-{budget}"
            folder.mkdir(parents=True, exist_ok=True)
            fixes = corrections(project, order[:budget], truth, sigmas, settings, folder)
            sources = [
                source(labelled),
                {**source(Split(fixes, pool.image_dir)), "weight": settings.correction_weight},
            ]
            ap = test_ap(
                train_run(data, sources, folder, settings, settings.tune_steps, weak), data, folder, settings
            )
            runs[key] = {"strategy": strategy, "budget": budget, "AP": ap}
            echo(f"{name}: {key} AP {ap:.3f} ({time.perf_counter() - start:.0f} s)")
    return {
        "dataset": name,
        "images": sizes,
        "AP_before": before,
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
    }


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per budget: AP of doubt, random (mean, sd, each seed), oracle, and the share of the random-to-oracle
    gap the doubt ranking closes."""
    rows = []
    for budget in sorted({r["budget"] for r in result["runs"].values() if r["budget"]}):
        at = {r["strategy"]: r["AP"] for r in result["runs"].values() if r["budget"] == budget}
        randoms = [ap for s, ap in at.items() if s.startswith("random-")]
        mean = float(np.mean(randoms))
        gap = at["oracle"] - mean
        rows.append(
            {
                "budget": budget,
                "doubt": at["doubt"],
                "random_mean": round(mean, 4),
                "random_sd": round(float(np.std(randoms)), 4),
                "random": randoms,
                "oracle": at["oracle"],
                "doubt_minus_random": round(at["doubt"] - mean, 4),
                "gap_closed": round((at["doubt"] - mean) / gap, 2) if gap > 0 else None,
            }
        )
    return rows


def table(result: dict[str, Any]) -> str:
    """The figures of one dataset as a markdown table."""
    lines = [
        f"{result['dataset']}: AP before {result['AP_before']:.3f}; fine-tuned without corrections "
        f"{result['runs']['none']['AP']:.3f}",
        "| budget | doubt | random (mean ± sd) | oracle | doubt − random | gap closed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary(result):
        closed = "–" if row["gap_closed"] is None else f"{row['gap_closed']:.2f}"
        lines.append(
            f"| {row['budget']} | {row['doubt']:.3f} | {row['random_mean']:.3f} ± {row['random_sd']:.3f} | "
            f"{row['oracle']:.3f} | {row['doubt_minus_random']:+.3f} | {closed} |"
        )
    return "\n".join(lines)


def parse_settings(args: argparse.Namespace) -> Settings:
    """The preset with `--set` overrides and `--device` applied."""
    fields = dict(PRESETS[args.preset])
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep:
            raise AegroupError(f"--set: expected FIELD=VALUE, got '{pair}'")
        fields[name.strip()] = yaml.safe_load(value)
    if args.device:
        fields["device"] = args.device
    try:
        return Settings.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        raise AegroupError(f"--set {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=("fly", "synth", "both"), default="both")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--gpu", action="store_true", help="the gpu preset (same as --preset gpu)")
    parser.add_argument("--device", help="override the preset's device (e.g. cpu to try the gpu preset)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override a setting"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-loop"), help="working folder; gets loop.json")
    args = parser.parse_args(argv)
    if args.gpu:
        args.preset = "gpu"
    try:
        settings = parse_settings(args)
        names = ("fly", "synth") if args.dataset == "both" else (args.dataset,)
        started = time.perf_counter()
        figures: dict[str, Any] = {
            "settings": settings.model_dump(mode="json"),
            "preset": args.preset,
            "machine": f"{platform.machine()} {platform.processor()}, python {platform.python_version()}",
            "datasets": {},
        }
        for name in names:
            result = run_dataset(name, settings, args.out / name, lambda line: print(line, flush=True))
            result["summary"] = summary(result)
            figures["datasets"][name] = result
            figures["seconds"] = round(time.perf_counter() - started, 1)
            atomic_write_json(args.out / "loop.json", figures, indent=2)
            print(table(result), flush=True)
    except AegroupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'loop.json'} ({figures['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
