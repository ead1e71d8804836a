"""Heatmap loss: masked mean squared error per image, as in the stacked-hourglass references."""

from __future__ import annotations

import torch


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked MSE per image: `pred`, `target` `[..., B, K, H, W]`, `mask` `[B, H, W]` -> `[..., B]`.

    Leading dimensions (e.g. stacks) broadcast, so all stacks are scored in one call. The squared error
    is zeroed where `mask` is 0 and averaged over every joint and pixel (not over the mask's sum), which
    is the normalisation of the paper's code and keeps the loss scale independent of the crowd masks.
    """
    # Half-precision predictions (autocast) are scored in float32; float64 stays float64.
    dtype = torch.promote_types(pred.dtype, torch.float32)
    err = (pred.to(dtype) - target.to(dtype)).square() * mask.to(dtype).unsqueeze(-3)
    return err.mean(dim=(-3, -2, -1))
