"""The network call of prediction as a protocol: what any backend (the torch model today) provides."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Network(Protocol):
    """A pose network's forward pass: a normalised input batch in, the last stack's maps out."""

    def __call__(self, batch: np.ndarray) -> tuple[Any, Any]:
        """Heatmaps (B, K, H, W) and tags (B, K, D, H, W) of the last stack, float32, for one input batch.

        `batch` is (B, 3, S, S) float32 RGB normalised by `aegroup.data.transforms.normalize`, with S a
        multiple of the network's size multiple. The maps are torch tensors (on any device) or numpy arrays.
        """
        ...
