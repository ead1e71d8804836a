"""The labelling loop, simulated: do corrections of the images the doubt ranking picks make a better model?

For each dataset (`fly`: the real 2-fly clip, a pool of frames all new to the weak model; `fly-video`: the
same clip, a pool from the whole video; `synth`: synthetic geckos; loop_data.py says how; `--labels` puts
the labels of your own video in place of the clip):
  1. train a weak model on a small labelled subset; measure its AP on held-out frames (AP before);
     predict the unlabelled pool (a results file) and open it as a labelling project;
  2. rank the pool: `doubt` (the companion's ranking, `aegroup.decode.doubt.image_doubt`), `tag` (the
     tag-only score the companion used before it, kept to show the change), `random` (several seeds) and
     `oracle` (worst true error first: the lowest image OKS of the predictions against the truth);
  3. for each budget, a simulated person corrects the first B images of each ranking in the project
     (`aegroup.eval.simulate`); the corrections are exported with `aegroup export --only edited`, and the
     weak model is fine-tuned (`init_from`) on two sources, the labelled subset and the corrections, then
     scored on the held-out frames. `none` fine-tunes on the labelled subset alone for as many steps, to
     tell the gain of the corrections from that of the extra steps.
Every fine-tune runs with each of `tune_seeds`; the random picks with each of `seeds` as well. The whole
loop (weak model, ranking, fine-tunes) is replicated once per `weak_seeds`, so that the difference between
doubt and random is measured in each replica, not only once.
Prints the tables and writes OUT/loop.json.

    python benchmarks/bench_loop.py                        # the three datasets, CPU sizes
    python benchmarks/bench_loop.py --dataset fly-video --preset cpu-long   # longer training (45 min)
    python benchmarks/bench_loop.py --gpu --out $OUT       # one GPU (the gpu preset)
    python benchmarks/bench_loop.py --preset smoke         # a few steps: checks the pipeline runs
    python benchmarks/bench_loop.py --dataset synth --set tune_steps=50 --rank-only
    python benchmarks/bench_loop.py --dataset fly-video --labels my.slp --set split=600 --set fly_crop=256
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
from loop_train import (
    PRESETS,
    Settings,
    TuneJob,
    held_out_ap,
    part_aps,
    predict,
    run_jobs,
    source,
    train_run,
)
from pydantic import ValidationError

from aegroup.decode.doubt import image_doubt, tag_doubt
from aegroup.errors import AegroupError
from aegroup.eval.oks import image_oks
from aegroup.eval.simulate import correct_image
from aegroup.io.atomic import atomic_write_json
from aegroup.io.coco import load_coco
from aegroup.io.export import export_file
from aegroup.io.project import Project, ProjectImage, save_project
from aegroup.io.provenance import JointOrigin
from aegroup.io.results import load_results
from aegroup.io.review import project_from_results
from aegroup.schema import load_schema

DATASETS = ("fly", "fly-video", "synth")
RANKED = ("doubt", "tag", "oracle")
"""The rankings besides the random ones, in table order."""


def truth_of(split: Split, schema_file: Path) -> dict[int, np.ndarray]:
    """Image id -> (M, K, 3) true x, y, v of a split."""
    coco = load_coco(split.ann_file, load_schema(schema_file))
    return {int(i): coco.keypoints(i)[0] for i in coco.image_ids}


def predictions(image: ProjectImage) -> dict[str, np.ndarray]:
    """A project image's predictions as the doubt functions take them: `keypoints` (N, K, 3) x, y, score
    (0 absent), `tags`, `refined` (N, K) and `instance_score` (N,)."""
    inst = image.instances
    kp = np.asarray(inst.keypoints)
    present = kp[:, :, 2] > 0
    return {
        "keypoints": np.dstack([kp[:, :, :2], np.nan_to_num(inst.scores, nan=0.0) * present]),
        "tags": np.asarray(inst.tags),
        "refined": np.asarray(inst.origin) == JointOrigin.REFINED,
        "instance_score": np.nan_to_num(inst.instance_score, nan=0.0),
    }


def most_first(values: dict[int, float]) -> list[int]:
    """Image ids by decreasing value (nan last; ties in id order)."""
    ids = sorted(values)
    keys = np.array([values[i] if np.isfinite(values[i]) else -np.inf for i in ids])
    return [ids[j] for j in np.argsort(-keys, kind="stable")]


def rankings(
    project: Project, error: dict[int, float], seeds: tuple[int, ...], replica: int
) -> dict[str, list[int]]:
    """Pool image ids in the order each strategy would correct them (`error`: the oracle's true error);
    the random orders are drawn from (`replica`, seed), so that each replica picks other random images."""
    doubt, tag = {}, {}
    for image in project.images:
        p = predictions(image)
        doubt[image.id] = image_doubt(p["keypoints"], p["tags"], p["refined"], p["instance_score"])
        tag[image.id] = tag_doubt(p["keypoints"][:, :, 2] > 0, p["tags"])
    ids = [image.id for image in project.images]
    out = {"doubt": most_first(doubt), "tag": most_first(tag), "oracle": most_first(error)}
    for seed in seeds:
        out[f"random-{seed}"] = [ids[j] for j in np.random.default_rng((replica, seed)).permutation(len(ids))]
    return out


def corrections(
    project: Project,
    chosen: list[int],
    truth: dict[int, np.ndarray],
    sigmas: np.ndarray,
    accept: float,
    out: Path,
) -> Path:
    """Correct the chosen images in a copy of the project, save it, export `--only edited` to COCO."""
    wanted = set(chosen)
    images = [
        correct_image(im, truth[im.id], sigmas, accept) if im.id in wanted else im for im in project.images
    ]
    path = save_project(out / "corrected.aeproj", project.model_copy(update={"images": images}))
    coco = out / "corrections.json"
    export_file(path, coco, only="edited")
    return coco


def run_dataset(
    name: str, settings: Settings, out: Path, echo: Callable[[str], None], rank_only: bool = False
) -> dict[str, Any]:
    """The whole loop on one dataset, once per weak seed (without fine-tuning when `rank_only`)."""
    start = time.perf_counter()
    sizes = {"labelled": settings.labelled, "pool": settings.pool, "test": settings.test}
    data = (
        synth_data(out / "data", sizes, settings.synth_size, settings.seed)
        if name == "synth"
        else fly_data(
            out / "data",
            sizes,
            settings.fly_crop,
            settings.split,
            settings.block,
            whole_video=name == "fly-video",
            labels=settings.labels,
            video=settings.video,
        )
    )
    replicas = [
        run_replica(data, seed, settings, out / f"weak-seed-{seed}", echo, rank_only)
        for seed in settings.weak_seeds
    ]
    return {
        "dataset": name,
        "images": sizes,
        "replicas": replicas,
        "seconds": round(time.perf_counter() - start, 1),
    }


def run_replica(
    data: LoopData, seed: int, settings: Settings, out: Path, echo: Callable[[str], None], rank_only: bool
) -> dict[str, Any]:
    """One replica of the loop: a weak model trained with `seed`, its pool ranked, corrected, fine-tuned."""
    start = time.perf_counter()
    pool = data.splits["pool"]
    weak = train_run(
        data, [source(data.splits["labelled"])], out / "weak", settings, settings.weak_steps, seed=seed
    )
    before = held_out_ap(weak, data, out / "weak", settings)
    echo(f"{data.name} (weak seed {seed}): AP before {before:.3f} ({time.perf_counter() - start:.0f} s)")
    results = predict(weak, pool, out / "pool-results.json", settings)
    project = project_from_results(load_results(results), str(pool.image_dir), str(results))
    save_project(out / "pool.aeproj", project)
    sigmas = np.asarray(load_schema(data.schema_file).oks_sigmas)
    truth = truth_of(pool, data.schema_file)
    error = {
        im.id: 1.0 - image_oks(predictions(im)["keypoints"], truth[im.id], sigmas) for im in project.images
    }
    orders = rankings(project, error, settings.seeds, seed)
    budgets = [max(1, round(f * len(project.images))) for f in settings.budgets]
    figures: dict[str, Any] = {
        "weak_seed": seed,
        "pool": len(project.images),
        "AP_before": before,
        # How bad the picked images' predictions are: mean (1 - image OKS) of the first B of each ranking.
        "picked_error": {
            f"{s}@{b}": round(float(np.mean([error[i] for i in order[:b]])), 4)
            for b in budgets
            for s, order in orders.items()
        },
        "runs": {},
    }
    # Where each run left its held-out results, for the AP on each part of the held-out frames.
    folders = {"before": out / "weak"}
    if not rank_only:
        jobs = tune_jobs(data, project, orders, budgets, truth, sigmas, settings, out)
        echo(f"{data.name} (weak seed {seed}): {len(jobs)} fine-tuning runs, {settings.jobs} at a time")
        aps = run_jobs(data, weak, jobs, settings)
        figures["runs"] = {job.key: aps[job.key] for job in jobs}
        folders |= {job.key: job.folder for job in jobs}
    if data.parts:
        figures["parts"] = {key: part_aps(data, path / "test-results.json") for key, path in folders.items()}
    figures["seconds"] = round(time.perf_counter() - start, 1)
    return figures


def tune_jobs(
    data: LoopData,
    project: Project,
    orders: dict[str, list[int]],
    budgets: list[int],
    truth: dict[int, np.ndarray],
    sigmas: np.ndarray,
    settings: Settings,
    out: Path,
) -> list[TuneJob]:
    """The fine-tuning runs: `none` and every ranking at every budget, each with every tune seed; each
    ranking's corrections exported once per budget. Keys: 'strategy@budget#seed'."""
    labelled, pool = source(data.splits["labelled"]), data.splits["pool"]
    jobs = [TuneJob(f"none@0#{s}", [labelled], out / f"tune-none-s{s}", s) for s in settings.tune_seeds]
    for budget in budgets:
        for strategy, order in orders.items():
            folder = out / f"corrections-{strategy}-{budget}"
            folder.mkdir(parents=True, exist_ok=True)
            fixes = corrections(project, order[:budget], truth, sigmas, settings.accept, folder)
            sources = [labelled, source(Split(fixes, pool.image_dir), settings.correction_weight)]
            for seed in settings.tune_seeds:
                key = f"{strategy}@{budget}#{seed}"
                jobs.append(TuneJob(key, sources, out / f"tune-{strategy}-{budget}-s{seed}", seed))
    return jobs


def _kind(strategy: str) -> str:
    """A strategy's kind: the random orders are one kind."""
    return "random" if strategy.startswith("random-") else strategy


def _runs(replica: dict[str, Any]) -> dict[tuple[str, int], list[float]]:
    """(kind, budget) -> the APs of a replica's fine-tunes."""
    by: dict[tuple[str, int], list[float]] = {}
    for key, ap in replica["runs"].items():
        strategy, rest = key.split("@")
        by.setdefault((_kind(strategy), int(rest.split("#")[0])), []).append(ap)
    return by


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per budget: each ranking's AP averaged over its runs in each replica, then over the replicas;
    random's sd over all its runs; for the doubt and tag rankings, their difference from random in each
    replica, how many replicas they beat random in, and the share of the random-to-oracle gap they close."""
    runs = [_runs(r) for r in result["replicas"]]
    means = [{key: float(np.mean(aps)) for key, aps in r.items()} for r in runs]
    rows = []
    for budget in sorted({b for r in runs for _, b in r if b}):
        mean = {kind: float(np.mean([m[(kind, budget)] for m in means])) for kind in (*RANKED, "random")}
        gap = mean["oracle"] - mean["random"]
        randoms = [ap for r in runs for ap in r[("random", budget)]]
        row: dict[str, Any] = {"budget": budget, **{k: round(v, 4) for k, v in mean.items()}}
        row["random_sd"] = round(float(np.std(randoms)), 4)
        row["random_runs"] = len(randoms)
        for kind in ("doubt", "tag"):
            each = [m[(kind, budget)] - m[("random", budget)] for m in means]
            row[f"{kind}_minus_random"] = round(float(np.mean(each)), 4)
            row[f"{kind}_minus_random_each"] = [round(d, 4) for d in each]
            row[f"{kind}_above_random"] = sum(d > 0 for d in each)
            row[f"{kind}_gap_closed"] = round((mean[kind] - mean["random"]) / gap, 2) if gap > 0 else None
        rows.append(row)
    return rows


def table(result: dict[str, Any]) -> str:
    """The figures of one dataset as text: AP after each ranking's corrections (when fine-tuned) and the
    true error of the images each ranking picks, averaged over the replicas."""
    replicas = result["replicas"]
    before = ", ".join(f"{r['AP_before']:.3f}" for r in replicas)
    seeds = ", ".join(str(r["weak_seed"]) for r in replicas)
    lines = [f"{result['dataset']}: weak seeds {seeds}; AP before {before}"]
    if replicas[0]["runs"]:
        none = [np.mean(r[("none", 0)]) for r in map(_runs, replicas)]
        lines += [
            f"fine-tuned without corrections: AP {np.mean(none):.3f}",
            "| budget | doubt | tag (before) | random (mean ± sd, runs) | oracle "
            "| doubt − random (each replica) | replicas doubt > random | gap closed |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in summary(result):
            closed = "–" if r["doubt_gap_closed"] is None else f"{r['doubt_gap_closed']:.2f}"
            each = ", ".join(f"{d:+.3f}" for d in r["doubt_minus_random_each"])
            lines.append(
                f"| {r['budget']} | {r['doubt']:.3f} | {r['tag']:.3f} | {r['random']:.3f} ± "
                f"{r['random_sd']:.3f}, {r['random_runs']} | {r['oracle']:.3f} | "
                f"{r['doubt_minus_random']:+.3f} ({each}) | {r['doubt_above_random']}/{len(replicas)} "
                f"| {closed} |"
            )
    lines += part_lines(replicas)
    picked: dict[tuple[str, int], list[float]] = {}
    for r in replicas:
        for key, value in r["picked_error"].items():
            strategy, budget = key.split("@")
            picked.setdefault((_kind(strategy), int(budget)), []).append(value)
    for budget in sorted({b for _, b in picked}):
        named = [f"{k} {np.mean(v):.3f}" for (k, b), v in picked.items() if b == budget]
        lines.append(f"true error of the {budget} picked: {', '.join(named)}")
    return "\n".join(lines)


def part_lines(replicas: list[dict[str, Any]]) -> list[str]:
    """AP on each part of the held-out frames (when the data has parts), before and after each ranking's
    corrections: averaged over a replica's runs, then over the replicas."""
    if "parts" not in replicas[0]:
        return []
    names = list(replicas[0]["parts"]["before"])
    groups: dict[tuple[str, int], list[np.ndarray]] = {}
    for replica in replicas:
        own: dict[tuple[str, int], list[list[float]]] = {}
        for key, aps in replica["parts"].items():
            strategy, _, rest = key.partition("@")
            group = (_kind(strategy), int(rest.split("#")[0]) if rest else 0)
            own.setdefault(group, []).append([aps[name] for name in names])
        for group, rows in own.items():
            groups.setdefault(group, []).append(np.mean(rows, axis=0))

    def ap(kind: str, budget: int) -> str:
        return " / ".join(f"{v:.3f}" for v in np.mean(groups[(kind, budget)], axis=0))

    lines = [f"AP on the held-out {' / '.join(names)} frames: before {ap('before', 0)}"]
    if ("none", 0) in groups:
        lines[0] += f", fine-tuned without corrections {ap('none', 0)}"
    for budget in sorted({b for _, b in groups if b}):
        kinds = [kind for kind in (*RANKED, "random") if (kind, budget) in groups]
        lines.append(f"  after {budget} corrections: " + ", ".join(f"{k} {ap(k, budget)}" for k in kinds))
    return lines


def parse_settings(args: argparse.Namespace) -> Settings:
    """The preset with `--set` overrides and `--device`, `--labels`, `--video` applied."""
    fields = dict(PRESETS[args.preset])
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep:
            raise AegroupError(f"--set: expected FIELD=VALUE, got '{pair}'")
        fields[name.strip()] = yaml.safe_load(value)
    for name in ("device", "labels", "video"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
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
    parser.add_argument("--dataset", choices=(*DATASETS, "all"), default="all")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--gpu", action="store_true", help="the gpu preset (same as --preset gpu)")
    parser.add_argument("--device", help="override the preset's device (e.g. cpu to try the gpu preset)")
    parser.add_argument("--labels", type=Path, help="fly datasets: labels of your own video (any format)")
    parser.add_argument("--video", type=Path, help="the video of --labels, when not where the labels say")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override a setting"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-loop"), help="working folder; gets loop.json")
    parser.add_argument(
        "--rank-only", action="store_true", help="stop after ranking the pool (how bad the picked images are)"
    )
    args = parser.parse_args(argv)
    if args.gpu:
        args.preset = "gpu"
    started = time.perf_counter()
    try:
        settings = parse_settings(args)
        names = DATASETS if args.dataset == "all" else (args.dataset,)
        figures: dict[str, Any] = {
            "preset": args.preset,
            "settings": settings.model_dump(mode="json"),
            "machine": f"{platform.machine()} {platform.processor()}, python {platform.python_version()}",
            "datasets": {},
        }
        for name in names:
            result = run_dataset(
                name, settings, args.out / name, lambda x: print(x, flush=True), args.rank_only
            )
            result["summary"] = summary(result) if result["replicas"][0]["runs"] else []
            figures["datasets"][name] = result
            figures["seconds"] = round(time.perf_counter() - started, 1)
            atomic_write_json(args.out / "loop.json", figures, indent=2)
            print(table(result), flush=True)
    except AegroupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'loop.json'} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
