"""Prediction: a trained network applied to images; grouped instances in image pixels, results files.

`network` (the `Network` protocol a backend implements), `torch_network` (the torch forward pass),
`images` (listing, reading and batching images; no torch), `predictor` (`Predictor`: test-time
augmentation, grouping, the way back to image pixels), `files` (many files -> one results file; no torch).
Names load on first use, so `aegroup.predict.files` and `.images` import without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Network": "network",
    "TorchNetwork": "torch_network",
    "IMAGE_SUFFIXES": "images",
    "image_files": "images",
    "Prediction": "predictor",
    "Predictor": "predictor",
    "ImageEntry": "files",
    "PredictSummary": "files",
    "image_list": "files",
    "run_prediction": "files",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Load a public name from its submodule on first access."""
    if name not in _WHERE:
        raise AttributeError(f"module 'aegroup.predict' has no attribute {name!r}")
    return getattr(importlib.import_module(f"aegroup.predict.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return __all__
