"""Everything one training process holds: data, model, optimiser, progress; built fresh or from `last/`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from aegroup.errors import AegroupError
from aegroup.model import ModelConfig, build_model
from aegroup.schema import PoseSchema
from aegroup.training.checkpoint import (
    capture_rng,
    find_checkpoint,
    load_checkpoint,
    load_training_state,
    restore_rng,
    save_checkpoint,
    unwrap,
)
from aegroup.training.config import TrainConfig, save_resolved
from aegroup.training.distributed import DistEnv, ResumableSampler, on_main, wrap_model
from aegroup.training.loaders import open_data
from aegroup.training.optim import build_optimizer

LAST = "last"
BEST = "best"
RESOLVED_CONFIG = "config.yaml"


@dataclass
class RunState:
    """Where a run stands; saved in every resumable checkpoint and restored by `--resume`."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    images: int = 0
    seconds: float = 0.0
    best_ap: float = -1.0
    best_step: int = -1
    metrics: dict[str, float] = field(default_factory=dict)
    best_metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Rebuild from `asdict` output (as stored in state.pt)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class Session:
    """One process's training objects; `model` is the DDP-wrapped module when distributed."""

    config: TrainConfig
    env: DistEnv
    device: torch.device
    schema: PoseSchema
    model_config: ModelConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    loader: DataLoader
    sampler: ResumableSampler
    val: DataLoader | None
    val_truth: dict[str, Any] | None
    """The validation frames' labels as a COCO dict (what validation scores against)."""
    steps_per_epoch: int
    total_steps: int
    autocast: dict[str, Any]
    state: RunState
    notes: list[str] = field(default_factory=list)
    """Lines about how the data was opened, for the run's log."""

    @property
    def out(self) -> Path:
        """The run's output folder."""
        return self.config.output_dir


def autocast_args(config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """Keyword arguments of `torch.autocast` for the configured mixed precision on this device."""
    if config.mixed_precision == "fp16" and device.type != "cuda":
        raise AegroupError("field 'mixed_precision': 'fp16' needs a CUDA device; use 'bf16' on the CPU")
    dtype = torch.float16 if config.mixed_precision == "fp16" else torch.bfloat16
    return {"device_type": device.type, "dtype": dtype, "enabled": config.mixed_precision != "no"}


def build_session(config: TrainConfig, env: DistEnv, device: torch.device, resume: bool) -> Session:
    """Open the data, build model and optimiser; restore `last/` when resuming, else load `init_from`."""
    schema = config.resolve_schema()
    model_config = config.resolve_model(schema.num_joints)
    data = open_data(config, schema, env, pin_memory=device.type == "cuda")
    # The resolved eval side is saved in config.yaml and in every checkpoint (what `predict` resizes to).
    config = config.model_copy(update={"eval_input_size": data.eval_input_size})
    loader, sampler = data.loader, data.sampler
    steps_per_epoch = math.ceil(sampler.per_epoch / config.batch_size)
    total = config.max_steps or config.epochs * steps_per_epoch
    # The same seed on every rank gives identical initial weights (DDP also broadcasts rank 0's).
    torch.manual_seed(config.seed)
    model = build_model(model_config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer, scheduler = build_optimizer(model, config.optim, total)
    scaler = torch.amp.GradScaler(device.type, enabled=config.mixed_precision == "fp16")
    session = Session(
        config=config,
        env=env,
        device=device,
        schema=schema,
        model_config=model_config,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        loader=loader,
        sampler=sampler,
        val=data.val,
        val_truth=data.val_truth,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        autocast=autocast_args(config, device),
        state=RunState(),
        notes=data.notes,
    )
    saved = on_main(lambda: _read_last(config, schema, model_config, resume), env)
    if saved is not None:
        _restore(session, *saved)
    elif config.init_from is not None:
        # Rank 0 loads; DistributedDataParallel hands its weights to the other ranks when it wraps the model.
        on_main(lambda: _init_weights(model, config.init_from, schema, model_config), env)  # type: ignore[arg-type]
        session.notes.append(f"weights from {config.init_from}")
    if env.is_main:
        save_resolved(config, config.output_dir / RESOLVED_CONFIG, model_config)
    session.model = wrap_model(model, env, device)
    return session


def _read_last(
    config: TrainConfig, schema: PoseSchema, model_config: ModelConfig, resume: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """Rank 0: weights and training state of `last/` when resuming; refuses to overwrite a run otherwise."""
    last = config.output_dir / LAST
    if not resume:
        if (last / "checkpoint.json").exists() or (config.output_dir / f".{LAST}.old").exists():
            raise AegroupError(
                f"{config.output_dir}: holds a previous run; "
                "pass --resume to continue it or choose another --out"
            )
        return None
    try:
        folder = find_checkpoint(last)
    except AegroupError:
        raise AegroupError(f"{last}: no checkpoint to resume from (run without --resume first)") from None
    checkpoint = load_checkpoint(folder)
    if checkpoint.schema != schema:
        raise AegroupError(
            f"{folder}: was trained on skeleton '{checkpoint.schema.name}', not '{schema.name}'"
        )
    if checkpoint.model_config != model_config:
        raise AegroupError(
            f"{folder}: field 'model' differs from the config's model; resume with the same model"
        )
    return checkpoint.state_dict, load_training_state(folder)


def _init_weights(model: torch.nn.Module, path: Path, schema: PoseSchema, model_config: ModelConfig) -> None:
    """Load a checkpoint's weights into the model; refuses another skeleton or other model sizes."""
    checkpoint = load_checkpoint(path)
    if checkpoint.schema.joints != schema.joints:
        raise AegroupError(
            f"{checkpoint.path}: was trained on the joints of '{checkpoint.schema.name}' "
            f"({', '.join(checkpoint.schema.joints)}), not those of '{schema.name}' "
            f"({', '.join(schema.joints)})"
        )
    theirs = checkpoint.model_config.model_dump(exclude={"input_size"})
    ours = model_config.model_dump(exclude={"input_size"})
    differ = [f"{key} {theirs[key]} (config: {ours[key]})" for key in ours if theirs.get(key) != ours[key]]
    if differ:
        raise AegroupError(
            f"{checkpoint.path}: field 'model' differs from the config's: {', '.join(differ)}; "
            "set the same sizes under 'model:' to start from it"
        )
    model.load_state_dict(checkpoint.state_dict)


def _restore(session: Session, weights: dict[str, torch.Tensor], saved: dict[str, Any]) -> None:
    """Load weights, optimiser, scheduler, scaler, RNG and position from a resumable checkpoint."""
    session.model.load_state_dict(weights)
    session.optimizer.load_state_dict(saved["optimizer"])
    session.scheduler.load_state_dict(saved["scheduler"])
    session.scaler.load_state_dict(saved["scaler"])
    restore_rng(saved["rng"])
    session.state = RunState.from_dict(saved["progress"])


def training_state(session: Session) -> dict[str, Any]:
    """Optimiser, scheduler, scaler, RNG and position: the `state.pt` of a resumable checkpoint."""
    return {
        "optimizer": session.optimizer.state_dict(),
        "scheduler": session.scheduler.state_dict(),
        "scaler": session.scaler.state_dict(),
        "rng": capture_rng(),
        "progress": asdict(session.state),
    }


def save(session: Session, name: str, resumable: bool) -> Path:
    """Rank 0 writes checkpoint `out/<name>` (with training state when `resumable`)."""
    state = session.state
    return save_checkpoint(
        session.out / name,
        unwrap(session.model),
        session.schema,
        session.model_config,
        session.config.decode,
        epoch=state.epoch,
        step=state.step,
        metrics=state.metrics,
        training_state=training_state(session) if resumable else None,
        extra={"train_config": session.config.model_dump(mode="json", by_alias=True)},
        eval_input_size=session.config.eval_input_size,
    )
