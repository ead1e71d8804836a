"""Heatmap and grouping targets against plain per-joint loop references."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aegroup.data.targets import TRUNCATE, joint_indices, render_heatmaps


def loop_heatmaps(keypoints: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """Obviously-correct reference: every pixel of every labelled joint, one at a time."""
    n, k, _ = keypoints.shape
    out = np.zeros((k, height, width))
    for i in range(n):
        for j in range(k):
            x, y, v = keypoints[i, j]
            col, row = math.floor(x + 0.5), math.floor(y + 0.5)
            if v <= 0 or not (0 <= col < width and 0 <= row < height):
                continue
            for r in range(height):
                for c in range(width):
                    if abs(c - x) <= TRUNCATE * sigma and abs(r - y) <= TRUNCATE * sigma:
                        g = math.exp(-((c - x) ** 2 + (r - y) ** 2) / (2 * sigma**2))
                        out[j, r, c] = max(out[j, r, c], g)
    return out


def loop_indices(keypoints: np.ndarray, height: int, width: int, max_instances: int) -> np.ndarray:
    """Reference grouping array built joint by joint."""
    n, k, _ = keypoints.shape
    out = np.zeros((max_instances, k, 2), dtype=np.int64)
    row_of = 0
    for i in range(n):
        entries = []
        for j in range(k):
            x, y, v = keypoints[i, j]
            col, row = math.floor(x + 0.5), math.floor(y + 0.5)
            if v > 0 and 0 <= col < width and 0 <= row < height:
                entries.append((j, j * height * width + row * width + col))
        if entries and row_of < max_instances:
            for j, flat in entries:
                out[row_of, j] = (flat, 1)
            row_of += 1
    return out


@st.composite
def keypoint_sets(draw: st.DrawFn) -> tuple[np.ndarray, int, int]:
    n = draw(st.integers(0, 4))
    k = draw(st.integers(1, 4))
    height, width = draw(st.integers(4, 18)), draw(st.integers(4, 18))
    xy = draw(
        st.lists(st.floats(-3, 21, allow_nan=False), min_size=2 * n * k, max_size=2 * n * k).map(np.array)
    )
    vis = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=n * k, max_size=n * k).map(np.array))
    kp = np.zeros((n, k, 3))
    kp[..., :2] = xy.reshape(n, k, 2)
    kp[..., 2] = vis.reshape(n, k)
    return kp, height, width


@settings(max_examples=40, deadline=None)
@given(keypoint_sets(), st.floats(0.7, 3.0))
def test_heatmaps_match_loop_reference(case: tuple[np.ndarray, int, int], sigma: float) -> None:
    kp, height, width = case
    fast = render_heatmaps(kp, height, width, sigma)
    assert fast.shape == (kp.shape[1], height, width) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, loop_heatmaps(kp, height, width, sigma), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(keypoint_sets(), st.integers(1, 5))
def test_joint_indices_match_loop_reference(case: tuple[np.ndarray, int, int], max_instances: int) -> None:
    kp, height, width = case
    fast = joint_indices(kp, height, width, max_instances)
    assert fast.dtype == np.int64
    np.testing.assert_array_equal(fast, loop_indices(kp, height, width, max_instances))


def test_index_points_at_the_heatmap_peak_of_each_joint() -> None:
    rng = np.random.default_rng(3)
    kp = np.zeros((1, 5, 3))
    kp[0, :, :2] = rng.uniform(2, 29, size=(5, 2))
    kp[0, :, 2] = 2
    heat = render_heatmaps(kp, 32, 32, 2.0)
    joints = joint_indices(kp, 32, 32, 3)
    flat = heat.reshape(-1)
    for k in range(5):
        index, vis = joints[0, k]
        assert vis == 1 and index // (32 * 32) == k
        assert flat[index] == heat[k].max()
    assert not joints[1:].any()


def test_joints_outside_the_map_are_neither_drawn_nor_indexed() -> None:
    kp = np.array([[[-0.6, 3.0, 2], [3.0, 16.5, 2], [5.0, 5.0, 0]]])
    heat = render_heatmaps(kp, 16, 16, 2.0)
    joints = joint_indices(kp, 16, 16, 2)
    assert not heat.any() and not joints.any()
