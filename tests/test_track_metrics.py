"""Tracking metrics: exact agreement with py-motmetrics, OKS against the COCO formula written as loops."""

from __future__ import annotations

import math

import motmetrics as mm
import numpy as np
import pytest

from aegroup.io.poses import Frame, PoseSet, VideoRef
from aegroup.schema import load_schema
from aegroup.track.metrics import FramePairs, clear_mot, evaluate_tracking, oks

METRICS = ["num_switches", "idf1", "mota", "motp", "num_misses", "num_false_positives", "idtp"]
METRICS += ["precision", "recall"]


def random_frames(seed: int) -> list[FramePairs]:
    """A few frames of random ids and distances, about 40 % of the pairs refused."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(int(rng.integers(2, 12))):
        truth = rng.choice(5, int(rng.integers(1, 5)), replace=False)
        predicted = rng.choice(7, int(rng.integers(0, 5)), replace=False)
        distance = rng.random((len(truth), len(predicted)))
        distance[rng.random(distance.shape) < 0.4] = np.nan
        frames.append(FramePairs(truth, predicted, distance))
    return frames


def motmetrics_scores(frames: list[FramePairs]) -> list[float]:
    """The same figures computed by py-motmetrics."""
    acc = mm.MOTAccumulator(auto_id=True)
    for f in frames:
        acc.update(f.truth.tolist(), f.predicted.tolist(), f.distance)
    return [float(v) for v in mm.metrics.create().compute(acc, metrics=METRICS, name="x").iloc[0]]


@pytest.mark.parametrize("seed", range(60))
def test_clear_mot_and_idf1_agree_with_motmetrics(seed: int) -> None:
    frames = random_frames(seed)
    s = clear_mot(frames)
    ours = [s.switches, s.idf1, s.mota, s.motp, s.misses, s.false_positives, s.idtp, s.precision, s.recall]
    reference = motmetrics_scores(frames)
    for name, a, b in zip(METRICS, ours, reference, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12), name


def test_swap_counts_two_switches() -> None:
    close = np.array([[0.1, np.nan], [np.nan, 0.1]])
    swapped = np.array([[np.nan, 0.1], [0.1, np.nan]])
    ids = np.array([1, 2])
    frames = [FramePairs(ids, ids, close), FramePairs(ids, ids, swapped), FramePairs(ids, ids, swapped)]
    s = clear_mot(frames)
    assert (s.switches, s.misses, s.false_positives) == (2, 0, 0)
    assert s.mota == pytest.approx(1 - 2 / 6)
    assert s.idf1 == pytest.approx(2 * 4 / 12)
    assert s.switches == motmetrics_scores(frames)[0]


def oks_loop(truth: np.ndarray, predicted: np.ndarray, sigmas: list[float]) -> np.ndarray:
    """COCO's OKS: sum over the truth's labelled joints of exp(-d^2 / (2 area (2 sigma)^2)) / their count."""
    out = np.zeros((len(truth), len(predicted)))
    for g, gt in enumerate(truth):
        labelled = [k for k in range(len(sigmas)) if gt[k, 2] > 0]
        xs, ys = [gt[k, 0] for k in labelled], [gt[k, 1] for k in labelled]
        area = (max(xs) - min(xs)) * (max(ys) - min(ys)) + np.spacing(1)
        for p, pred in enumerate(predicted):
            total = 0.0
            for k in labelled:
                if pred[k, 2] > 0:
                    d2 = (gt[k, 0] - pred[k, 0]) ** 2 + (gt[k, 1] - pred[k, 1]) ** 2
                    total += math.exp(-d2 / (2 * area * (2 * sigmas[k]) ** 2))
            out[g, p] = total / len(labelled)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_oks_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sigmas = list(rng.uniform(0.02, 0.1, 6))
    truth = np.concatenate([rng.uniform(0, 80, (3, 6, 2)), np.full((3, 6, 1), 2.0)], axis=2)
    predicted = truth[rng.permutation(3)].copy()
    predicted[..., :2] += rng.normal(0, 3, (3, 6, 2))
    truth[0, :2, 2] = 0
    predicted[1, 3, 2] = 0
    predicted[predicted[..., 2] == 0, :2] = np.nan
    np.testing.assert_allclose(oks(truth, predicted, sigmas), oks_loop(truth, predicted, sigmas), atol=1e-12)


def test_evaluate_tracking_pairs_frames_by_video_and_number() -> None:
    schema = load_schema("coco17")
    rng = np.random.default_rng(0)
    base = np.concatenate([rng.uniform(0, 300, (2, 17, 2)), np.full((2, 17, 1), 2.0)], axis=2)
    base[1, :, :2] += 400
    truth_frames, pred_frames = [], []
    for t in range(4):
        truth_frames.append(Frame.build(t, 800, 800, base, track=[0, 1], video=0, frame_index=t))
        # The prediction swaps its two ids from frame 2 on and lists its frames backwards.
        ids = [5, 7] if t < 2 else [7, 5]
        pred_frames.insert(
            0, Frame.build(10 + t, 800, 800, base[::-1], track=ids[::-1], video=0, frame_index=t)
        )
    video = [VideoRef("v.mp4")]
    truth = PoseSet(schema, truth_frames, tracks=["a", "b"], videos=video)
    predicted = PoseSet(schema, pred_frames, tracks=[str(i) for i in range(8)], videos=video)
    s = evaluate_tracking(truth, predicted)
    assert (s.objects, s.matches, s.switches, s.misses, s.false_positives) == (8, 6, 2, 0, 0)
    assert s.motp == pytest.approx(0.0)
