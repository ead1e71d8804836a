"""OKS between predictions and truths (`aegroup.eval.oks`) against pycocotools' COCOeval and a plain loop."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from aegroup.eval.oks import image_oks, match, oks_matrix, truth_areas


def _scene(seed: int, n: int, m: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.dstack([rng.uniform(0, 200, (m, k, 2)), rng.integers(0, 3, (m, k))]).astype(np.float64)
    truth[truth[:, :, 2] == 0] = 0
    pred = truth[rng.integers(0, m, n)] if m else np.zeros((n, k, 3))
    pred = np.dstack([pred[:, :, :2] + rng.normal(0, 6, (n, k, 2)), rng.uniform(0.1, 1, (n, k))])
    sigmas = rng.uniform(0.03, 0.1, k)
    return pred, truth, sigmas


@pytest.mark.parametrize("seed", range(4))
def test_oks_matrix_is_cocoevals(seed: int) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    pred, truth, sigmas = _scene(seed, n=4, m=3, k=5)
    areas = truth_areas(truth)
    gt = COCO()
    gt.dataset = {
        "images": [{"id": 1, "width": 200, "height": 200}],
        "annotations": [
            {
                "id": j + 1,
                "image_id": 1,
                "category_id": 1,
                "keypoints": t.ravel().tolist(),
                "area": float(areas[j]),
                "bbox": [0, 0, 10, 10],
                "iscrowd": 0,
                "num_keypoints": int((t[:, 2] > 0).sum()),
            }
            for j, t in enumerate(truth)
        ],
        "categories": [{"id": 1, "name": "x", "keypoints": list("abcde"), "skeleton": []}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        # Scores in decreasing order, so that COCOeval keeps the predictions' order.
        dt = gt.loadRes(
            [
                {"image_id": 1, "category_id": 1, "keypoints": p.ravel().tolist(), "score": 1.0 - 0.1 * i}
                for i, p in enumerate(pred)
            ]
        )
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = sigmas
        ev.params.imgIds = [1]
        ev._prepare()
        want = np.asarray(ev.computeOks(1, 1))
    labelled = (truth[:, :, 2] > 0).any(axis=1)  # COCOeval falls back to the box for a truth without joints
    np.testing.assert_allclose(
        oks_matrix(pred, truth, sigmas, areas)[:, labelled], want[:, labelled], atol=1e-12
    )


def loop_image_oks(pred: np.ndarray, truth: np.ndarray, sigmas: np.ndarray) -> float:
    """Every one-to-one assignment tried; the best summed OKS over the truths."""
    import itertools

    if len(truth) == 0:
        return 1.0
    areas = truth_areas(truth)
    sim = [[0.0] * len(truth) for _ in pred]
    for i, p in enumerate(pred):
        for j, t in enumerate(truth):
            terms = [
                math.exp(
                    -((p[k, 0] - t[k, 0]) ** 2 + (p[k, 1] - t[k, 1]) ** 2)
                    / (2 * sigmas[k]) ** 2
                    / (areas[j] + np.spacing(1))
                    / 2
                )
                if p[k, 2] > 0
                else 0.0
                for k in range(len(t))
                if t[k, 2] > 0
            ]
            sim[i][j] = sum(terms) / len(terms) if terms else 0.0
    best = 0.0
    slots = list(range(len(pred))) + [None] * len(truth)
    for chosen in itertools.permutations(slots, len(truth)):
        best = max(best, sum(sim[i][j] for j, i in enumerate(chosen) if i is not None))
    return best / len(truth)


@pytest.mark.parametrize(("seed", "n", "m"), [(0, 3, 3), (1, 1, 3), (2, 4, 2), (3, 0, 2), (4, 2, 0)])
def test_image_oks_is_the_best_matching(seed: int, n: int, m: int) -> None:
    pred, truth, sigmas = _scene(seed, n, m, k=4)
    pred[0 if n else slice(0), 1, 2] = 0  # one joint not found
    assert image_oks(pred, truth, sigmas) == pytest.approx(loop_image_oks(pred, truth, sigmas), abs=1e-12)


def test_match_drops_zero_pairs() -> None:
    rows, cols = match(np.array([[0.0, 0.5], [0.0, 0.0]]))
    assert rows.tolist() == [0] and cols.tolist() == [1]
    assert match(np.zeros((0, 3)))[0].size == 0
