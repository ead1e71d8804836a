"""Training: config, loop, checkpoints and multi-process (torchrun + DDP) support.

Names are imported on first use, so that reading a config or a checkpoint does not load the data pipeline.
"""

from aegroup.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Checkpoint": "aegroup.training.checkpoint",
        "load_checkpoint": "aegroup.training.checkpoint",
        "load_model": "aegroup.training.checkpoint",
        "save_checkpoint": "aegroup.training.checkpoint",
        "TrainConfig": "aegroup.training.config",
        "load_train_config": "aegroup.training.config",
        "TrainResult": "aegroup.training.loop",
        "train": "aegroup.training.loop",
    },
)
__all__ = __dir__()
