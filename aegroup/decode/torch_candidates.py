"""Batched candidate extraction on the model's device (torch); imported only by `decode_batch`."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from aegroup.decode.candidates import check_batch_shapes, select_peaks
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
    check_batch_shapes(tuple(heat.shape), tuple(tag.shape), num_joints)
    b, k, h, w = heat.shape
    for name, t in (("heatmaps", heat), ("tags", tag)):
        if not bool(torch.isfinite(t).all()):
            raise AegroupError(f"{name}: NaN or infinite values (check the model output)")
    pooled = F.max_pool2d(heat, config.nms_kernel, stride=1, padding=config.nms_kernel // 2)
    peaks = torch.where(heat == pooled, heat, torch.full_like(heat, -torch.inf)).view(b, k, h * w)
    # Twice the slots: plateau twins dropped on the CPU (`select_peaks`) must not starve the top-k.
    m = min(2 * config.max_instances, h * w)
    values, index = peaks.topk(m, dim=2)
    # topk's order among equal values is unspecified: re-sort by (score desc, raster order) like numpy.
    index, perm = index.sort(dim=2)
    values = values.gather(2, perm)
    values, perm = values.sort(dim=2, descending=True, stable=True)
    index = index.gather(2, perm)
    y, x = index // w, index % w
    d = tag.shape[2]
    tag_at = tag.view(b, k, d, h * w).gather(3, index[:, :, None, :].expand(b, k, d, m)).permute(0, 1, 3, 2)
    shift = torch.zeros(b, k, m, 2, device=heat.device)
    if config.adjust:
        flat = heat.view(b, k, h * w)

        def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
            return flat.gather(2, yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))

        shift[..., 0] = torch.where(at(y, x + 1) > at(y, x - 1), 0.25, -0.25)
        shift[..., 1] = torch.where(at(y + 1, x) > at(y - 1, x), 0.25, -0.25)
    arrays = [t.cpu().numpy() for t in (values, y, x, shift, tag_at)]
    cands = [_image_candidates(*(a[i] for a in arrays), config) for i in range(b)]
    if not config.refine:
        return cands, None, None
    return cands, heat.cpu().numpy(), tag.permute(0, 1, 3, 4, 2).contiguous().cpu().numpy()


def _image_candidates(
    values: np.ndarray, y: np.ndarray, x: np.ndarray, shift: np.ndarray, tag: np.ndarray, config: DecodeConfig
) -> Candidates:
    """One image's `Candidates` from its (K, m) sorted top-k peaks, selected exactly as the numpy path."""
    k, m = values.shape
    joint = np.repeat(np.arange(k), m)
    keep, slot = select_peaks(joint, values.ravel(), y.ravel(), x.ravel(), config)
    out = Candidates.empty(k, config.max_instances, tag.shape[-1])
    j, s = joint[keep], slot[keep]
    out.xy[j, s] = np.stack([x.ravel(), y.ravel()], axis=1)[keep] + shift.reshape(-1, 2)[keep]
    out.score[j, s] = values.ravel()[keep]
    out.tag[j, s] = tag.reshape(k * m, -1)[keep]
    return out
