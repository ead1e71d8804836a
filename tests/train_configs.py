"""Training configs of a very small model for the training tests: 64-pixel inputs, the CPU, no workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aegroup.schema import PoseSchema

TINY_MODEL = {"preset": "tiny", "nstack": 1, "channels": 8, "increase": 4, "depth": 2, "stem_channels": 4}


def write_config(folder: Path, schema: PoseSchema, **fields: Any) -> Path:
    """folder/train.yaml with the skeleton beside it: batch 3, 2 epochs, a checkpoint every 2 steps, a log
    row every step, lr 1e-3, output in folder/out; `fields` override or add top-level fields."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.yaml").write_text(schema.to_yaml())
    data = {
        "schema": "schema.yaml",
        "model": TINY_MODEL,
        "input_size": 64,
        "batch_size": 3,
        "epochs": 2,
        "workers": 0,
        "checkpoint_every": 2,
        "log_every": 1,
        "device": "cpu",
        "optim": {"lr": 1e-3},
        "output_dir": "out",
        **fields,
    }
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def synth_source(synth_set: tuple[Path, Path, PoseSchema]) -> dict[str, str]:
    """The `train` entry of the conftest's synthetic set."""
    ann, images, _ = synth_set
    return {"ann_file": str(ann), "image_dir": str(images)}
