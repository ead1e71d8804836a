"""`train(config)`: the training loop with progress, logs, periodic validation and resumable checkpoints."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from aegroup.errors import AegroupError
from aegroup.loss import total_loss
from aegroup.model import ModelOutput
from aegroup.training.checkpoint import unwrap
from aegroup.training.config import TrainConfig
from aegroup.training.distributed import (
    all_reduce_mean,
    detect_env,
    init_distributed,
    shutdown_distributed,
    sync_buffers,
    training_device,
)
from aegroup.training.logs import TRAIN_LOG, VAL_LOG, RunLog, truncate_log
from aegroup.training.session import BEST, LAST, Session, build_session, save
from aegroup.training.validate import validate


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left and measured."""

    output_dir: Path
    checkpoint: Path
    """The checkpoint to use: `best/` when the run validated, else `last/`."""
    best_checkpoint: Path | None
    last_checkpoint: Path
    metrics: dict[str, float]
    """Metrics of the best validation (AP, AP50, ...), or {} without a val set."""
    images_per_s: float
    """Training throughput over all processes (validation and checkpointing excluded)."""
    seconds: float
    steps: int
    epochs: int


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Train as configured (under torchrun: one process per device, DDP); `resume` continues `out/last`."""
    env = detect_env()
    device = training_device(config.device, env)
    owns_group = not dist.is_initialized()
    init_distributed(env, device)
    try:
        session = build_session(config, env, device, resume)
        return fit(session)
    finally:
        if owns_group:
            shutdown_distributed()


def fit(session: Session) -> TrainResult:
    """Run the epochs from the session's position to the last step; rank 0 logs and checkpoints."""
    state, config, env = session.state, session.config, session.env
    if env.is_main:
        for name in (TRAIN_LOG, VAL_LOG):
            truncate_log(session.out / name, state.step)
    log = RunLog(session.out, env.is_main, session.total_steps, state.step)
    try:
        log.message(
            f"training {session.total_steps} steps ({session.steps_per_epoch} per epoch, "
            f"{env.world_size} process(es) x batch {config.batch_size}) on {session.device}; "
            f"output in {session.out}"
        )
        for note in session.notes:
            log.message(note)
        while state.step < session.total_steps:
            run_epoch(session, log)
            if state.batch >= session.steps_per_epoch:
                state.epoch, state.batch = state.epoch + 1, 0
            finished = state.step >= session.total_steps
            sync_buffers(unwrap(session.model), env)
            if session.val is not None and (finished or state.epoch % config.val_every == 0):
                run_validation(session, log)
            if env.is_main:
                save(session, LAST, resumable=True)
    except KeyboardInterrupt:
        log.message(
            f"interrupted at step {state.step}; --resume continues from the last checkpoint in {LAST}/"
        )
        raise
    finally:
        log.close()
    return _result(session)


def run_epoch(session: Session, log: RunLog) -> None:
    """Train from the current position to the end of the epoch (or the last step)."""
    state, config = session.state, session.config
    session.sampler.set_position(state.epoch, state.batch * config.batch_size)
    unwrap(session.model).train()
    tick = time.perf_counter()
    for batch in session.loader:
        losses = train_step(session, batch)
        now = time.perf_counter()
        images = batch["image"].shape[0] * session.env.world_size
        state.seconds += now - tick
        state.images += images
        state.step += 1
        state.batch += 1
        row = {
            "step": state.step,
            "epoch": epochs_done(session),
            "lr": session.scheduler.get_last_lr()[0],
            **losses,
            "images_per_s": state.images / max(state.seconds, 1e-9),
            "elapsed_s": state.seconds,
        }
        log.step(row, write_row=state.step % config.log_every == 0 or state.step == session.total_steps)
        if session.env.is_main and state.step % config.checkpoint_every == 0:
            save(session, LAST, resumable=True)
        if state.step >= session.total_steps:
            break
        tick = time.perf_counter()


def train_step(session: Session, batch: dict[str, Any]) -> dict[str, float]:
    """One optimiser step on a batch; returns the loss terms averaged over ranks."""
    device, config = session.device, session.config
    images = batch["image"].to(device, non_blocking=True)
    heatmaps, mask, joints = (batch[k].to(device, non_blocking=True) for k in ("heatmaps", "mask", "joints"))
    with torch.autocast(**session.autocast):
        output = session.model(images)
    # The loss runs in float32: exp() of tag distances is fragile in half precision.
    output = ModelOutput([h.float() for h in output.heatmaps], [t.float() for t in output.tags])
    terms = total_loss(output, heatmaps, mask, joints, config.loss)
    session.optimizer.zero_grad(set_to_none=True)
    session.scaler.scale(terms.total).backward()
    if config.optim.grad_clip is not None:
        session.scaler.unscale_(session.optimizer)
        torch.nn.utils.clip_grad_norm_(session.model.parameters(), config.optim.grad_clip)
    session.scaler.step(session.optimizer)
    session.scaler.update()
    session.scheduler.step()
    values = torch.stack([terms.total, terms.heatmap, terms.push, terms.pull]).detach()
    total, heat, push, pull = all_reduce_mean(values, session.env).tolist()
    if not math.isfinite(total):
        raise AegroupError(
            f"training diverged: loss is {total} at step {session.state.step + 1}; lower 'optim.lr' "
            f"(now {config.optim.lr}) or set 'optim.grad_clip'"
        )
    return {"loss": total, "heatmap": heat, "push": push, "pull": pull}


def run_validation(session: Session, log: RunLog) -> None:
    """Validate, track the best AP and (rank 0) save `best/` when it improves."""
    assert session.val is not None
    state, config = session.state, session.config
    assert session.val_truth is not None
    metrics = validate(
        unwrap(session.model),
        session.val,
        session.val_truth,
        session.schema,
        config.val_method,
        config.decode,
        session.env,
        session.device,
        session.autocast,
        session.model_config.output_stride,
    )
    unwrap(session.model).train()
    state.metrics = metrics
    ap = metrics.get("AP", float("nan"))
    improved = ap > state.best_ap
    if improved:
        state.best_ap, state.best_step, state.best_metrics = ap, state.step, metrics
    log.validation(state.step, epochs_done(session), metrics, state.best_ap)
    if improved and session.env.is_main:
        save(session, BEST, resumable=False)


def epochs_done(session: Session) -> float:
    """Epochs completed so far, fractional within an epoch."""
    state = session.state
    return round(state.epoch + state.batch / session.steps_per_epoch, 4)


def _result(session: Session) -> TrainResult:
    state, out = session.state, session.out
    best = out / BEST if state.best_step >= 0 else None
    return TrainResult(
        output_dir=out,
        checkpoint=best or out / LAST,
        best_checkpoint=best,
        last_checkpoint=out / LAST,
        metrics=dict(state.best_metrics),
        images_per_s=state.images / max(state.seconds, 1e-9),
        seconds=state.seconds,
        steps=state.step,
        epochs=state.epoch,
    )
