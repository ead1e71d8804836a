"""Weighted training loss over all stacks: heatmap MSE plus associative-embedding push and pull."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel, ConfigDict, Field

from aegroup.loss.ae import PushKind, ae_loss
from aegroup.loss.heatmap import heatmap_loss

if TYPE_CHECKING:
    from aegroup.model import ModelOutput


class LossConfig(BaseModel):
    """Weights of the loss terms and the push penalty; defaults are those of the paper's code."""

    model_config = ConfigDict(extra="forbid")

    heatmap_weight: float = Field(default=1.0, ge=0, description="Weight of the heatmap MSE.")
    push_weight: float = Field(default=1e-3, ge=0, description="Weight of the push (separation) term.")
    pull_weight: float = Field(default=1e-3, ge=0, description="Weight of the pull (grouping) term.")
    kind: PushKind = Field(default="exp", description="Push penalty: 'exp' (paper) or 'max' (hinge).")


@dataclass(frozen=True)
class LossTerms:
    """Weighted loss terms, each summed over stacks and averaged over the batch; `total` is their sum."""

    total: torch.Tensor
    heatmap: torch.Tensor
    push: torch.Tensor
    pull: torch.Tensor


def flatten_tags(tags: torch.Tensor) -> torch.Tensor:
    """Model tag maps `[..., K, D, H, W]` -> loss layout `[..., K*H*W, D]` (joint, row, column order)."""
    *lead, k, d, h, w = tags.shape
    return tags.movedim(-3, -1).reshape(*lead, k * h * w, d)


def total_loss(
    output: ModelOutput,
    heatmaps: torch.Tensor,
    mask: torch.Tensor,
    joints: torch.Tensor,
    cfg: LossConfig,
) -> LossTerms:
    """Loss of every stack against the same targets (intermediate supervision), batched over stacks.

    `heatmaps` `[B, K, H, W]`, `mask` `[B, H, W]`, `joints` `[B, M, K, 2]` come from the data pipeline.
    """
    pred_heat: Sequence[torch.Tensor] = output.heatmaps
    stacks = len(pred_heat)
    heat = heatmap_loss(torch.stack(list(pred_heat)), heatmaps, mask)  # [S, B]
    tags = flatten_tags(torch.stack(list(output.tags)))  # [S, B, K*H*W, D]
    b = tags.shape[1]
    push, pull = ae_loss(tags.flatten(0, 1), joints.repeat(stacks, 1, 1, 1), kind=cfg.kind)
    heat_term = cfg.heatmap_weight * heat.sum(0).mean()
    push_term = cfg.push_weight * push.view(stacks, b).sum(0).mean()
    pull_term = cfg.pull_weight * pull.view(stacks, b).sum(0).mean()
    return LossTerms(
        total=heat_term + push_term + pull_term, heatmap=heat_term, push=push_term, pull=pull_term
    )
