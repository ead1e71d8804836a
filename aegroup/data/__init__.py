"""Training data: labelled-frame sources, the pose dataset, augmentation, targets, collate.

`targets`, `transforms` and `collate` import without torch; the torch-based datasets load on first use,
so `aegroup.data.transforms.preprocess` does not pull in torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aegroup.data.collate import collate
from aegroup.data.transforms import AugmentConfig

if TYPE_CHECKING:
    from aegroup.data.dataset import CocoPoseDataset, PoseDataset

__all__ = ["AugmentConfig", "CocoPoseDataset", "PoseDataset", "collate"]


def __getattr__(name: str) -> Any:
    """Load the torch-based datasets on first access."""
    if name in ("CocoPoseDataset", "PoseDataset"):
        from aegroup.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'aegroup.data' has no attribute {name!r}")
