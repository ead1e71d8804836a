"""Training data: COCO keypoint dataset, augmentation, targets, collate.

`targets`, `transforms` and `collate` import without torch; the torch-based dataset loads on first use,
so `aegroup.data.transforms.preprocess` does not pull in torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aegroup.data.collate import collate
from aegroup.data.transforms import AugmentConfig

if TYPE_CHECKING:
    from aegroup.data.dataset import CocoPoseDataset

__all__ = ["AugmentConfig", "CocoPoseDataset", "collate"]


def __getattr__(name: str) -> Any:
    """Load the torch-based `CocoPoseDataset` on first access."""
    if name == "CocoPoseDataset":
        from aegroup.data.dataset import CocoPoseDataset

        return CocoPoseDataset
    raise AttributeError(f"module 'aegroup.data' has no attribute {name!r}")
