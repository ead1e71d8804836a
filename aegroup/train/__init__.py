"""Training: config, loop, checkpoints and multi-process (torchrun + DDP) support.

Names are imported on first use, so that reading a config or a checkpoint does not load the data pipeline.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Checkpoint": "aegroup.train.checkpoint",
    "load_checkpoint": "aegroup.train.checkpoint",
    "load_model": "aegroup.train.checkpoint",
    "save_checkpoint": "aegroup.train.checkpoint",
    "TrainConfig": "aegroup.train.config",
    "load_train_config": "aegroup.train.config",
    "TrainResult": "aegroup.train.loop",
    "train": "aegroup.train.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'aegroup.train' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
