"""The doubt score over plain arrays (`aegroup.decode.doubt`) against a plain-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aegroup.decode.doubt import image_doubt, instance_mean_tags, joint_doubt, keypoint_doubt, tag_doubt


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


def loop_joint_doubt(
    keypoints: np.ndarray, tags: np.ndarray, refined: np.ndarray, instance_score: np.ndarray, least: float
) -> np.ndarray:
    """`joint_doubt` written out joint by joint: tag doubt among the instances scoring `least` or more."""
    n, k = keypoints.shape[:2]
    main = [i for i in range(n) if instance_score[i] >= least]
    present = np.zeros((n, k), bool)
    for i in main:
        for j in range(k):
            present[i, j] = keypoints[i, j, 2] > 0
    tag = loop_keypoint_doubt(present, tags)
    out = np.full((n, k), np.nan)
    for i in main:
        for j in range(k):
            if keypoints[i, j, 2] > 0 and not refined[i, j]:
                doubt = 0.0 if math.isnan(tag[i, j]) else tag[i, j]
                out[i, j] = 1 - min(max(keypoints[i, j, 2], 0.0), 1.0) * (1 - doubt)
            else:
                out[i, j] = 1.0
    return out


@pytest.mark.parametrize("seed", range(6))
def test_joint_and_image_doubt_match_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, d = int(rng.integers(0, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 3))
    keypoints = np.dstack(
        [rng.uniform(0, 50, (n, k, 2)), rng.uniform(0, 1.1, (n, k)) * (rng.random((n, k)) < 0.8)]
    )
    tags = rng.normal(size=(n, k, d)) + np.arange(n)[:, None, None]
    refined = (rng.random((n, k)) < 0.2) & (keypoints[:, :, 2] > 0)
    score = rng.uniform(0, 0.6, n)
    got = joint_doubt(keypoints, tags, refined, score, 0.2)
    np.testing.assert_allclose(got, loop_joint_doubt(keypoints, tags, refined, score, 0.2), atol=1e-12)
    assert image_doubt(keypoints, tags, refined, score, 0.2) == pytest.approx(np.nansum(got))


def test_image_doubt_grows_with_what_is_probably_wrong() -> None:
    k = 4
    keypoints = np.dstack([np.zeros((2, k, 2)), np.full((2, k), 0.9)])
    tags = np.array([[[0.0]] * k, [[1.0]] * k])
    refined = np.zeros((2, k), bool)
    score = np.full(2, 0.9)
    calm = image_doubt(keypoints, tags, refined, score)
    swapped = tags.copy()
    swapped[[0, 1], 2] = swapped[[1, 0], 2]
    weak = keypoints.copy()
    weak[0, 1, 2] = 0.2
    filled = refined.copy()
    filled[1, 3] = True
    for worse in (
        image_doubt(keypoints, swapped, refined, score),
        image_doubt(weak, tags, refined, score),
        image_doubt(keypoints, tags, filled, score),
    ):
        assert worse > calm
    # A fragment (an instance scoring under the threshold) is left out.
    assert image_doubt(keypoints, tags, refined, np.array([0.9, 0.1])) == pytest.approx(k * (1 - 0.9))
