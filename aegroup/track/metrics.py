"""Tracking metrics against ground truth: identity switches and MOTA/MOTP (CLEAR MOT, Bernardin and
Stiefelhagen 2008), IDF1 (Ristani et al. 2016), precision and recall; instances paired per frame by OKS.

The CLEAR MOT pairing follows py-motmetrics: a pairing kept from earlier frames stays while its distance
is allowed, the rest are paired for the most pairs at the least total distance, and a ground-truth track
paired with another predicted track than before is a switch. The tests check agreement with py-motmetrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import count

import numpy as np
from scipy.optimize import linear_sum_assignment

from aegroup.io.poses import Frame, PoseSet


@dataclass(frozen=True)
class FramePairs:
    """One frame for the metrics: ground-truth ids (G,), predicted ids (P,) and the (G, P) distance, NaN
    where the two may not be paired."""

    truth: np.ndarray
    predicted: np.ndarray
    distance: np.ndarray


@dataclass(frozen=True)
class TrackingScores:
    """Counts and scores of a tracked sequence against ground truth (MOTP: mean distance of the pairs)."""

    objects: int
    predictions: int
    matches: int
    switches: int
    misses: int
    false_positives: int
    idtp: int
    distance: float

    @property
    def mota(self) -> float:
        """1 - (misses + false positives + switches) / ground-truth instances (NaN without any)."""
        errors = self.misses + self.false_positives + self.switches
        return 1.0 - errors / self.objects if self.objects else float("nan")

    @property
    def motp(self) -> float:
        """Mean distance of the paired instances (1 - OKS here; lower is better)."""
        paired = self.matches + self.switches
        return self.distance / paired if paired else float("nan")

    @property
    def idf1(self) -> float:
        """2 IDTP / (ground-truth + predicted instances) under the best one-to-one map of track ids."""
        total = self.objects + self.predictions
        return 2.0 * self.idtp / total if total else float("nan")

    @property
    def precision(self) -> float:
        """Paired / predicted instances."""
        return (self.matches + self.switches) / self.predictions if self.predictions else float("nan")

    @property
    def recall(self) -> float:
        """Paired / ground-truth instances."""
        return (self.matches + self.switches) / self.objects if self.objects else float("nan")


def most_pairs(distance: np.ndarray) -> list[tuple[int, int]]:
    """The pairs (row, column) of allowed (finite) entries that are as many as possible and, among those,
    of least total distance."""
    allowed = np.isfinite(distance)
    if not allowed.any():
        return []
    # A stand-in for a refused pair that costs more than any set of allowed pairs can save.
    stand_in = 2.0 * min(distance.shape) * (float(np.abs(distance[allowed]).max()) + 1.0) + 1.0
    rows, cols = linear_sum_assignment(np.where(allowed, distance, stand_in))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


def clear_mot(frames: Iterable[FramePairs]) -> TrackingScores:
    """CLEAR MOT counts and IDF1 over frames given in time order (ids distinct across videos)."""
    partner: dict[int, int] = {}  # ground-truth id -> predicted id it was last paired with
    together: dict[tuple[int, int], int] = {}  # (truth id, predicted id) -> frames they may be paired
    objects = predictions = matches = switches = 0
    distance_sum = 0.0
    for frame in frames:
        truth, predicted, distance = frame.truth, frame.predicted, frame.distance.astype(float).copy()
        objects += len(truth)
        predictions += len(predicted)
        for g, p in zip(*np.nonzero(np.isfinite(distance)), strict=True):
            key = (int(truth[g]), int(predicted[p]))
            together[key] = together.get(key, 0) + 1
        kept_rows = np.zeros(len(truth), bool)
        kept_cols = np.zeros(len(predicted), bool)
        for g, gid in enumerate(truth):
            same = np.flatnonzero((predicted == partner.get(int(gid))) & ~kept_cols)
            if same.size and np.isfinite(distance[g, same[0]]):
                kept_rows[g] = kept_cols[same[0]] = True
                matches += 1
                distance_sum += distance[g, same[0]]
        distance[kept_rows, :] = np.nan
        distance[:, kept_cols] = np.nan
        for g, p in most_pairs(distance):
            gid, pid = int(truth[g]), int(predicted[p])
            if gid in partner and partner[gid] != pid:
                switches += 1
            else:
                matches += 1
            partner[gid] = pid
            distance_sum += distance[g, p]
    paired = matches + switches
    return TrackingScores(
        objects=objects,
        predictions=predictions,
        matches=matches,
        switches=switches,
        misses=objects - paired,
        false_positives=predictions - paired,
        idtp=identity_true_positives(together),
        distance=distance_sum,
    )


def identity_true_positives(together: dict[tuple[int, int], int]) -> int:
    """IDTP: the most frames covered by a one-to-one map of ground-truth to predicted track ids, a pair of
    ids covering the frames where their instances may be paired."""
    if not together:
        return 0
    truth = sorted({g for g, _ in together})
    predicted = sorted({p for _, p in together})
    weight = np.zeros((len(truth), len(predicted)))
    for (g, p), frames in together.items():
        weight[truth.index(g), predicted.index(p)] = frames
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return int(weight[rows, cols].sum())


def oks(truth: np.ndarray, predicted: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """(G, P) COCO object keypoint similarity of predicted (P, K, 3) to ground-truth (G, K, 3) instances
    (x, y, v image pixels, NaN where absent): over the joints labelled in the truth, scaled by the area of
    the box around them; a joint absent from the prediction scores 0."""
    kappa2 = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    labelled = truth[..., 2] > 0
    xy = np.where(labelled[..., None], truth[..., :2], 0.0)
    lo = np.where(labelled[..., None], xy, np.inf).min(axis=1)
    hi = np.where(labelled[..., None], xy, -np.inf).max(axis=1)
    area = np.where(labelled.any(axis=1), np.prod(hi - lo, axis=1), 0.0) + np.spacing(1)
    pred_xy = np.where((predicted[..., 2] > 0)[..., None], predicted[..., :2], np.nan)
    d2 = ((xy[:, None] - pred_xy[None]) ** 2).sum(axis=3)
    similarity = np.nan_to_num(np.exp(-d2 / kappa2 / area[:, None, None] / 2.0), nan=0.0)
    count = labelled.sum(axis=1)[:, None]
    return np.where(labelled[:, None], similarity, 0.0).sum(axis=2) / np.maximum(count, 1)


def frame_key(frame: Frame) -> tuple[int, int]:
    """(video, frame number) of a video frame, (-1, id) of an image."""
    return (-1, frame.id) if frame.video is None else (frame.video, int(frame.frame_index or 0))


def identities(frame: Frame, fresh: Iterator[int]) -> np.ndarray:
    """Ids of a frame's instances, distinct per video; an untracked instance gets one of its own from `fresh`
    (negative, so no track has it)."""
    video = -1 if frame.video is None else frame.video
    return np.array([((video + 1) << 32) + int(t) if t >= 0 else next(fresh) for t in frame.track], np.int64)


def evaluate_tracking(truth: PoseSet, predicted: PoseSet, min_oks: float = 0.5) -> TrackingScores:
    """Scores of `predicted` tracks against `truth` (same videos; frames paired by video and frame number,
    images by id); instances pair when their OKS (the truth's schema sigmas) is at least `min_oks`, at
    distance 1 - OKS. An untracked instance counts as a track of its own; frames without ground truth are
    not scored."""
    sigmas = truth.schema.oks_sigmas
    by_key = {frame_key(f): f for f in predicted.frames}
    fresh = count(-1, -1)
    pairs = []
    for gt in sorted(truth.frames, key=frame_key):
        pred = by_key.get(frame_key(gt))
        k = gt.keypoints.shape[1]
        pred_kp = np.zeros((0, k, 3)) if pred is None else pred.keypoints
        distance = 1.0 - oks(gt.keypoints, pred_kp, sigmas)
        distance[distance > 1.0 - min_oks] = np.nan
        pred_ids = np.zeros(0, np.int64) if pred is None else identities(pred, fresh)
        pairs.append(FramePairs(identities(gt, fresh), pred_ids, distance))
    return clear_mot(pairs)
