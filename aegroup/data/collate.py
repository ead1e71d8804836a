"""Batching `PoseDataset` items for a `torch.utils.data.DataLoader`."""

from __future__ import annotations

from typing import Any


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack `image`, `heatmaps`, `mask` and `joints` into batch tensors; `meta` becomes a list of dicts."""
    import torch  # here, so that `aegroup.data` imports without torch

    return {
        "image": torch.stack([item["image"] for item in batch]),
        "heatmaps": torch.stack([item["heatmaps"] for item in batch]),
        "mask": torch.stack([item["mask"] for item in batch]),
        "joints": torch.stack([item["joints"] for item in batch]),
        "meta": [item["meta"] for item in batch],
    }
