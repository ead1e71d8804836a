"""The doubt score over plain arrays (`aegroup.decode.doubt`) against a plain-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aegroup.decode.doubt import instance_mean_tags, keypoint_doubt, tag_doubt


def loop_keypoint_doubt(present: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """The doubt written out joint by joint, instance by instance."""
    n, k, d = tags.shape
    means: list[list[float] | None] = []
    for i in range(n):
        total, count = [0.0] * d, [0] * d
        for j in range(k):
            for c in range(d):
                if present[i, j] and math.isfinite(tags[i, j, c]):
                    total[c] += tags[i, j, c]
                    count[c] += 1
        means.append([total[c] / count[c] for c in range(d)] if d and all(count) else None)
    out = np.full((n, k), np.nan)
    usable = [i for i in range(n) if means[i] is not None]
    for i in range(n):
        for j in range(k):
            tag = tags[i, j]
            if i not in usable or len(usable) < 2 or not present[i, j] or not np.isfinite(tag).all():
                continue
            own = math.dist(tag, means[i])
            nearest = min(math.dist(tag, means[o]) for o in usable if o != i)
            out[i, j] = own / (own + nearest) if own + nearest > 0 else 0.0
    return out


@pytest.mark.parametrize("seed", range(8))
def test_keypoint_doubt_matches_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, d = int(rng.integers(0, 5)), int(rng.integers(1, 7)), int(rng.integers(0, 3))
    present = rng.random((n, k)) < 0.7
    tags = rng.normal(size=(n, k, d)) + np.arange(n)[:, None, None] * 2
    tags[rng.random((n, k, d)) < 0.15] = np.nan  # unknown tags (joints placed by hand)
    if n:
        tags[0, 0] = tags[0, 0] if rng.random() < 0.5 else np.nan
    got = keypoint_doubt(present, tags)
    np.testing.assert_allclose(got, loop_keypoint_doubt(present, tags), atol=1e-12)
    want = np.nanmax(got) if np.isfinite(got).any() else np.nan
    np.testing.assert_equal(tag_doubt(present, tags), want)


def test_a_joint_nearer_another_instance_is_doubtful() -> None:
    present = np.ones((2, 3), bool)
    tags = np.array([[[0.0], [0.1], [0.9]], [[1.0], [1.1], [0.95]]])
    doubt = keypoint_doubt(present, tags)
    assert doubt[0, 2] > 0.5 and doubt[0, 0] < 0.5
    assert tag_doubt(present, tags) == pytest.approx(doubt.max())
    np.testing.assert_allclose(instance_mean_tags(present, tags)[:, 0], [1.0 / 3, 3.05 / 3])


def test_one_instance_or_no_tags_is_undefined() -> None:
    assert math.isnan(tag_doubt(np.ones((1, 4), bool), np.zeros((1, 4, 1))))
    assert math.isnan(tag_doubt(np.ones((3, 4), bool), np.zeros((3, 4, 0))))
    assert math.isnan(tag_doubt(np.zeros((0, 4), bool), np.zeros((0, 4, 1))))
