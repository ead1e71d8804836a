"""Batched candidate extraction on the model's device (torch); imported only by `decode_batch`."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.errors import AegroupError


def batch_candidates(
    heatmaps: torch.Tensor, tags: torch.Tensor, num_joints: int, config: DecodeConfig
) -> tuple[list[Candidates], np.ndarray | None, np.ndarray | None]:
    """Per-image `Candidates` for a batch, plus CPU maps (B, K, H, W) and (B, K, H, W, D) when refining.

    `heatmaps` (B, K, H, W), `tags` (B, K, D, H, W) or (B, K, H, W) for D = 1. Same peaks, order (score
    descending, raster order on ties) and adjust as the numpy path.
    """
    heat = torch.as_tensor(heatmaps).detach().float()
    tag = torch.as_tensor(tags).detach().float().to(heat.device)
    if tag.dim() == 4:
        tag = tag.unsqueeze(2)
    if heat.dim() != 4 or heat.shape[1] != num_joints:
        raise AegroupError(f"heatmaps: expected (B, {num_joints}, H, W), got {tuple(heat.shape)}")
    b, k, h, w = heat.shape
    if tag.dim() != 5 or tag.shape[:2] != heat.shape[:2] or tag.shape[3:] != heat.shape[2:]:
        raise AegroupError(f"tags: expected (B, K, D, H, W) matching heatmaps, got {tuple(tag.shape)}")
    for name, t in (("heatmaps", heat), ("tags", tag)):
        if not bool(torch.isfinite(t).all()):
            raise AegroupError(f"{name}: NaN or infinite values (check the model output)")
    pooled = F.max_pool2d(heat, config.nms_kernel, stride=1, padding=config.nms_kernel // 2)
    peaks = torch.where(heat == pooled, heat, torch.full_like(heat, -torch.inf)).view(b, k, h * w)
    m = min(config.max_instances, h * w)
    values, index = peaks.topk(m, dim=2)
    # topk's order among equal values is unspecified: re-sort by (score desc, raster order) like numpy.
    index, perm = index.sort(dim=2)
    values = values.gather(2, perm)
    values, perm = values.sort(dim=2, descending=True, stable=True)
    index = index.gather(2, perm)
    y, x = index // w, index % w
    d = tag.shape[2]
    tag_at = tag.view(b, k, d, h * w).gather(3, index[:, :, None, :].expand(b, k, d, m)).permute(0, 1, 3, 2)
    xy = torch.stack([x, y], dim=3).float()
    if config.adjust:
        flat = heat.view(b, k, h * w)

        def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
            return flat.gather(2, yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))

        xy[..., 0] += torch.where(at(y, x + 1) > at(y, x - 1), 0.25, -0.25)
        xy[..., 1] += torch.where(at(y + 1, x) > at(y - 1, x), 0.25, -0.25)
    valid = values > config.detection_threshold
    score = torch.where(valid, values, torch.zeros_like(values))
    xy = xy * valid[..., None]
    tag_at = tag_at * valid[..., None]
    score_np, xy_np, tag_np = (t.cpu().numpy().astype(np.float32) for t in (score, xy, tag_at))
    cands = [Candidates(xy=xy_np[i], score=score_np[i], tag=tag_np[i]) for i in range(b)]
    if not config.refine:
        return cands, None, None
    return cands, heat.cpu().numpy(), tag.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy()
