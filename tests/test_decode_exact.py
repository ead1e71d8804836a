"""The fast decode paths (chunked NMS, grouping walk) equal plain references, ties included (hypothesis)."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.ndimage import maximum_filter

from aegroup.decode import Candidates, DecodeConfig, candidates, get_grouper

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12)),
    kernel=st.sampled_from([1, 3, 5, 7]),
    levels=st.integers(2, 6),
    threshold_pick=st.integers(0, 5),
    maps_per_pass=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_nms_equals_a_max_filter_with_plateaus_and_threshold_ties(
    shape: tuple[int, int, int], kernel: int, levels: int, threshold_pick: int, maps_per_pass: int, seed: int
) -> None:
    """Few distinct values make plateaus and pixels exactly at the threshold; any split into passes."""
    rng = np.random.default_rng(seed)
    heat = (rng.integers(0, levels, shape) / levels).astype(np.float32)
    threshold = float(np.unique(heat)[min(threshold_pick, np.unique(heat).size - 1)])
    pooled = maximum_filter(heat, size=(1, kernel, kernel), mode="constant", cval=-np.inf)
    expected = np.flatnonzero((heat == pooled) & (heat > np.float32(threshold)))
    pixels = shape[1] * shape[2]
    with mock.patch.object(candidates, "_CHUNK_PIXELS", maps_per_pass * pixels):
        flat, values = candidates.peak_indices(heat, kernel, threshold)
    np.testing.assert_array_equal(flat, expected)
    np.testing.assert_array_equal(values, heat.reshape(-1)[expected])


@st.composite
def quantised_candidates(draw: st.DrawFn) -> tuple[Candidates, list[int], DecodeConfig]:
    """Candidates with tags and scores on a coarse grid (exact distances, many ties), a walk order, config."""
    k, m = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = Candidates.empty(k, m, 1)
    out.score[:] = rng.integers(0, 5, (k, m)) / 4
    out.tag[:] = rng.integers(0, 12, (k, m, 1)) / 4
    out.xy[:] = rng.integers(0, 50, (k, m, 2))
    config = DecodeConfig(
        max_instances=draw(st.integers(1, 8)),
        detection_threshold=draw(st.sampled_from([0.0, 0.25, 0.5])),
        tag_threshold=draw(st.sampled_from([0.5, 1.0, 2.0])),
        use_detection_val=draw(st.booleans()),
        gate_by_threshold=draw(st.booleans()),
        ignore_too_much=draw(st.booleans()),
    )
    return out, draw(st.permutations(list(range(k)))), config


@SETTINGS
@given(case=quantised_candidates(), method=st.sampled_from(["hungarian", "greedy"]))
def test_grouping_walk_equals_the_loop_decoder(case, method: str, loop_decoder) -> None:
    """Same instances, same joints, same creation order as the one-candidate-at-a-time loop."""
    cands, order, config = case
    slots = get_grouper(method)(cands, order, config)
    loop_input = [
        [
            (*cands.xy[k, s], float(cands.score[k, s]), cands.tag[k, s].astype(np.float64))
            for s in range(cands.score.shape[1])
            if cands.score[k, s] > config.detection_threshold
        ]
        for k in range(cands.num_joints)
    ]
    people = loop_decoder.loop_group(loop_input, order, config, method)
    assert len(slots) == len(people)
    for row, person in zip(slots, people, strict=True):
        assert {k for k in range(cands.num_joints) if row[k] >= 0} == set(person)
        for k, joint in person.items():
            assert (*cands.xy[k, row[k]], float(cands.score[k, row[k]])) == joint[:3]
