"""The tracker's numerics against plain loops: assignment and doubt by enumeration, pose prediction, costs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from aegroup.track.assign import assign_with_doubt, doubt_of_choice, solve
from aegroup.track.costs import body_size, iou_cost, motion_cost, predict, reach
from aegroup.track.memory import TrackMemory


def enumerate_assignments(cost: np.ndarray) -> list[tuple[float, tuple[int, ...]]]:
    """Every assignment of all rows to distinct columns avoiding inf entries, with its total."""
    n, m = cost.shape
    out = []
    for cols in itertools.permutations(range(m), n):
        total = sum(cost[i, c] for i, c in enumerate(cols))
        if math.isfinite(total):
            out.append((total, cols))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_assignment_and_doubt_match_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, tracks = int(rng.integers(1, 4)), int(rng.integers(0, 4))
    unit = 0.7
    linked = rng.uniform(0, 1.2, (n, tracks))
    linked[rng.random(linked.shape) < 0.3] = np.inf
    cost = np.concatenate([linked, np.full((n, n), unit)], axis=1)  # n "new track" columns, one option
    option = np.concatenate([np.arange(tracks), np.full(n, tracks)])
    result = assign_with_doubt(cost, option, unit)
    every = enumerate_assignments(cost)
    best_total, _ = min(every)
    assert result.total == pytest.approx(best_total)
    assert cost[np.arange(n), result.column].sum() == pytest.approx(best_total)
    for i in range(n):
        chosen = option[result.column[i]]
        others = [total for total, cols in every if option[cols[i]] != chosen]
        margin = min(others) - best_total if others else math.inf
        expected = 0.0 if math.isinf(margin) else min(max(1.0 - margin / unit, 0.0), 1.0)
        assert result.doubt[i] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(30))
def test_doubt_of_a_given_choice_matches_enumeration(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, tracks = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    linked = rng.uniform(0, 1.2, (n, tracks))
    linked[rng.random(linked.shape) < 0.3] = np.inf
    cost = np.concatenate([linked, np.full((n, n), 0.7)], axis=1)
    option = np.concatenate([np.arange(tracks), np.full(n, tracks)])
    chosen = rng.integers(0, tracks + 1, n)  # any choice, possible or not, best or not
    every = enumerate_assignments(cost)
    for i, doubt in enumerate(doubt_of_choice(cost, option, chosen, 0.7)):
        on = min((t for t, cols in every if option[cols[i]] == chosen[i]), default=math.inf)
        off = min((t for t, cols in every if option[cols[i]] != chosen[i]), default=math.inf)
        expected = 1.0 if math.isinf(on) else min(max(1.0 - (off - on) / 0.7, 0.0), 1.0)
        assert doubt == pytest.approx(expected, abs=1e-9)


def test_solve_reports_infeasible() -> None:
    cost = np.array([[1.0, np.inf], [2.0, np.inf]])
    assert solve(cost) is None
    assert solve(np.zeros((0, 3))) == (pytest.approx(np.zeros(0)), 0.0)


def test_tie_has_full_doubt_and_lone_choice_none() -> None:
    tie = assign_with_doubt(np.array([[0.2, 0.2]]), np.array([0, 1]), 1.0)
    assert tie.doubt[0] == pytest.approx(1.0)
    lone = assign_with_doubt(np.array([[0.2]]), np.array([0]), 1.0)
    assert lone.doubt[0] == 0.0


def random_memory(rng: np.random.Generator, tracks: int, joints: int) -> TrackMemory:
    """Tracks observed 1-3 times at increasing frame numbers, with some joints missing each time."""
    memory = TrackMemory.empty(joints, 2)
    for _ in range(tracks):
        time = int(rng.integers(0, 5))
        xy = rng.uniform(0, 100, (joints, 2))
        xy[rng.random(joints) < 0.3] = np.nan
        xy[0] = rng.uniform(0, 100, 2)  # at least one joint
        j = memory.start(xy, time, rng.normal(size=2))
        for _ in range(int(rng.integers(0, 3))):
            time += int(rng.integers(1, 4))
            xy = xy + rng.normal(0, 3, xy.shape)
            xy = np.where(np.isnan(xy), rng.uniform(0, 100, xy.shape), xy)
            xy[rng.random(joints) < 0.3] = np.nan
            memory.observe(j, xy, time, None if rng.random() < 0.3 else rng.normal(size=2))
    return memory


def predict_loop(memory: TrackMemory, time: int, damping: float) -> np.ndarray:
    """Damped constant-velocity prediction, one joint at a time."""
    tracks, joints = memory.last_t.shape
    out = np.full((tracks, joints, 2), np.nan)
    for j in range(tracks):
        velocity: dict[int, np.ndarray] = {}
        for k in range(joints):
            if not np.isnan(memory.prev_t[j, k]):
                gap = memory.last_t[j, k] - memory.prev_t[j, k]
                velocity[k] = (memory.last_xy[j, k] - memory.prev_xy[j, k]) / gap
        body = np.mean(list(velocity.values()), axis=0) if velocity else np.zeros(2)
        for k in range(joints):
            if np.isnan(memory.last_t[j, k]):
                continue
            steps = int(time - memory.last_t[j, k])
            moved = sum(damping**s for s in range(1, steps + 1))
            out[j, k] = memory.last_xy[j, k] + velocity.get(k, body) * moved
    return out


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("damping", [0.0, 0.8, 1.0])
def test_prediction_matches_loop(seed: int, damping: float) -> None:
    rng = np.random.default_rng(seed)
    memory = random_memory(rng, 4, 5)
    time = int(memory.seen.max()) + int(rng.integers(1, 6))
    np.testing.assert_allclose(predict(memory, time, damping), predict_loop(memory, time, damping), atol=1e-9)


def test_reach_is_the_damped_sum() -> None:
    steps = np.arange(0, 8, dtype=np.float64)
    for damping in (0.0, 0.3, 0.8, 1.0):
        expected = [sum(damping**s for s in range(1, int(n) + 1)) for n in steps]
        np.testing.assert_allclose(reach(steps, damping), expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_motion_cost_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    memory = random_memory(rng, 3, 5)
    time = int(memory.seen.max()) + 1
    xy = rng.uniform(0, 100, (4, 5, 2))
    xy[rng.random((4, 5)) < 0.4] = np.nan
    xy[:, 1] = rng.uniform(0, 100, (4, 2))
    xy[3, :] = np.nan
    xy[3, 4] = (50.0, 50.0)  # one joint only: may share none with a track
    tags = rng.normal(size=(4, 2))
    cost = motion_cost(memory, xy, tags, time, damping=0.8, tag_weight=0.5, min_size=20.0)
    predicted = predict_loop(memory, time, 0.8)
    for i in range(4):
        for j in range(memory.num_tracks):
            known = [k for k in range(5) if not np.isnan(predicted[j, k, 0])]
            centre = np.mean([predicted[j, k] for k in known], axis=0)
            size = 2 * math.sqrt(np.mean([np.sum((predicted[j, k] - centre) ** 2) for k in known]))
            shared = [k for k in known if not np.isnan(xy[i, k, 0])]
            if shared:
                distance = np.mean([np.linalg.norm(xy[i, k] - predicted[j, k]) for k in shared])
            else:
                distance = np.linalg.norm(np.nanmean(xy[i], axis=0) - centre)
            tag = 0.0 if np.isnan(memory.tag[j]).any() else np.linalg.norm(tags[i] - memory.tag[j])
            assert cost[i, j] == pytest.approx(distance / max(size, 20.0) + 0.5 * tag)


def test_body_size_is_rotation_invariant() -> None:
    rng = np.random.default_rng(0)
    pose = rng.uniform(0, 50, (1, 6, 2))
    angle = 0.7
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    assert body_size(pose @ turn)[0] == pytest.approx(body_size(pose)[0])
    assert body_size(np.array([[[1.0, 2.0], [np.nan, np.nan]]]))[0] == 0.0


def test_iou_cost_matches_boxes() -> None:
    memory = TrackMemory.empty(2, 0)
    memory.start(np.array([[0.0, 0.0], [10.0, 10.0]]), 0, None)
    xy = np.array([[[5.0, 5.0], [15.0, 15.0]], [[20.0, 20.0], [30.0, 30.0]]])
    np.testing.assert_allclose(iou_cost(memory, xy)[:, 0], [1.0 - 25.0 / 175.0, 1.0])


def two_tracks_seen_at(time: int) -> TrackMemory:
    """A memory holding two tracks last seen at `time`."""
    memory = TrackMemory.empty(1, 0)
    for x in (0.0, 100.0):
        memory.start(np.array([[x, 0.0]]), time, None)
    return memory


def best_columns(cost: np.ndarray, time: int, **params: object) -> list[int]:
    """The columns the linker's options give the rows of `cost` (tracks seen at frame 0, now `time`)."""
    from aegroup.track.linker import options
    from aegroup.track.types import TrackParams

    matrix, option = options(cost, two_tracks_seen_at(0), time, TrackParams.model_validate(params))
    return [int(option[c]) for c in assign_with_doubt(matrix, option, 1.0).column]


def test_gate_and_window_decide_new_tracks() -> None:
    cost = np.array([[0.3, 2.0], [3.0, 0.8]])
    assert best_columns(cost, 1) == [0, 1]
    assert best_columns(cost, 6) == [2, 2]  # both tracks beyond a window of 5: new tracks
    assert best_columns(np.array([[0.3, 2.0], [3.0, 1.2]]), 1) == [0, 2]  # beyond the gate: new track


def test_max_tracks_forces_past_the_gate() -> None:
    # a fits track 0; b is far from both tracks: with two tracks for two animals, b must be track 1.
    assert best_columns(np.array([[0.1, 30.0], [20.0, 31.0]]), 1, max_tracks=2) == [0, 1]
    # One forced link to a track 50 body sizes away costs more than two links just past the gate.
    assert best_columns(np.array([[0.9, 1.5], [1.2, 50.0]]), 1, max_tracks=2) == [1, 0]
    # Tracks never end under max_tracks: the window does not matter.
    assert best_columns(np.array([[0.3, 2.0], [3.0, 0.8]]), 60, max_tracks=2) == [0, 1]
    # A third track may start while fewer than max_tracks exist.
    assert best_columns(np.array([[0.1, 30.0], [20.0, 31.0]]), 1, max_tracks=3) == [0, 2]
