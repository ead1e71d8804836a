"""Grouping behaviour: candidates, Hungarian vs greedy, refinement, pluggable groupers, loop reference."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from reference_decode import loop_decode, make_scene

from aegroup.data.targets import render_heatmaps
from aegroup.decode import (
    GROUPERS,
    Candidates,
    DecodeConfig,
    available_groupers,
    extract_candidates,
    get_grouper,
    group,
    group_candidates,
    to_image,
)
from aegroup.decode import groupers as groupers_module
from aegroup.errors import AegroupError
from aegroup.schema import PoseSchema, load_schema

PAIR = PoseSchema(name="pair", joints=["a", "b"])
"""Two joints, grouped a then b: the smallest skeleton where grouping decisions show."""


def _candidates(rows: dict[int, list[tuple[float, float, float, float]]], k: int = 2) -> Candidates:
    """Candidates from {joint: [(x, y, score, tag), ...]} (D = 1)."""
    m = max(len(v) for v in rows.values())
    out = Candidates.empty(k, m, 1)
    for j, items in rows.items():
        for slot, (x, y, s, t) in enumerate(items):
            out.xy[j, slot] = (x, y)
            out.score[j, slot] = s
            out.tag[j, slot, 0] = t
    return out


def test_candidates_are_nms_peaks_top_k_above_threshold_with_tags() -> None:
    heat = np.zeros((2, 20, 20), np.float32)
    heat[0, 5, 5], heat[0, 5, 6], heat[0, 15, 4], heat[0, 10, 10] = 0.9, 0.5, 0.7, 0.05
    heat[1, 2, 3], heat[1, 2, 5], heat[1, 18, 18] = 0.6, 0.8, 0.3
    tags = np.arange(2 * 20 * 20, dtype=np.float32).reshape(2, 20, 20, 1)
    cands = extract_candidates(heat, tags, DecodeConfig(max_instances=2, adjust=False))
    # Joint 0: (6,5) is suppressed by its stronger neighbour, (10,10) is below the threshold.
    np.testing.assert_array_equal(cands.xy[0], [[5, 5], [4, 15]])
    np.testing.assert_array_equal(cands.score[0], np.float32([0.9, 0.7]))
    # Joint 1: (3,2) lies inside the 5x5 window of (5,2); top-2 keeps the two strongest peaks.
    np.testing.assert_array_equal(cands.xy[1], [[5, 2], [18, 18]])
    np.testing.assert_array_equal(cands.tag[1, :, 0], [400 + 2 * 20 + 5, 400 + 18 * 20 + 18])


def test_adjust_moves_a_quarter_pixel_toward_the_higher_neighbour() -> None:
    heat = np.zeros((1, 9, 9), np.float32)
    heat[0, 4, 4], heat[0, 4, 5], heat[0, 3, 4] = 1.0, 0.6, 0.4
    cands = extract_candidates(heat, np.zeros((1, 9, 9, 1), np.float32), DecodeConfig())
    np.testing.assert_array_equal(cands.xy[0, 0], [4.25, 3.75])


def test_hungarian_beats_greedy_on_an_ambiguous_noisy_case() -> None:
    """Instances A (tag 0.0) and B (tag 0.9); joint b of B is strong but its tag drifted to 0.4, nearer A.

    Greedy serves the strongest candidate first, so B's joint takes A (distance 0.4 < 0.5); A's own weak
    joint (tag -0.2) then finds only B, 1.1 away, beyond the threshold, and starts a third instance. The
    Hungarian cost (rounded distance, then detection value) sees both pairings at rounded distance 0 and
    picks the assignment that keeps every joint within the threshold, as the optimum must.
    """
    cands = _candidates(
        {0: [(10, 10, 0.9, 0.0), (50, 10, 0.9, 0.9)], 1: [(52, 30, 0.9, 0.4), (12, 30, 0.5, -0.2)]}
    )
    truth = {(10.0, 10.0): (12.0, 30.0), (50.0, 10.0): (52.0, 30.0)}

    def correct(instances) -> int:
        return sum(
            tuple(i.keypoints[0, :2]) in truth
            and truth[tuple(i.keypoints[0, :2])] == tuple(i.keypoints[1, :2])
            for i in instances
        )

    hungarian = group_candidates(cands, PAIR, "hungarian")
    greedy = group_candidates(cands, PAIR, "greedy")
    assert correct(hungarian) == 2 and len(hungarian) == 2
    assert correct(greedy) == 0 and len(greedy) == 3
    assert correct(hungarian) >= correct(greedy)


def test_gate_keeps_acceptable_matches_that_the_reference_cost_trades_away() -> None:
    """Instances with tags 0 and 1.98; joint b candidates: tag 0.49 (belongs to the first) and a stray at
    -1.6 that matches nobody. The references' rounded cost makes the swapped pairing cheaper
    (round(1.6) + round(1.49) = 3 < round(0.49) + round(3.58) = 4), so un-gated the true joint is paired
    with the wrong instance, rejected, and split off; gated, rejected pairs cost the same and it stays."""
    cands = _candidates(
        {0: [(0, 0, 0.9, 0.0), (40, 0, 0.9, 1.98)], 1: [(0, 9, 0.5, 0.49), (20, 9, 0.9, -1.6)]}
    )
    gated = group_candidates(cands, PAIR, "hungarian")
    reference = group_candidates(cands, PAIR, "hungarian", gate_by_threshold=False)
    first = lambda insts: next(i for i in insts if i.keypoints[0, 0] == 0 and i.keypoints[0, 2] > 0)  # noqa: E731
    np.testing.assert_array_equal(first(gated).keypoints[1, :2], [0, 9])
    assert first(reference).keypoints[1, 2] == 0 and len(reference) == 4 and len(gated) == 3


def test_new_instances_start_beyond_the_tag_threshold() -> None:
    cands = _candidates({0: [(0, 0, 0.9, 0.0)], 1: [(0, 5, 0.9, 0.99), (9, 5, 0.8, 1.0)]})
    for method in GROUPERS:
        joined = group_candidates(cands, PAIR, method, tag_threshold=1.0)
        assert len(joined) == 2 and joined[0].keypoints[1, 0] == 0  # 0.99 joins, 1.0 does not
        assert len(group_candidates(cands, PAIR, method, tag_threshold=0.5)) == 3


def test_ignore_too_much_skips_joints_once_the_pool_is_full() -> None:
    cands = _candidates({0: [(0, 0, 0.9, 0.0), (9, 0, 0.9, 5.0)], 1: [(0, 5, 0.9, 0.0)]})
    full = group_candidates(cands, PAIR, max_instances=2, ignore_too_much=True)
    assert all(i.keypoints[1, 2] == 0 for i in full)
    assert sum(i.keypoints[1, 2] > 0 for i in group_candidates(cands, PAIR, max_instances=2)) == 1


def test_instance_score_is_the_mean_joint_score_before_refinement() -> None:
    cands = _candidates({0: [(0, 0, 0.9, 0.0)], 1: [(0, 5, 0.5, 0.0)]})
    (inst,) = group_candidates(cands, PAIR)
    assert inst.score == pytest.approx(0.7)
    assert inst.tags.shape == (2, 1) and inst.keypoints.shape == (2, 3)


def test_refinement_recovers_a_sub_threshold_joint_whose_tag_matches() -> None:
    """Instance 0 (tag 0) has joint b only at 0.05, below the threshold; instance 1 (tag 5) has a
    strong b 12 px away, whose tag does not match."""
    kp = np.array([[[10, 10, 2], [12, 25, 2]], [[30, 10, 2], [24, 25, 2]]], np.float64)
    heat = render_heatmaps(kp, 40, 40, sigma=1.5)
    heat[1] = (
        render_heatmaps(kp[1:, 1:], 40, 40, sigma=1.5)[0] + 0.05 * render_heatmaps(kp[:1, 1:], 40, 40, 1.5)[0]
    )
    tags = np.zeros((2, 40, 40, 1), np.float32)
    tags[:, :, 19:] = 5.0  # instance 1 owns the right part of every map
    plain = group(heat, tags, PAIR, refine=False, adjust=False)
    refined = group(heat, tags, PAIR, refine=True, adjust=False)
    missing = next(i for i in plain if i.keypoints[0, 0] == 10)
    assert missing.keypoints[1, 2] == 0
    recovered = next(i for i in refined if i.keypoints[0, 0] == 10)
    np.testing.assert_array_equal(recovered.keypoints[1, :2], [12, 25])
    assert recovered.keypoints[1, 2] == pytest.approx(0.05)
    assert recovered.score == missing.score  # score is taken before refinement
    other = next(i for i in refined if i.keypoints[0, 0] == 30)
    np.testing.assert_array_equal(other.keypoints[1, :2], [24, 25])
    # Which joints refinement filled in is kept, also through the mapping to image pixels.
    np.testing.assert_array_equal(recovered.refined, [False, True])
    np.testing.assert_array_equal(other.refined, [False, False])
    assert not missing.refined.any()
    (mapped,) = to_image([recovered], np.array([[2, 0, 1], [0, 2, 3]], np.float32), stride=4)
    np.testing.assert_array_equal(mapped.refined, [False, True])


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("method", sorted(GROUPERS))
def test_matches_the_straightforward_loop_decoder(method: str, dim: int) -> None:
    """Vectorised candidates, grouping, adjust and refinement equal the one-at-a-time loop, bit for bit."""
    rng = np.random.default_rng(11 + dim)
    schema = load_schema("coco17")
    for missing in (0.1, 0.5):
        heat, tags = make_scene(rng, dim, missing=missing)
        heat, tags = heat[:, :64, :64], tags[:, :64, :64]  # a crowded corner: merges, misses, new instances
        for cfg in (DecodeConfig(), DecodeConfig(use_detection_val=False, adjust=False, tag_threshold=0.7)):
            ours = group(heat, tags, schema, method, cfg)
            loop = loop_decode(heat, tags, schema.group_index, cfg, method)
            assert len(ours) == len(loop)
            for a, b in zip(ours, loop, strict=True):
                np.testing.assert_array_equal(a.keypoints, b)


def test_method_accepts_a_callable_grouper() -> None:
    def one_per_candidate(candidates, order, config):
        k, m = candidates.score.shape
        slots = np.full((k * m, k), -1, np.int64)
        valid = np.argwhere(candidates.score > config.detection_threshold)
        slots[np.arange(len(valid)), valid[:, 0]] = valid[:, 1]
        return slots[: len(valid)]

    cands = _candidates({0: [(0, 0, 0.9, 0.0)], 1: [(0, 5, 0.5, 0.0)]})
    assert len(group_candidates(cands, PAIR, one_per_candidate)) == 2
    assert get_grouper(one_per_candidate) is one_per_candidate


def test_plugin_groupers_load_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    ep = EntryPoint(name="every_joint_alone", value="tests_plugin_grouper:grouper", group="aegroup.groupers")
    broken = EntryPoint(name="broken", value="no_such_module_xyz:grouper", group="aegroup.groupers")
    module = type(sys)("tests_plugin_grouper")
    module.grouper = GROUPERS["greedy"]
    monkeypatch.setitem(sys.modules, "tests_plugin_grouper", module)
    monkeypatch.setattr(groupers_module, "plugin_groupers", lambda: {ep.name: ep, broken.name: broken})
    assert available_groupers() == ["hungarian", "greedy", "broken", "every_joint_alone"]
    assert get_grouper("every_joint_alone") is GROUPERS["greedy"]
    with pytest.raises(AegroupError, match="cannot load plugin"):
        get_grouper("broken")
    with pytest.raises(AegroupError, match="unknown grouper"):
        get_grouper("nope")


def test_a_misbehaving_grouper_is_reported() -> None:
    cands = _candidates({0: [(0, 0, 0.9, 0.0)], 1: [(0, 5, 0.5, 0.0)]})
    twice = lambda c, o, cfg: np.array([[0, -1], [0, 0]])  # noqa: E731
    with pytest.raises(AegroupError, match="two instances"):
        group_candidates(cands, PAIR, twice)
    with pytest.raises(AegroupError, match="shape"):
        group_candidates(cands, PAIR, lambda c, o, cfg: np.zeros((1, 3), np.int64))


def test_bad_parameters_and_shapes_give_one_line_errors() -> None:
    heat = np.zeros((2, 8, 8), np.float32)
    tags = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(AegroupError, match="nms_kernel"):
        group(heat, tags, PAIR, nms_kernel=4)
    with pytest.raises(AegroupError, match="unknown_param"):
        group(heat, tags, PAIR, unknown_param=1)
    with pytest.raises(AegroupError, match="3 channels but the schema has 2"):
        group(np.zeros((3, 8, 8)), np.zeros((3, 8, 8, 1)), PAIR)
    with pytest.raises(AegroupError, match="tags: expected shape"):
        group(heat, np.zeros((2, 8, 9, 1)), PAIR)


def test_to_image_uses_the_training_frame_and_the_inverse_affine() -> None:
    """Heatmap pixel x is input pixel 4x + 1.5 at stride 4; then the inverse affine (here: scale 2, shift)."""
    from aegroup.decode import Instance, to_image
    from aegroup.geometry import heatmap_to_input

    kp = np.array([[10.0, 20.0, 0.9], [3.0, 4.0, 0.0]], np.float32)
    inverse = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -3.0]])
    (out,) = to_image([Instance(kp, np.zeros((2, 1), np.float32), 0.45)], inverse, stride=4)
    x_in, y_in = heatmap_to_input(4) @ np.array([10.0, 20.0, 1.0])
    np.testing.assert_allclose(out.keypoints[0], [2 * x_in + 5, 2 * y_in - 3, 0.9], rtol=1e-6)
    np.testing.assert_array_equal(out.keypoints[1], [0, 0, 0])
    assert out.score == 0.45


def test_a_plateau_is_one_candidate_but_distant_equal_peaks_are_two() -> None:
    """Equal maxima within one NMS window (a flat-topped peak, common with fp16 outputs) give one
    candidate at the first pixel in raster order, on the numpy and the torch path alike."""
    import torch

    from aegroup.decode.torch_candidates import batch_candidates

    heat = np.zeros((1, 16, 16), np.float32)
    heat[0, 4, 4] = heat[0, 5, 4] = heat[0, 5, 5] = 0.8  # one plateau of three pixels
    heat[0, 12, 12] = 0.8  # an equal but separate peak
    tags = np.zeros((1, 16, 16, 1), np.float32)
    cfg = DecodeConfig(adjust=False)
    cands = extract_candidates(heat, tags, cfg)
    np.testing.assert_array_equal(cands.xy[0][cands.score[0] > 0], [[4, 4], [12, 12]])
    batched = batch_candidates(
        torch.from_numpy(heat)[None], torch.from_numpy(tags)[None, :, None, :, :, 0], 1, cfg
    )
    np.testing.assert_array_equal(batched[0][0].xy, cands.xy)
    np.testing.assert_array_equal(batched[0][0].score, cands.score)


def test_hungarian_shortcut_for_unambiguous_joints_equals_the_assignment() -> None:
    """When every candidate has at most one instance within the threshold and vice versa, the gated
    optimum is those pairs; the compiled walk's shortcut must agree with solving the padded assignment."""
    from scipy.optimize import linear_sum_assignment

    from aegroup.decode.hungarian import hungarian_match
    from aegroup.decode.kernels import unique_pairs

    rng = np.random.default_rng(8)
    cfg = DecodeConfig()
    shortcuts = 0
    for _ in range(300):
        rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        distance = rng.uniform(0, 6, (rows, cols))
        score = rng.uniform(0.1, 1, rows)
        cost = np.where(distance < 1, np.round(distance) * 100 - score[:, None], 1e10)
        cost = np.concatenate([cost, np.full((rows, max(rows - cols, 0)), 1e10)], axis=1)
        r, c = linear_sum_assignment(cost)
        keep = (c < cols) & (distance[r, np.minimum(c, cols - 1)] < 1)
        got = hungarian_match(distance, score, cfg)
        np.testing.assert_array_equal(got[0], r[keep])
        np.testing.assert_array_equal(got[1], c[keep])
        matched = np.full(rows, -1, np.int64)
        if unique_pairs(distance, rows, cols, cfg.tag_threshold, matched):
            shortcuts += 1
            np.testing.assert_array_equal(np.flatnonzero(matched >= 0), r[keep])
            np.testing.assert_array_equal(matched[matched >= 0], c[keep])
    assert shortcuts > 50  # the shortcut case is common, so the comparison above ran
