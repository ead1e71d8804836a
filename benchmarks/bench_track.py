"""Tracking on a real labelled video: the `motion` tracker against the `iou` baseline on sleap/clip.slp.

The people-labelled poses of the 2-fly clip (tracks 'female' and 'male', 1,500 frames) are tracked with
their track ids removed and the instance order shuffled in every frame; then again with Gaussian jitter
on the joints, joints dropped and whole instances dropped. Prints identity switches, IDF1, MOTA and frames
per second of each tracker, with the ratio to the baseline measured in this run.
Usage: python benchmarks/bench_track.py [--data FOLDER] [--jitter PX] [--drop-joints F] [--drop-instances F]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses
from aegroup.io.poses import PoseSet
from aegroup.track import track_poses
from aegroup.track.metrics import TrackingScores, evaluate_tracking

BASELINE = "iou"
METHODS = ("motion", BASELINE)


@dataclass(frozen=True)
class Condition:
    """A way to spoil the labelled poses before tracking them."""

    name: str
    jitter: float = 0.0
    drop_joints: float = 0.0
    drop_instances: float = 0.0
    max_tracks: int | None = None


def default_data() -> Path:
    """$AEGROUP_TEST_DATA or ../shared/data beside the project."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("AEGROUP_TEST_DATA", default))


def spoil(truth: PoseSet, condition: Condition, seed: int) -> tuple[PoseSet, PoseSet]:
    """(input for the tracker, ground truth of the instances it keeps): instances dropped, the rest shuffled
    per frame, joints jittered and dropped, track ids removed."""
    rng = np.random.default_rng(seed)
    inputs, kept_truth = [], []
    for f in truth.frames:
        keep = np.flatnonzero(rng.random(f.num_instances) >= condition.drop_instances)
        order = keep[rng.permutation(len(keep))]
        kept = f.select(order)
        kp = kept.keypoints.copy()
        kp[..., :2] += rng.normal(0.0, condition.jitter, kp[..., :2].shape) if condition.jitter else 0.0
        lost = rng.random(kp.shape[:2]) < condition.drop_joints
        kp[lost] = (np.nan, np.nan, 0)
        inputs.append(replace(kept, keypoints=kp, track=np.full(len(order), -1)))
        kept_truth.append(kept)
    return replace(truth, frames=inputs, tracks=[]), replace(truth, frames=kept_truth)


def timed_tracking(poses: PoseSet, method: str, max_tracks: int | None, repeat: int) -> tuple[PoseSet, float]:
    """The tracked set and the fastest of `repeat` runs in seconds."""
    best, tracked = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        tracked = track_poses(poses, method, {"max_tracks": max_tracks})
        best = min(best, time.perf_counter() - start)
    assert tracked is not None
    return tracked.poses, best


def spoilt(condition: Condition) -> str:
    """What a condition does to the poses, in words."""
    return (
        f"jitter {condition.jitter:g} px, {condition.drop_joints:.0%} of joints and "
        f"{condition.drop_instances:.0%} of instances dropped, order shuffled"
    )


def ratio(value: float, base: float) -> str:
    """value / base, or n/a when the baseline is 0."""
    return f"{value / base:.2f}x" if base else "n/a"


def report(
    condition: Condition,
    scores: dict[str, TrackingScores],
    tracks: dict[str, int],
    seconds: dict[str, float],
    frames: int,
) -> None:
    """One line per tracker: switches, IDF1, MOTA (each with its ratio to the baseline), MOTP, tracks, fps."""
    base, base_fps = scores[BASELINE], frames / seconds[BASELINE]
    print(f"\n{condition.name}")
    for method in METHODS:
        s, fps = scores[method], frames / seconds[method]
        print(
            f"  {method:7s} switches {s.switches:4d} ({ratio(s.switches, base.switches)})"
            f"  IDF1 {s.idf1:.4f} ({ratio(s.idf1, base.idf1)})"
            f"  MOTA {s.mota:.4f} ({ratio(s.mota, base.mota)})"
            f"  MOTP {s.motp:.3f}  tracks {tracks[method]}"
            f"  {fps:7.0f} frames/s ({ratio(fps, base_fps)})"
        )


def main() -> int:
    """Run every condition for both trackers and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="Shared data folder (has sleap/).")
    parser.add_argument("--jitter", type=float, default=3.0, help="Gaussian noise on joints, pixels.")
    parser.add_argument("--drop-joints", type=float, default=0.2, help="Share of joints removed.")
    parser.add_argument("--drop-instances", type=float, default=0.05, help="Share of instances removed.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per tracker (fastest counts).")
    parser.add_argument(
        "--min-oks",
        type=float,
        default=0.25,
        help="OKS from which a tracked instance pairs with its truth (low: identity is the question here).",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = args.data / "sleap" / "clip.slp"
    try:
        truth = load_poses(path)
    except AegroupError as err:
        print(
            f"bench_track: cannot read {path} through aegroup.io.formats.load_poses: {err}", file=sys.stderr
        )
        return 2
    noisy = Condition("noisy", args.jitter, args.drop_joints, args.drop_instances)
    harsh = Condition("harsh", 2 * args.jitter, 2 * args.drop_joints, 4 * args.drop_instances)
    conditions = [
        Condition("clean: labelled poses, track ids removed, instance order shuffled per frame"),
        replace(noisy, name=f"noisy: {spoilt(noisy)}"),
        replace(harsh, name=f"harsh: {spoilt(harsh)}"),
        replace(harsh, name=f"harsh, --max-tracks 2: {spoilt(harsh)}", max_tracks=2),
    ]
    print(
        f"{path.name}: {len(truth)} frames, {truth.num_instances} instances, tracks {truth.tracks}; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, one process; "
        f"ratios to the '{BASELINE}' baseline of this run; paired with the truth at OKS >= {args.min_oks:g}"
    )
    for i, condition in enumerate(conditions):
        inputs, kept_truth = spoil(truth, condition, args.seed + i)
        scores, tracks, seconds = {}, {}, {}
        for method in METHODS:
            tracked, seconds[method] = timed_tracking(inputs, method, condition.max_tracks, args.repeat)
            scores[method] = evaluate_tracking(kept_truth, tracked, args.min_oks)
            tracks[method] = len(tracked.tracks)
        report(condition, scores, tracks, seconds, len(inputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
