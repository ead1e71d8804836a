"""Test-time augmentation merges on tensors: horizontal flip and multiple scales (Newell et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from aegroup.errors import AegroupError


def flip_maps(
    heatmaps: torch.Tensor, tags: torch.Tensor, flip_index: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the maps of a flipped image back: reverse width, swap left/right channels by `flip_index`.

    `heatmaps` (B, K, H, W), `tags` (B, K, D, H, W).
    """
    index = torch.as_tensor(list(flip_index), dtype=torch.long, device=heatmaps.device)
    if index.numel() != heatmaps.shape[1]:
        raise AegroupError(f"flip_index: {index.numel()} entries for {heatmaps.shape[1]} heatmap channels")
    return heatmaps.flip(-1)[:, index], tags.flip(-1)[:, index]


def merge_flip(
    heatmaps: torch.Tensor,
    tags: torch.Tensor,
    flipped_heatmaps: torch.Tensor,
    flipped_tags: torch.Tensor,
    flip_index: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the outputs for an image and its mirror: average heatmaps, concatenate tags (D -> 2D)."""
    back_heat, back_tags = flip_maps(flipped_heatmaps, flipped_tags, flip_index)
    return (heatmaps + back_heat) / 2, torch.cat([tags, back_tags], dim=2)


def resize_maps(
    heatmaps: torch.Tensor, tags: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinearly resize (B, K, H, W) heatmaps and (B, K, D, H, W) tags to `size` = (H', W')."""
    b, k, d, h, w = tags.shape
    heat = F.interpolate(heatmaps, size=size, mode="bilinear", align_corners=False)
    tag = F.interpolate(tags.reshape(b, k * d, h, w), size=size, mode="bilinear", align_corners=False)
    return heat, tag.reshape(b, k, d, *size)


def merge_scales(
    heatmaps: Sequence[torch.Tensor], tags: Sequence[torch.Tensor], size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge several scales' outputs at a common `size`: average heatmaps, concatenate tags (D -> S*D)."""
    if not heatmaps or len(heatmaps) != len(tags):
        raise AegroupError(f"multi-scale merge: {len(heatmaps)} heatmap sets for {len(tags)} tag sets")
    resized = [resize_maps(h, t, size) for h, t in zip(heatmaps, tags, strict=True)]
    heat = torch.stack([h for h, _ in resized]).mean(dim=0)
    return heat, torch.cat([t for _, t in resized], dim=2)
