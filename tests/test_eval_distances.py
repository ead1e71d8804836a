"""Joint errors in pixels: instances matched to predictions by OKS; hand-made cases and a plain loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aegroup.eval import joint_distances
from aegroup.schema import PoseSchema

SCHEMA = PoseSchema(name="bug", joints=["a", "b", "c"], sigmas=[0.05, 0.05, 0.1])


def ground_truth(frames: dict[int, list[list[float]]], crowd: dict[int, list[float]] | None = None) -> dict:
    """A COCO dict: per image id, instances as flat [x, y, v] * 3 lists (area: the box of labelled joints)."""
    images, anns = [], []
    for image_id, instances in frames.items():
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 200, "height": 200})
        for kp in instances:
            pts = np.reshape(kp, (-1, 3))
            xy = pts[pts[:, 2] > 0, :2]
            w, h = xy.max(axis=0) - xy.min(axis=0)
            anns.append({"image_id": image_id, "keypoints": kp, "area": float(w * h), "iscrowd": 0})
    for image_id, kp in (crowd or {}).items():
        anns.append({"image_id": image_id, "keypoints": kp, "area": 100.0, "iscrowd": 1})
    for i, ann in enumerate(anns):
        ann.update(id=i + 1, category_id=1, num_keypoints=int(sum(v > 0 for v in ann["keypoints"][2::3])))
    return {"images": images, "annotations": anns, "categories": [SCHEMA.to_coco_category(1)]}


def guess(image_id: int, kp: list[float], score: float) -> dict:
    """A prediction (x, y, joint score per joint)."""
    return {"image_id": image_id, "keypoints": kp, "score": score}


A = [10.0, 10.0, 2, 30.0, 10.0, 2, 20.0, 40.0, 2]
B = [110.0, 100.0, 2, 140.0, 120.0, 2, 0.0, 0.0, 0]  # joint c not labelled


def shifted(kp: list[float], dx: float, dy: float, scores: tuple[float, ...] = (1, 1, 1)) -> list[float]:
    """`kp` moved by (dx, dy), with the given joint scores."""
    out = []
    for k in range(3):
        out += [kp[3 * k] + dx, kp[3 * k + 1] + dy, scores[k]]
    return out


def test_matched_predictions_give_their_offsets_missing_joints_inf_unlabelled_nan() -> None:
    truth = ground_truth({1: [A, B]})
    results = [guess(1, shifted(B, 3, 4), 0.9), guess(1, shifted(A, -1, 0, (1, 0, 1)), 0.5)]
    found = joint_distances(truth, results, SCHEMA)
    np.testing.assert_array_equal(found.distances, [[1, np.inf, 1], [5, 5, np.nan]])
    assert found.matched.tolist() == [True, True]
    # Labelled joints: 1, inf, 1, 5, 5 -> median 5; within 1 px: 2 of 5; within 5 px: 4 of 5.
    assert (
        found.median() == 5
        and found.within(1) == pytest.approx(0.4)
        and found.within(5) == pytest.approx(0.8)
    )


def test_unmatched_instances_count_as_missed_and_crowds_are_left_out() -> None:
    truth = ground_truth({1: [A, B], 2: [A]}, crowd={2: shifted(B, 0, 0)})
    found = joint_distances(truth, [guess(1, shifted(A, 0, 2), 0.8)], SCHEMA)
    assert found.matched.tolist() == [True, False, False]
    np.testing.assert_array_equal(found.distances[0], [2, 2, 2])
    assert np.isinf(found.distances[1, :2]).all() and np.isnan(found.distances[1, 2])
    assert np.isinf(found.distances[2]).all()
    assert found.within(10) == pytest.approx(3 / 8)


def test_higher_scores_choose_first() -> None:
    # The confident prediction sits between A and A' (A' nearer); it takes A' and the weak one gets A.
    other = shifted(A, 8, 0)
    truth = ground_truth({1: [A, other]})
    results = [guess(1, shifted(A, 1, 0), 0.1), guess(1, shifted(A, 5, 0), 0.9)]
    found = joint_distances(truth, results, SCHEMA)
    np.testing.assert_allclose(found.distances, [[1, 1, 1], [3, 3, 3]])


def loop_distances(truth: dict, results: list[dict]) -> list[list[float]]:
    """The same figures by plain loops: OKS per pair, greedy by score, distances joint by joint."""
    out = []
    sigmas = SCHEMA.oks_sigmas
    for image in truth["images"]:
        gts = [a for a in truth["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]]
        dets = sorted((d for d in results if d["image_id"] == image["id"]), key=lambda d: -d["score"])
        rows: list[list[float]] = [[math.inf] * 3 for _ in gts]
        free = list(range(len(gts)))
        for det in dets:
            if not free:
                break
            best, best_oks = None, -1.0
            for g in free:
                total, count = 0.0, 0
                for k in range(3):
                    x, y, v = gts[g]["keypoints"][3 * k : 3 * k + 3]
                    if v > 0:
                        d2 = (x - det["keypoints"][3 * k]) ** 2 + (y - det["keypoints"][3 * k + 1]) ** 2
                        total += math.exp(-d2 / (2 * gts[g]["area"] * (2 * sigmas[k]) ** 2))
                        count += 1
                value = total / count
                if value > best_oks:
                    best, best_oks = g, value
            free.remove(best)
            for k in range(3):
                if det["keypoints"][3 * k + 2] > 0:
                    rows[best][k] = math.dist(
                        gts[best]["keypoints"][3 * k : 3 * k + 2], det["keypoints"][3 * k : 3 * k + 2]
                    )
        for g, gt in enumerate(gts):
            for k in range(3):
                if gt["keypoints"][3 * k + 2] <= 0:
                    rows[g][k] = math.nan
        out += rows
    return out


@pytest.mark.parametrize("seed", range(5))
def test_random_frames_match_a_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames, results = {}, []
    for image_id in range(1, 6):
        instances = []
        for _ in range(int(rng.integers(0, 4))):
            kp = np.column_stack([rng.uniform(0, 200, (3, 2)), np.where(rng.random(3) < 0.2, 0, 2)])
            kp[:2, 2] = 2  # two labelled joints: a box of some area
            kp[kp[:, 2] == 0, :2] = 0
            instances.append(kp.ravel().tolist())
            if rng.random() < 0.8:  # a noisy prediction of it, sometimes missing a joint
                noisy = kp.copy()
                noisy[:, :2] += rng.normal(0, 6, (3, 2))
                noisy[:, 2] = np.where(rng.random(3) < 0.15, 0.0, 0.7)
                results.append(guess(image_id, noisy.ravel().tolist(), float(rng.random())))
        for _ in range(int(rng.integers(0, 2))):  # a stray prediction
            stray = np.column_stack([rng.uniform(0, 200, (3, 2)), np.full(3, 0.3)])
            results.append(guess(image_id, stray.ravel().tolist(), float(rng.random())))
        frames[image_id] = instances
    truth = ground_truth(frames)
    found = joint_distances(truth, results, SCHEMA)
    np.testing.assert_allclose(found.distances.reshape(-1, 3), loop_distances(truth, results), rtol=1e-12)
