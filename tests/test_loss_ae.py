"""ae_loss and heatmap_loss against plain per-instance loop references (values and gradients)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aegroup.loss import LossConfig, ae_loss, flatten_tags, heatmap_loss, total_loss
from aegroup.model import ModelOutput


def loop_ae_loss(
    tags: torch.Tensor, joints: torch.Tensor, kind: str = "exp"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the formula of issue 3 written one image and one instance at a time."""
    pushes, pulls = [], []
    for b in range(tags.shape[0]):
        image_tags = tags[b]  # [K*H*W, D]
        refs, pull_terms = [], []
        for person in joints[b]:
            vis = [int(idx) for idx, v in person.tolist() if v > 0]
            if not vis:
                continue
            person_tags = image_tags[torch.tensor(vis)]  # [V, D], one row per visible joint
            ref = person_tags.mean(dim=0)
            refs.append(ref)
            pull_terms.append(torch.stack([((t - ref) ** 2).sum() for t in person_tags]).mean())
        n = len(refs)
        zero = tags.sum() * 0.0
        pulls.append(torch.stack(pull_terms).mean() if n else zero)
        if n < 2:
            pushes.append(zero)
            continue
        total = zero
        for i in range(n):
            for j in range(n):
                if kind == "exp":
                    total = total + torch.exp(-((refs[i] - refs[j]) ** 2).sum())
                else:
                    total = total + torch.clamp(1 - torch.linalg.vector_norm(refs[i] - refs[j]), min=0)
        pushes.append((total - n) / (n * (n - 1)) * 0.5)
    return torch.stack(pushes), torch.stack(pulls)


@st.composite
def ae_cases(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Random tags and joints: 0, 1 or many instances, invisible joints and duplicated indices."""
    b = draw(st.integers(1, 3))
    m = draw(st.sampled_from([1, 2, 5]))
    k = draw(st.integers(1, 4))
    d = draw(st.integers(1, 3))
    h = w = draw(st.sampled_from([2, 4]))
    kind = draw(st.sampled_from(["exp", "max"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    # A small index range makes duplicate indices (two joints on one pixel) frequent.
    hw = draw(st.sampled_from([2, h * w]))
    idx = rng.integers(0, k, size=(b, m, k)) * h * w + rng.integers(0, hw, size=(b, m, k))
    vis = rng.random((b, m, k)) < draw(st.sampled_from([0.0, 0.5, 1.0]))
    # Whole empty instances (n below M), and sometimes an image with no instance at all.
    vis &= rng.random((b, m, 1)) < 0.8
    joints = torch.from_numpy(np.stack([np.where(vis, idx, 0), vis], axis=-1).astype(np.int64))
    tags = torch.from_numpy(rng.normal(scale=draw(st.sampled_from([0.1, 1.0])), size=(b, k * h * w, d)))
    return tags.double(), joints, kind


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(ae_cases())
def test_ae_loss_matches_loop_values_and_gradients(case: tuple[torch.Tensor, torch.Tensor, str]) -> None:
    tags, joints, kind = case
    fast = tags.clone().requires_grad_(True)
    slow = tags.clone().requires_grad_(True)
    push, pull = ae_loss(fast, joints, kind=kind)
    ref_push, ref_pull = loop_ae_loss(slow, joints, kind=kind)
    _close(push, ref_push)
    _close(pull, ref_pull)
    weights = torch.rand(2, tags.shape[0], dtype=torch.float64)
    (grad,) = torch.autograd.grad((push * weights[0] + pull * weights[1]).sum(), fast)
    (ref_grad,) = torch.autograd.grad((ref_push * weights[0] + ref_pull * weights[1]).sum(), slow)
    _close(grad, ref_grad)


def _joints(rows: list[list[tuple[int, int]]]) -> torch.Tensor:
    """[1, M, K, 2] joints from per-instance (index, visible) lists."""
    return torch.tensor([rows], dtype=torch.int64)


@pytest.mark.parametrize(
    ("kind", "second_tag", "expected_push"),
    [("exp", 1.0, 0.5 * math.exp(-1.0)), ("max", 1.0, 0.0), ("max", 0.5, 0.25), ("exp", 0.0, 0.5)],
)
def test_ae_loss_two_instances_by_hand(kind: str, second_tag: float, expected_push: float) -> None:
    tags = torch.tensor([[[0.0], [second_tag], [7.0]]])
    joints = _joints([[(0, 1), (2, 0)], [(1, 1), (2, 0)]])  # joint at index 2 is invisible in both
    push, pull = ae_loss(tags, joints, kind=kind)
    assert push.item() == pytest.approx(expected_push, rel=1e-6)
    assert pull.item() == 0.0


def test_ae_loss_pull_is_mean_squared_distance_to_reference() -> None:
    tags = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]]])
    joints = _joints([[(0, 1), (1, 1)], [(2, 1), (2, 0)]])
    push, pull = ae_loss(tags, joints)
    # instance 0: ref (1, 0), squared distances 1 and 1; instance 1: one joint, 0.
    assert pull.item() == pytest.approx((1.0 + 0.0) / 2)
    assert push.item() == pytest.approx(0.5 * math.exp(-17.0), rel=1e-5)


def test_ae_loss_no_or_one_instance_is_zero() -> None:
    tags = torch.randn(2, 8, 1, requires_grad=True)
    joints = torch.zeros(2, 3, 2, 2, dtype=torch.int64)
    joints[1, 1] = torch.tensor([[3, 1], [5, 1]])  # image 1: one instance
    push, pull = ae_loss(tags, joints)
    assert push.tolist() == [0.0, 0.0]
    assert pull[0].item() == 0.0 and pull[1].item() > 0.0
    (push.sum() + pull[0]).backward()
    assert not tags.grad.any()


def test_ae_loss_half_precision_and_bad_kind() -> None:
    tags = torch.randn(1, 8, 2).bfloat16()
    joints = _joints([[(0, 1), (1, 1)], [(4, 1), (5, 1)]])
    push, pull = ae_loss(tags, joints)
    assert push.dtype == pull.dtype == torch.float32
    with pytest.raises(ValueError, match="unknown push kind"):
        ae_loss(tags, joints, kind="hinge")  # type: ignore[arg-type]


def loop_heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Reference: masked squared error summed pixel by pixel, divided by K*H*W, per image."""
    b, k, h, w = pred.shape
    out = []
    for i in range(b):
        total = pred.sum() * 0.0
        for j in range(k):
            total = total + (mask[i] * (pred[i, j] - target[i, j]) ** 2).sum()
        out.append(total / (k * h * w))
    return torch.stack(out)


def test_heatmap_loss_matches_loop_over_stacks() -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 2, 4, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.rand(2, 4, 5, 6, generator=gen, dtype=torch.float64)
    mask = (torch.rand(2, 5, 6, generator=gen) > 0.3).double()
    fast = heatmap_loss(pred, target, mask)
    assert fast.shape == (3, 2)
    slow = torch.stack([loop_heatmap_loss(p, target, mask) for p in pred])
    _close(fast, slow)
    (g_fast,) = torch.autograd.grad(fast.sum(), pred)
    (g_slow,) = torch.autograd.grad(slow.sum(), pred)
    _close(g_fast, g_slow)


def test_total_loss_sums_stacks_and_weights_terms() -> None:
    gen = torch.Generator().manual_seed(1)
    b, k, d, h, w, stacks = 2, 3, 2, 4, 4, 2
    heat = [torch.randn(b, k, h, w, generator=gen) for _ in range(stacks)]
    tags = [torch.randn(b, k, d, h, w, generator=gen) for _ in range(stacks)]
    target = torch.rand(b, k, h, w, generator=gen)
    mask = torch.ones(b, h, w)
    joints = torch.stack([torch.randint(0, k * h * w, (b, 4, k)), torch.randint(0, 2, (b, 4, k))], dim=-1)

    cfg = LossConfig(heatmap_weight=2.0, push_weight=0.5, pull_weight=0.25, kind="max")
    terms = total_loss(ModelOutput(heat, tags), target, mask, joints, cfg)
    exp_heat = sum(loop_heatmap_loss(p, target, mask).mean() for p in heat) * 2.0
    per_stack = [loop_ae_loss(t.permute(0, 1, 3, 4, 2).reshape(b, -1, d), joints, "max") for t in tags]
    torch.testing.assert_close(terms.heatmap, exp_heat)
    torch.testing.assert_close(terms.push, sum(p.mean() for p, _ in per_stack) * 0.5)
    torch.testing.assert_close(terms.pull, sum(q.mean() for _, q in per_stack) * 0.25)
    torch.testing.assert_close(terms.total, terms.heatmap + terms.push + terms.pull)
    assert flatten_tags(tags[0]).shape == (b, k * h * w, d)


def test_flatten_tags_uses_the_joint_index_order() -> None:
    tags = torch.randn(2, 3, 2, 4, 5)  # [B, K, D, H, W]
    flat = flatten_tags(tags)
    b, k, y, x = 1, 2, 3, 1
    torch.testing.assert_close(flat[b, k * 4 * 5 + y * 5 + x], tags[b, k, :, y, x])
    torch.testing.assert_close(flat, tags.permute(0, 1, 3, 4, 2).reshape(2, 3 * 4 * 5, 2))
