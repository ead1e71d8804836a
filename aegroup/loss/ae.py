"""Associative-embedding grouping loss (push / pull), vectorised over images and instances."""

from __future__ import annotations

from typing import Literal

import torch

PushKind = Literal["exp", "max"]


def gather_joint_tags(tags: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """Tags at the joint indices: `tags` `[B, K*H*W, D]`, `joints` `[B, M, K, 2]` -> `[B, M, K, D]`."""
    b, m, k, _ = joints.shape
    d = tags.shape[-1]
    index = joints[..., 0].reshape(b, m * k, 1).expand(b, m * k, d)
    return tags.gather(1, index).reshape(b, m, k, d)


def _push_kernel(sq_dist: torch.Tensor, kind: PushKind) -> torch.Tensor:
    """Push penalty of a pair of reference tags from their squared distance."""
    if kind == "exp":
        return torch.exp(-sq_dist)
    if kind == "max":
        # sqrt has an infinite derivative at 0 (identical references); the subgradient 0 is taken there,
        # as torch.abs and vector_norm do, so duplicated instances give finite gradients.
        safe = torch.where(sq_dist > 0, sq_dist, torch.ones_like(sq_dist))
        dist = torch.where(sq_dist > 0, safe.sqrt(), torch.zeros_like(sq_dist))
        return torch.clamp(1.0 - dist, min=0.0)
    raise ValueError(f"unknown push kind '{kind}' (expected 'exp' or 'max')")


def ae_loss(
    tags: torch.Tensor, joints: torch.Tensor, kind: PushKind = "exp"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Push and pull losses per image: `tags` `[B, K*H*W, D]`, `joints` `[B, M, K, 2]` -> (`[B]`, `[B]`).

    `joints[..., 0]` is the flat index `k*H*W + y*W + x`, `joints[..., 1]` the visibility (> 0 visible).
    An instance's reference tag is the mean tag of its visible joints. Pull is the mean over instances
    of the mean squared distance of their visible joints' tags to the reference; push over the n
    instances with a visible joint is `(sum_ij f(r_i, r_j) - n) / (n (n - 1)) / 2`, with
    `f = exp(-|r_i - r_j|^2)` (kind "exp") or `max(0, 1 - |r_i - r_j|)` (kind "max"). Push is 0 for
    n < 2, both are 0 for n = 0. Half-precision tags are promoted to float32 (float64 stays float64).
    """
    dtype = torch.promote_types(tags.dtype, torch.float32)
    # Promote after the gather: only B*M*K tags are copied, not the whole map.
    joint_tags = gather_joint_tags(tags, joints).to(dtype)  # [B, M, K, D]
    visible = (joints[..., 1] > 0).to(dtype)  # [B, M, K]
    count = visible.sum(dim=2)  # [B, M] visible joints per instance
    present = count > 0
    ref = (joint_tags * visible.unsqueeze(-1)).sum(dim=2) / count.clamp(min=1).unsqueeze(-1)  # [B, M, D]

    sq_to_ref = (joint_tags - ref.unsqueeze(2)).square().sum(dim=-1)  # [B, M, K]
    pull_inst = (sq_to_ref * visible).sum(dim=2) / count.clamp(min=1)  # [B, M]
    n = present.sum(dim=1).to(dtype)  # [B]
    pull = (pull_inst * present).sum(dim=1) / n.clamp(min=1)

    # The diagonal terms f(r_i, r_i) = 1 cancel the "- n" of the formula, so only pairs i != j are summed.
    sq_pair = (ref.unsqueeze(2) - ref.unsqueeze(1)).square().sum(dim=-1)  # [B, M, M]
    m = joints.shape[1]
    off_diag = ~torch.eye(m, dtype=torch.bool, device=joints.device)
    pair_mask = present.unsqueeze(2) & present.unsqueeze(1) & off_diag
    pair_sum = torch.where(pair_mask, _push_kernel(sq_pair, kind), torch.zeros_like(sq_pair)).sum(dim=(1, 2))
    push = pair_sum / (n * (n - 1)).clamp(min=1) * 0.5
    return push, pull
