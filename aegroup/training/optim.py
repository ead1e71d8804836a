"""Adam and the learning-rate schedule (warm-up, then cosine, step or constant) over optimiser steps."""

from __future__ import annotations

import bisect
import math
from functools import partial

import torch

from aegroup.training.config import OptimConfig


def lr_factor(step: int, total_steps: int, cfg: OptimConfig) -> float:
    """Multiplier of `cfg.lr` for optimiser step `step` (0-based) of a `total_steps` run."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "step":
        passed = bisect.bisect_right([m * total_steps for m in cfg.milestones], step)
        return cfg.gamma**passed
    span = max(total_steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    floor = cfg.final_lr_scale
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(
    model: torch.nn.Module, cfg: OptimConfig, total_steps: int
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam over the model's parameters and a LambdaLR stepping `lr_factor` once per optimiser step."""
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(lr_factor, total_steps=total_steps, cfg=cfg)
    )
    return optimizer, scheduler
