"""The fast decode paths (compiled NMS, grouping walk) equal plain references, ties included (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_decode import loop_group
from scipy.ndimage import maximum_filter

from aegroup.decode import Candidates, DecodeConfig, candidates, get_grouper
from aegroup.decode.walk import walk_joints

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12)),
    kernel=st.sampled_from([1, 3, 5, 7]),
    levels=st.integers(2, 6),
    threshold_pick=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_nms_equals_a_max_filter_with_plateaus_and_threshold_ties(
    shape: tuple[int, int, int], kernel: int, levels: int, threshold_pick: int, seed: int
) -> None:
    """Few distinct values make plateaus and pixels exactly at the threshold."""
    rng = np.random.default_rng(seed)
    heat = (rng.integers(0, levels, shape) / levels).astype(np.float32)
    threshold = float(np.unique(heat)[min(threshold_pick, np.unique(heat).size - 1)])
    pooled = maximum_filter(heat, size=(1, kernel, kernel), mode="constant", cval=-np.inf)
    expected = np.flatnonzero((heat == pooled) & (heat > np.float32(threshold)))
    flat, values = candidates.peak_indices(heat, kernel, threshold)
    np.testing.assert_array_equal(flat, expected)
    np.testing.assert_array_equal(values, heat.reshape(-1)[expected])


@st.composite
def quantised_candidates(draw: st.DrawFn) -> tuple[Candidates, list[int], DecodeConfig]:
    """Candidates with tags and scores on a coarse grid (exact distances, many ties), a walk order, config."""
    k, m, dim = draw(st.integers(1, 5)), draw(st.integers(1, 8)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = Candidates.empty(k, m, dim)
    out.score[:] = rng.integers(0, 5, (k, m)) / 4
    out.tag[:] = rng.integers(0, 12, (k, m, dim)) / 4
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
def test_grouping_walk_equals_the_loop_decoder(case, method: str) -> None:
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
    people = loop_group(loop_input, order, config, method)
    assert len(slots) == len(people)
    for row, person in zip(slots, people, strict=True):
        assert {k for k in range(cands.num_joints) if row[k] >= 0} == set(person)
        for k, joint in person.items():
            assert (*cands.xy[k, row[k]], float(cands.score[k, row[k]])) == joint[:3]


def plain_greedy_match(
    distance: np.ndarray, score: np.ndarray, config: DecodeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching written as a plain loop, to be passed to the walk as a custom matcher."""
    taken: set[int] = set()
    rows, cols = [], []
    for row in sorted(range(len(score)), key=lambda r: -score[r]):
        free = [c for c in range(distance.shape[1]) if c not in taken]
        if free:
            col = min(free, key=lambda c: distance[row, c])
            if distance[row, col] < config.tag_threshold:
                taken.add(col)
                rows.append(row)
                cols.append(col)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)


@SETTINGS
@given(case=quantised_candidates())
def test_walk_calls_a_custom_matcher_for_every_joint(case) -> None:
    """A Python matcher given to `walk_joints` decides every joint: the walk equals the built-in greedy."""
    cands, order, config = case
    calls: list[tuple[int, int]] = []

    def recording(
        distance: np.ndarray, score: np.ndarray, cfg: DecodeConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        calls.append(distance.shape)
        return plain_greedy_match(distance, score, cfg)

    slots = walk_joints(cands, order, config, recording)
    np.testing.assert_array_equal(slots, get_grouper("greedy")(cands, order, config))
    present = [k for k in order if (cands.score[k] > config.detection_threshold).any()]
    if not config.ignore_too_much:
        assert len(calls) == max(len(present) - 1, 0)  # every joint after the one that starts the pool


@SETTINGS
@given(
    k=st.integers(1, 4),
    pixels=st.integers(1, 700),
    dim=st.integers(1, 3),
    pairs=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_refinement_search_equals_a_plain_argmax_with_ties(
    k: int, pixels: int, dim: int, pairs: int, seed: int
):
    """Coarse heatmap levels and tags make many equal scores: the first pixel in raster order must win,
    across the compiled search's chunk boundaries (pixel counts above and below its chunk size)."""
    from aegroup.decode.kernels import refine_pixels

    rng = np.random.default_rng(seed)
    heat = (rng.integers(-2, 5, (k, pixels)) / 4).astype(np.float32)
    tags = (rng.integers(0, 8, (k, pixels, dim)) / 3).astype(np.float32)
    joint = np.sort(rng.integers(0, k, pairs))
    means = (rng.integers(0, 8, (pairs, dim)) / 3).astype(np.float32)
    got = refine_pixels(heat, tags, joint, means)
    for i, j in enumerate(joint):
        square = np.zeros(pixels, np.float32)
        for d in range(dim):
            square += (tags[j, :, d] - means[i, d]) ** 2
        dist = np.abs(tags[j, :, 0] - means[i, 0]) if dim == 1 else np.sqrt(square)
        assert got[i] == np.argmax(heat[j] - np.rint(dist))


def test_warm_up_compiles_every_kernel_a_decode_uses() -> None:
    """After `warm_up`, decoding a real scene (both groupers, refinement, flip-test tags) compiles nothing."""
    from aegroup.decode import group, group_candidates, kernels, warm_up
    from aegroup.schema import load_schema

    schema = load_schema("coco17")
    warm_up(schema)
    dispatchers = [getattr(kernels, name) for name in dir(kernels)]
    dispatchers = [d for d in dispatchers if hasattr(d, "signatures")]
    before = {d.__name__: list(d.signatures) for d in dispatchers}
    rng = np.random.default_rng(3)
    heat = rng.uniform(0, 1, (17, 32, 32)).astype(np.float32)
    for dim in (1, 2):
        tags = rng.normal(0, 2, (17, 32, 32, dim)).astype(np.float32)
        for method in ("hungarian", "greedy"):
            assert group(heat, tags, schema, method)
            group_candidates(candidates.extract_candidates(heat, tags, DecodeConfig()), schema, method)
    assert {d.__name__: list(d.signatures) for d in dispatchers} == before
    assert all(before[name] for name in ("nms_peaks", "refine_pixels", "walk", "join"))


def test_kernels_work_where_no_cache_folder_is_writable(monkeypatch) -> None:
    """When numba finds no folder to cache compiled code in, the kernels compile in memory instead."""
    import importlib.util

    import numba.core.caching

    from aegroup.decode import kernels

    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])
    spec = importlib.util.spec_from_file_location("kernels_without_cache", kernels.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    heat = np.zeros((1, 5, 5), np.float32)
    heat[0, 2, 3] = 1.0
    flat, values = module.nms_peaks(heat, 1, np.float32(0.5))
    assert flat.tolist() == [13] and values.tolist() == [1.0]
    assert module.nms_peaks._cache.__class__.__name__ == "NullCache"
