"""Checkpoints that never unpickle code: safetensors weights, a JSON sidecar, weights-only training state.

A checkpoint is a folder:
- `model.safetensors`: the model's state dict;
- `checkpoint.json`: format, schema, model config, decode config, input size, epoch, step, metrics and the
  SHA-256 of the other files (a mismatch means a damaged checkpoint);
- `state.pt` (resumable checkpoints only): optimiser, scheduler, grad scaler, RNG and data position,
  written with `torch.save` and read with `torch.load(weights_only=True)`.
Each file is written atomically into a fresh folder which then replaces the old one, so a run killed at
any moment leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from aegroup.decode.config import DecodeConfig
from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_bytes, atomic_write_json
from aegroup.model import ModelConfig, build_model
from aegroup.schema import PoseSchema

FORMAT = "aegroup-checkpoint"
VERSION = 1
WEIGHTS = "model.safetensors"
SIDECAR = "checkpoint.json"
STATE = "state.pt"


@dataclass
class Checkpoint:
    """A loaded checkpoint: what is needed to rebuild the model and decode its output."""

    path: Path
    schema: PoseSchema
    model_config: ModelConfig
    decode_config: DecodeConfig
    epoch: int
    step: int
    metrics: dict[str, float]
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)
    eval_input_size: int | None = None
    """Input side to predict at, when the run set one apart from the training side (`eval_input_size`)."""

    @property
    def input_size(self) -> int:
        """Square input side to predict at (what `preprocess` resizes to): the run's eval_input_size, else the
        side the model was trained at."""
        return self.eval_input_size or self.model_config.input_size

    @property
    def output_stride(self) -> int:
        """Input pixels per heatmap pixel."""
        return self.model_config.output_stride


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DistributedDataParallel and/or `torch.compile` wrappers."""
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(
    directory: str | Path,
    model: torch.nn.Module,
    schema: PoseSchema,
    model_config: ModelConfig,
    decode_config: DecodeConfig,
    epoch: int,
    step: int,
    metrics: dict[str, float] | None = None,
    training_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    eval_input_size: int | None = None,
) -> Path:
    """Write a checkpoint folder (weights, sidecar, optional training state); returns the folder.

    `eval_input_size` is the side to predict at when it differs from the training side (`input_size` in
    the sidecar; the model config keeps the training side)."""
    target = Path(directory)
    tensors = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    blobs = {WEIGHTS: save_safetensors(tensors)}
    if training_state is not None:
        buffer = io.BytesIO()
        torch.save(training_state, buffer)
        blobs[STATE] = buffer.getvalue()
    sidecar = {
        "format": FORMAT,
        "version": VERSION,
        "schema": schema.model_dump(mode="json"),
        "model_config": model_config.model_dump(mode="json"),
        "decode_config": decode_config.model_dump(mode="json"),
        "input_size": eval_input_size or model_config.input_size,
        "output_stride": model_config.output_stride,
        "epoch": epoch,
        "step": step,
        "metrics": dict(metrics or {}),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()},
        "extra": extra or {},
    }
    staging = target.parent / f".{target.name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    for name, data in blobs.items():
        atomic_write_bytes(staging / name, data)
    atomic_write_json(staging / SIDECAR, sidecar, indent=1)
    _publish(staging, target)
    return target


def _publish(staging: Path, target: Path) -> None:
    """Replace `target` by the complete `staging` folder; `.NAME.old` bridges the moment between."""
    old = target.parent / f".{target.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder meant by `path`: a checkpoint folder, a file in one, or a run folder."""
    given = Path(path)
    if given.is_file() and given.name in (WEIGHTS, SIDECAR, STATE):
        given = given.parent
    candidates = [given, given / "best", given / "last"]
    # A run killed while swapping folders leaves the previous checkpoint as .NAME.old.
    candidates += [c.parent / f".{c.name}.old" for c in candidates]
    for folder in candidates:
        if (folder / SIDECAR).is_file():
            return folder
    if not given.exists():
        raise AegroupError(f"{given}: checkpoint not found")
    raise AegroupError(f"{given}: not a checkpoint (no {SIDECAR} in it, nor in best/ or last/)")


def read_sidecar(folder: Path) -> dict[str, Any]:
    """The parsed `checkpoint.json` of a checkpoint folder, checked for format and version."""
    path = folder / SIDECAR
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AegroupError(f"{path}: corrupt checkpoint sidecar ({type(err).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise AegroupError(f"{path}: field 'format' is not '{FORMAT}'")
    if data.get("version") != VERSION:
        raise AegroupError(
            f"{path}: field 'version' is {data.get('version')!r}, this aegroup reads {VERSION}"
        )
    return data


def _read_blob(folder: Path, name: str, sidecar: dict[str, Any]) -> bytes:
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as err:
        raise AegroupError(f"{path}: cannot read checkpoint file ({err.strerror or err})") from None
    expected = sidecar.get("files", {}).get(name)
    if expected != hashlib.sha256(data).hexdigest():
        raise AegroupError(f"{path}: corrupt checkpoint file (SHA-256 differs from {SIDECAR})")
    return data


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint's sidecar and weights (no training state); one-line error when missing or corrupt."""
    folder = find_checkpoint(path)
    sidecar = read_sidecar(folder)
    source = folder / SIDECAR
    try:
        schema = PoseSchema.model_validate(sidecar.get("schema"))
        model_config = ModelConfig.model_validate(sidecar.get("model_config"))
        decode_config = DecodeConfig.model_validate(sidecar.get("decode_config"))
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None
    try:
        state_dict = load_safetensors(_read_blob(folder, WEIGHTS, sidecar))
    except SafetensorError as err:
        raise AegroupError(f"{folder / WEIGHTS}: corrupt weights ({err})") from None
    return Checkpoint(
        path=folder,
        schema=schema,
        model_config=model_config,
        decode_config=decode_config,
        epoch=int(sidecar.get("epoch", 0)),
        step=int(sidecar.get("step", 0)),
        metrics={k: float(v) for k, v in sidecar.get("metrics", {}).items()},
        state_dict=state_dict,
        extra=dict(sidecar.get("extra", {})),
        eval_input_size=_eval_size(sidecar, model_config, source),
    )


def _eval_size(sidecar: dict[str, Any], model_config: ModelConfig, source: Path) -> int | None:
    """The sidecar's `input_size` when it differs from the training side; one line when it is no size."""
    size = sidecar.get("input_size", model_config.input_size)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise AegroupError(f"{source}: field 'input_size': {size!r} is not a positive whole number")
    return None if size == model_config.input_size else size


def load_training_state(path: str | Path) -> dict[str, Any]:
    """Load `state.pt` with `weights_only=True`: tensors and plain containers, never arbitrary objects."""
    folder = find_checkpoint(path)
    sidecar = read_sidecar(folder)
    if STATE not in sidecar.get("files", {}):
        raise AegroupError(f"{folder}: checkpoint holds no training state ({STATE}); it cannot be resumed")
    data = _read_blob(folder, STATE, sidecar)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise AegroupError(f"{folder / STATE}: refused to load training state ({first})") from None
    if not isinstance(state, dict):
        raise AegroupError(f"{folder / STATE}: training state is not a mapping")
    return state


def pick_device(spec: str | torch.device = "auto") -> torch.device:
    """'auto' -> the first CUDA device when present, else the CPU; other values as torch understands them."""
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AegroupError(f"device '{spec}' was asked for but CUDA is not available")
    return device


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, Checkpoint]:
    """Rebuild the model of a checkpoint, load its weights, move it to `device`, in eval mode."""
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint.model_config)
    try:
        model.load_state_dict(checkpoint.state_dict, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise AegroupError(
            f"{checkpoint.path / WEIGHTS}: weights do not fit the model config ({first})"
        ) from None
    return model.to(pick_device(device)).eval(), checkpoint


def capture_rng() -> dict[str, Any]:
    """Every RNG state that training touches, as tensors and plain values (weights-only loadable)."""
    version, mt, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "mt": list(mt), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore RNG states captured by `capture_rng`."""
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    np.random.set_state(
        ("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["mt"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
