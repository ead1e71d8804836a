"""Property tests (hypothesis) for every registered grouper, and invalid-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegroup.decode import (
    Candidates,
    DecodeConfig,
    available_groupers,
    extract_candidates,
    get_grouper,
    group,
    group_candidates,
)
from aegroup.errors import AegroupError
from aegroup.schema import PoseSchema

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def maps(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, DecodeConfig]:
    """Random sparse heatmaps with clustered tags, and a random decode configuration."""
    k = draw(st.integers(1, 5))
    h, w = draw(st.integers(4, 24)), draw(st.integers(4, 24))
    d = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    heat = rng.random((k, h, w)).astype(np.float32) ** draw(st.sampled_from([1.0, 4.0, 12.0]))
    tags = (rng.integers(0, 4, (k, h, w, 1)) + rng.normal(0, 0.3, (k, h, w, d))).astype(np.float32)
    config = DecodeConfig(
        max_instances=draw(st.integers(1, 8)),
        detection_threshold=draw(st.sampled_from([0.0, 0.1, 0.5])),
        tag_threshold=draw(st.sampled_from([0.3, 1.0, 3.0])),
        nms_kernel=draw(st.sampled_from([1, 3, 5])),
        use_detection_val=draw(st.booleans()),
        gate_by_threshold=draw(st.booleans()),
        ignore_too_much=draw(st.booleans()),
        adjust=draw(st.booleans()),
        refine=draw(st.booleans()),
    )
    return heat, tags, config


def schema_for(k: int) -> PoseSchema:
    """A K-joint schema grouped in reverse channel order (so the walk order is not the channel order)."""
    joints = [f"j{i}" for i in range(k)]
    return PoseSchema(name=f"s{k}", joints=joints, group_order=list(reversed(joints)))


@pytest.mark.parametrize("method", available_groupers())
@SETTINGS
@given(case=maps())
def test_every_candidate_lands_in_exactly_one_instance(method: str, case) -> None:
    heat, tags, config = case
    schema = schema_for(heat.shape[0])
    cands = extract_candidates(heat, tags, config)
    slots = np.asarray(get_grouper(method)(cands, schema.group_index, config))
    assert slots.ndim == 2 and slots.shape[1] == heat.shape[0]  # at most one joint of each type
    used = [(k, s) for k in range(slots.shape[1]) for s in slots[:, k] if s >= 0]
    assert len(used) == len(set(used))  # no candidate in two instances
    valid = {(k, s) for k, s in zip(*np.nonzero(cands.score > config.detection_threshold), strict=True)}
    assert set(used) <= valid
    if not config.ignore_too_much:
        assert set(used) == valid  # and every candidate starts or joins one


@pytest.mark.parametrize("method", available_groupers())
@SETTINGS
@given(case=maps())
def test_instances_are_well_formed(method: str, case) -> None:
    heat, tags, config = case
    k, h, w = heat.shape
    instances = group(heat, tags, schema_for(k), method, config)
    scores = [i.score for i in instances]
    assert scores == sorted(scores, reverse=True)
    for inst in instances:
        assert inst.keypoints.shape == (k, 3) and inst.tags.shape == (k, tags.shape[-1])
        present = inst.keypoints[:, 2] > 0
        assert present.any()
        xy = inst.keypoints[present, :2]
        assert (xy >= -0.25).all() and (xy[:, 0] <= w - 0.75).all() and (xy[:, 1] <= h - 0.75).all()
        assert inst.score == pytest.approx(inst.keypoints[:, 2].mean()) or config.refine


@pytest.mark.parametrize("method", available_groupers())
@SETTINGS
@given(
    k=st.integers(1, 4),
    h=st.integers(1, 16),
    w=st.integers(1, 16),
    d=st.integers(1, 3),
    value=st.sampled_from([0.0, -1.0]),
)
def test_empty_maps_give_no_instances(method: str, k: int, h: int, w: int, d: int, value: float) -> None:
    heat = np.full((k, h, w), value, np.float32)
    tags = np.random.default_rng(0).normal(size=(k, h, w, d)).astype(np.float32)
    assert group(heat, tags, schema_for(k), method) == []
    assert group_candidates(Candidates.empty(k, 5, d), schema_for(k), method) == []


@pytest.mark.parametrize("method", available_groupers())
@SETTINGS
@given(
    where=st.sampled_from(["heatmaps", "tags"]),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    index=st.integers(0, 10_000),
)
def test_nan_or_inf_inputs_give_a_clear_error(method: str, where: str, bad: float, index: int) -> None:
    heat = np.random.default_rng(1).random((3, 10, 10)).astype(np.float32)
    tags = np.zeros((3, 10, 10, 2), np.float32)
    target = heat if where == "heatmaps" else tags
    target.reshape(-1)[index % target.size] = bad
    with pytest.raises(AegroupError, match=f"^{where}: 1 NaN or infinite values"):
        group(heat, tags, schema_for(3), method)


def test_nan_candidates_give_a_clear_error() -> None:
    cands = Candidates.empty(2, 3, 1)
    cands.tag[1, 0, 0] = np.nan
    with pytest.raises(AegroupError, match=r"candidates\.tag"):
        group_candidates(cands, schema_for(2))


def test_huge_finite_values_are_not_reported_as_non_finite() -> None:
    """Their sum of squares overflows float32; only real NaN or inf entries are errors."""
    heat = np.zeros((2, 6, 6), np.float32)
    heat[0, 2, 3] = 0.9
    tags = np.full((2, 6, 6, 1), -1e30, np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(np.dot(tags.ravel(), tags.ravel()))
    (inst,) = group(heat, tags, schema_for(2), refine=False)
    assert inst.tags[0, 0] == np.float32(-1e30)
