"""Test-time augmentation merges: horizontal flip and multiple scales (Newell et al. 2017).

Maps are torch tensors (on their device) or numpy arrays (ONNX Runtime's outputs; torch is then never
imported). Flipping, averaging and concatenating are one implementation for both and give identical bits;
the bilinear resize of multi-scale merging is `F.interpolate` for tensors and `resize_bilinear` for
arrays, which agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aegroup.errors import AegroupError


def flip_maps(heatmaps: Any, tags: Any, flip_index: Sequence[int]) -> tuple[Any, Any]:
    """Mirror the maps of a flipped image back: reverse width, swap left/right channels by `flip_index`.

    `heatmaps` (B, K, H, W), `tags` (B, K, D, H, W), both tensors or both numpy arrays.
    """
    index = list(flip_index)
    if len(index) != heatmaps.shape[1]:
        raise AegroupError(f"flip_index: {len(index)} entries for {heatmaps.shape[1]} heatmap channels")
    if isinstance(heatmaps, np.ndarray):
        return heatmaps[..., ::-1][:, index], tags[..., ::-1][:, index]
    return heatmaps.flip(-1)[:, index], tags.flip(-1)[:, index]


def merge_flip(
    heatmaps: Any, tags: Any, flipped_heatmaps: Any, flipped_tags: Any, flip_index: Sequence[int]
) -> tuple[Any, Any]:
    """Merge the outputs for an image and its mirror: average heatmaps, concatenate tags (D -> 2D)."""
    back_heat, back_tags = flip_maps(flipped_heatmaps, flipped_tags, flip_index)
    return (heatmaps + back_heat) / 2, concatenate([tags, back_tags], axis=2)


def resize_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize (..., H, W) float32 maps to `size` = (H', W') as `F.interpolate(align_corners=False)`
    does on a CPU: pixel centres aligned, samples outside the map clamped to its edge, float32 arithmetic in
    torch's order (along the width first)."""
    rows_a, rows_b, row_w = _linear_taps(maps.shape[-2], size[0])
    cols_a, cols_b, col_w = _linear_taps(maps.shape[-1], size[1])
    cols = maps[..., cols_a] * (1 - col_w) + maps[..., cols_b] * col_w
    return cols[..., rows_a, :] * (1 - row_w)[:, None] + cols[..., rows_b, :] * row_w[:, None]


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output pixel: its two source pixels and the weight of the second (float32, as torch)."""
    scale = np.float32(n_in) / np.float32(n_out)
    source = np.maximum(scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    first = np.minimum(source.astype(np.int64), n_in - 1)
    second = np.minimum(first + 1, n_in - 1)
    weight = np.clip(source - first.astype(np.float32), 0, 1).astype(np.float32)
    return first, second, weight


def resize_maps(heatmaps: Any, tags: Any, size: tuple[int, int]) -> tuple[Any, Any]:
    """Bilinearly resize (B, K, H, W) heatmaps and (B, K, D, H, W) tags to `size` = (H', W')."""
    if isinstance(heatmaps, np.ndarray):
        return resize_bilinear(heatmaps, size), resize_bilinear(tags, size)
    import torch.nn.functional as F  # tensors only: the numpy path needs no torch

    b, k, d, h, w = tags.shape
    heat = F.interpolate(heatmaps, size=size, mode="bilinear", align_corners=False)
    tag = F.interpolate(tags.reshape(b, k * d, h, w), size=size, mode="bilinear", align_corners=False)
    return heat, tag.reshape(b, k, d, *size)


def merge_scales(heatmaps: Sequence[Any], tags: Sequence[Any], size: tuple[int, int]) -> tuple[Any, Any]:
    """Merge several scales' outputs at a common `size`: average heatmaps, concatenate tags (D -> S*D)."""
    if not heatmaps or len(heatmaps) != len(tags):
        raise AegroupError(f"multi-scale merge: {len(heatmaps)} heatmap sets for {len(tags)} tag sets")
    resized = [resize_maps(h, t, size) for h, t in zip(heatmaps, tags, strict=True)]
    total = resized[0][0]
    for heat, _ in resized[1:]:
        total = total + heat
    return total / len(resized), concatenate([t for _, t in resized], axis=2)


def concatenate(maps: Sequence[Any], axis: int) -> Any:
    """Tensors or numpy arrays joined along `axis`."""
    if isinstance(maps[0], np.ndarray):
        return np.concatenate(maps, axis=axis)
    import torch

    return torch.cat(list(maps), dim=axis)
